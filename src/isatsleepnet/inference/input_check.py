"""What a model knows, said next to what it outputs: warnings for one staged recording.

Two kinds, both computed from the model file's ``training`` record, never from the
recording's labels:

* provenance: a model trained on recordings made by `synth` stages anything, but its
  hypnogram of a person's night is not sleep staging
  (:func:`~isatsleepnet.data.synthetic.marker.synthetic_training_warning`);
* foreign input: the recording's epochs lie outside the stored description of the
  training inputs (:mod:`isatsleepnet.data.input_profile`).

Models saved before these records existed carry neither and get no warning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from isatsleepnet.data.epochs import unusable_epochs
from isatsleepnet.data.input_profile import InputProfile, assess


def recording_warnings(model_meta: dict[str, Any], epochs: np.ndarray, fs: float) -> list[str]:
    """Warnings about staging ``epochs`` (µV, n x channels x samples at ``fs`` Hz) with this model.

    Parameters
    ----------
    model_meta
        The model's fields as a :class:`~isatsleepnet.inference.predictor.Predictor`
        holds them (``training`` is the part read here); the same for .pt and ONNX.
    epochs
        The epochs to be staged, in the model's channel order. Epochs holding
        non-finite or absurd samples are left out of the comparison (staging skips them too).
    fs
        Their sampling rate (the model's).

    Returns
    -------
    list of str
        The synthetic-training warning first (if any), then the input warnings.

    Examples
    --------
    >>> recording_warnings({"training": {"synthetic_recordings": 3, "real_recordings": 0}},
    ...                    np.zeros((2, 1, 3000)), 100.0)
    ['this model was trained on synthetic recordings (3 of 3): its stages of a real recording are not sleep staging']
    >>> recording_warnings({"training": {}}, np.zeros((2, 1, 3000)), 100.0)
    []
    """
    from isatsleepnet.data.synthetic.marker import synthetic_training_warning  # the generator's package: lazily

    training = model_meta.get("training") or {}
    warnings = []
    synthetic = synthetic_training_warning(training)
    if synthetic:
        warnings.append(synthetic)
    stored = training.get("input_profile")
    if stored:
        epochs = np.asarray(epochs)
        usable = ~unusable_epochs(epochs) if epochs.ndim == 3 else slice(None)
        warnings += assess(InputProfile.from_dict(stored), epochs[usable], fs)
    return warnings
