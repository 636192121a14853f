import numpy as np
import pytest
import torch

from isatsleepnet.data.store import PreparedDataset, write_manifest, write_recording
from isatsleepnet.data.normalize import normalize_epochs
from isatsleepnet.training.data import EpochDataset, balanced_sampler
from isatsleepnet.data.subjects import recordings_of
from isatsleepnet.training.loss import GeneralizedDiceLoss, HybridLoss, generalized_dice_loss, make_loss, soft_macro_f1
from isatsleepnet.training.module import build_optimizer, step_schedule


def test_soft_f1_matches_hard_f1_for_confident_predictions():
    target = torch.tensor([0, 1, 2, 2, 4])
    logits = torch.nn.functional.one_hot(target, 5).float() * 50
    assert soft_macro_f1(logits, target).item() == pytest.approx(1.0, abs=1e-5)
    wrong = torch.nn.functional.one_hot(torch.tensor([1, 0, 2, 2, 4]), 5).float() * 50
    # classes 0 and 1 swapped: F1 0 for both, 1 for 2 and 4 → mean over present classes 0.5
    assert soft_macro_f1(wrong, target).item() == pytest.approx(0.5, abs=1e-5)


def test_hybrid_loss_limits_and_gradient():
    target = torch.tensor([0, 1, 2, 3, 4, 1])
    logits = torch.randn(6, 5, requires_grad=True)
    ce = torch.nn.functional.cross_entropy(logits, target)
    assert HybridLoss(1.0)(logits, target).item() == pytest.approx(ce.item())
    assert HybridLoss(0.0)(logits, target).item() == pytest.approx(1 - soft_macro_f1(logits, target).item())
    weights = torch.tensor([1.0, 5.0, 1.0, 1.0, 1.0])
    weighted = HybridLoss(1.0, weights)(logits, target)
    assert weighted.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, target, weight=weights).item())
    HybridLoss(0.5, weights)(logits, target).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_generalized_dice_weighs_a_rare_stage_as_much_as_a_common_one():
    target = torch.tensor([2] * 9 + [1])  # nine N2, one N1
    sure = torch.nn.functional.one_hot(target, 5).float() * 50
    assert generalized_dice_loss(sure, target).item() == pytest.approx(0.0, abs=1e-5)
    miss_n1 = sure.clone()
    miss_n1[9] = torch.nn.functional.one_hot(torch.tensor(2), 5).float() * 50  # the N1 epoch called N2
    miss_n2 = sure.clone()
    miss_n2[0] = torch.nn.functional.one_hot(torch.tensor(1), 5).float() * 50  # one N2 epoch called N1
    # by hand: weights 1/81 (N2), 1 (N1); missing the one N1 loses its whole class; calling one N2 of nine
    # N1 loses a ninth of N2 and adds a false N1 (2 N1 predictions against 1)
    rare = 1 - 2 * (9 / 81 + 0) / ((10 + 9) / 81 + 1)
    common = 1 - 2 * (8 / 81 + 1) / ((8 + 9) / 81 + (2 + 1))
    assert generalized_dice_loss(miss_n1, target).item() == pytest.approx(rare, abs=1e-4)
    assert generalized_dice_loss(miss_n2, target).item() == pytest.approx(common, abs=1e-4)
    assert rare > 2 * common  # cross entropy would weigh the two mistakes alike
    logits = torch.randn(10, 5, requires_grad=True)
    GeneralizedDiceLoss()(logits, target).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    assert isinstance(make_loss("generalized-dice"), GeneralizedDiceLoss) and isinstance(make_loss("hybrid"), HybridLoss)


def test_the_optimiser_decays_what_the_architecture_regularises():
    from isatsleepnet.model.tinysleepnet import TinySleepNet, TinySleepNetConfig
    from isatsleepnet.training.config import TrainConfig

    net = TinySleepNet(TinySleepNetConfig(filters=8, lstm_hidden=8))
    adam = build_optimizer(net, TrainConfig(optimizer="adam", weight_decay=1e-3))
    assert type(adam) is torch.optim.Adam and not adam.defaults["amsgrad"]
    decayed, free = adam.param_groups
    assert {id(p) for p in decayed["params"]} == {id(p) for p in net.regularized_parameters()}
    assert decayed["weight_decay"] == 1e-3 and free["weight_decay"] == 0.0
    assert len(decayed["params"]) + len(free["params"]) == len(list(net.parameters()))
    ams = build_optimizer(torch.nn.Linear(3, 2), TrainConfig(optimizer="amsgrad", weight_decay=0.5))
    assert ams.defaults["amsgrad"] and ams.param_groups[0]["weight_decay"] == 0.5
    assert type(build_optimizer(torch.nn.Linear(3, 2), TrainConfig())) is torch.optim.AdamW


def test_step_schedule_matches_paper():
    factors = [step_schedule(e, 7, 6, 0.5) for e in range(20)]
    assert factors[:7] == [1.0] * 7
    assert factors[7:13] == [0.5] * 6 and factors[13:19] == [0.25] * 6 and factors[19] == 0.125


def _dataset(tmp_path, nights):
    for name, subject, labels in nights:
        labels = np.array(labels)
        x = np.random.default_rng(len(name)).normal(3.0, 20.0, (len(labels), 2, 100)).astype(np.float32)
        x[:, :, 0] = labels[:, None]  # the label is readable from the first sample
        write_recording(tmp_path, name, x, labels, np.arange(len(labels)) * 30.0,
                        {"subject": subject, "night": 1, "sampling_rate": 10.0, "channels": ["eeg", "eog"], "roles": ["eeg", "eog"]})
    write_manifest(tmp_path)
    return PreparedDataset(tmp_path)


def test_epoch_dataset_streams_across_recordings(tmp_path):
    ds = _dataset(tmp_path, [("a", "s1", [0, 1, 2]), ("b", "s2", [3, 4]), ("c", "s3", [2, 2, 2, 2])])
    data = EpochDataset(recordings_of(ds, ["s1", "s2"]), normalize="none")
    assert len(data) == 5 and list(data.labels) == [0, 1, 2, 3, 4]
    for i in range(5):
        x, y = data[i]
        assert x.shape == (2, 100) and x.dtype == torch.float32 and int(x[0, 0]) == y == i
    assert data.locate(3) == (1, 0)
    z, _ = EpochDataset(recordings_of(ds, ["s3"]), normalize="epoch-zscore")[0]
    assert z.mean(-1).abs().max() < 1e-4 and (z.std(-1, unbiased=False) - 1).abs().max() < 1e-3
    only_eog = EpochDataset(recordings_of(ds, ["s1"]), channels=["eog"], normalize="none")
    assert only_eog[0][0].shape == (1, 100)


def test_balanced_sampler_evens_out_stages(tmp_path):
    ds = _dataset(tmp_path, [("a", "s1", [2] * 90 + [1] * 10)])
    data = EpochDataset(list(ds), normalize="none")
    drawn = data.labels[list(balanced_sampler(data, seed=0))]
    assert 0.35 < (drawn == 1).mean() < 0.65


def test_normalize_none_keeps_microvolts():
    x = np.ones((2, 10), dtype=np.float32) * 7
    assert normalize_epochs(x, "none") is x
