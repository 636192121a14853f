"""Class-balancing augmentation: Physio-GAN epochs and physiology-aware transforms, training data only."""

from isatsleepnet.augment.balance import MODES, BalancePlan, augment_dataset, plan_balance
from isatsleepnet.augment.transforms import STAGE_TRANSFORMS, transform_epoch

__all__ = ["MODES", "STAGE_TRANSFORMS", "BalancePlan", "augment_dataset", "plan_balance", "transform_epoch"]
