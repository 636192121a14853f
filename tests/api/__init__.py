"""Shared by the API tests and the API's doctests: a short synthetic night and a tiny model fitted to it.

The model is an untrained tiny ISATSleepNet whose output layer is fitted in
closed form (ridge regression of the night's stages on the network's random
features): stages that follow the night's hypnogram and vary from epoch to
epoch, deterministically, in well under a second instead of a training run.
Only the night it was fitted to is staged sensibly: test data, not a model.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

SLEEP_EDF_NAMES = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")
ROLES = ("eeg", "eeg2", "eog")
PSG, HYPNOGRAM = "SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf"  # what synthetic_night writes


def tiny_model_file(path: Path, psg: Path, hypnogram: Path, *, sampling_rate: float = 100.0, seed: int = 0,
                    sharpness: float = 3.0) -> Path:
    """Save at ``path`` a tiny model for the Sleep-EDF channels whose output layer is fitted to ``psg``'s stages."""
    import torch

    from isatsleepnet.data.readers.hypnogram import read_hypnogram
    from isatsleepnet.inference.predictor import normalize_epochs
    from isatsleepnet.inference.raw import ModelInputs, RawRecording
    from isatsleepnet.model import ISATSleepNet, ModelConfig
    from isatsleepnet.model.file import ModelFile
    from tests.training.conftest import TINY_MODEL

    n_samples = int(round(30.0 * sampling_rate))
    config = {"roles": list(ROLES), "n_samples": n_samples, "sampling_rate": sampling_rate, **TINY_MODEL}
    torch.manual_seed(seed)
    network = ISATSleepNet(ModelConfig(**config)).eval()
    recording = RawRecording.open(psg, ModelInputs(ROLES, SLEEP_EDF_NAMES, sampling_rate, 30.0))
    stages = read_hypnogram(hypnogram).to_epochs(recording.n_epochs, 30.0)
    x = torch.from_numpy(normalize_epochs(recording.read(), "epoch-zscore"))
    with torch.inference_mode():
        features = network.head[:-1](network.sequence_states(x).mean(dim=1)).double()
    mean, std = features.mean(0), features.std(0).clamp(min=1e-9)
    z = torch.cat([(features - mean) / std, torch.ones(len(features), 1, dtype=torch.float64)], dim=1)
    target = 2.0 * torch.nn.functional.one_hot(torch.from_numpy(np.maximum(stages, 0)).long(), 5).double() - 1.0
    target[torch.from_numpy(stages < 0)] = 0.0  # unscored epochs pull towards no stage
    fit = torch.linalg.solve(z.T @ z + torch.eye(z.shape[1], dtype=torch.float64), z.T @ target)
    weight = sharpness * (fit[:-1] / std[:, None]).T  # logits = sharpness * (z @ fit), folded into the layer
    bias = sharpness * (fit[-1] - (mean / std) @ fit[:-1])
    state = network.state_dict()
    state["head.3.weight"], state["head.3.bias"] = weight.float(), bias.float()
    ModelFile(model_config=config, state_dict=state, channels=list(SLEEP_EDF_NAMES), roles=list(ROLES),
              sampling_rate=sampling_rate, epoch_seconds=30.0, normalize="epoch-zscore").save(path)
    return Path(path)


@functools.cache
def night_and_model(folder: Path) -> tuple[Path, Path, Path]:
    """(PSG, hypnogram, model.pt) in ``folder``: a 1-h synthetic night in ``night/`` and a tiny model fitted to it.

    Cached per folder, so that the API's tests and doctests of one session make them once.
    """
    from isatsleepnet.api import synthetic_night

    folder.mkdir(parents=True, exist_ok=True)
    night = synthetic_night(folder / "night", hours=1.0, seed=0)
    model = tiny_model_file(folder / "model.pt", night.psg, night.hypnogram)
    return night.psg, night.hypnogram, model


def api_folder(tmp_path_factory) -> Path:
    """The session's folder of :func:`night_and_model` (one for the API's tests and doctests)."""
    return tmp_path_factory.getbasetemp() / "api"
