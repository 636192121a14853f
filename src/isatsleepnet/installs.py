"""What the plain install leaves out, and the one line that says how to add it.

``pip install isatsleepnet`` is the staging install: an exported ``.onnx`` model stages,
reviews and describes itself on ONNX Runtime, without PyTorch. Training, export, the GAN
and ``.pt`` models need the ``[train]`` extra (torch, Lightning, the ONNX exporter,
scikit-learn's folds); the Python API's bridges to pandas and MNE need the ``[interop]`` extra.
Asking for one of those without it is one line that names the extra, never a ModuleNotFoundError.

Examples
--------
>>> TRAIN_EXTRA
"pip install 'isatsleepnet[train]'"
>>> is_training_module_missing(ModuleNotFoundError("No module named 'lightning'", name="lightning"))
True
"""

from __future__ import annotations

import importlib.util

from isatsleepnet.errors import IsatSleepNetError

TRAINING_MODULES = ("torch", "lightning", "onnxscript", "onnx", "sklearn", "threadpoolctl")
"""The packages of the ``[train]`` extra that code imports (pyproject.toml lists the same)."""
TRAIN_EXTRA = "pip install 'isatsleepnet[train]'"
INTEROP_EXTRA = "pip install 'isatsleepnet[interop]'"


class NeedsTraining(IsatSleepNetError):
    """Something that needs the ``[train]`` extra was asked of the plain (staging) install."""


def training_installed() -> bool:
    """Whether torch and Lightning can be imported (the ``[train]`` extra is installed).

    Examples
    --------
    >>> isinstance(training_installed(), bool)
    True
    """
    return all(importlib.util.find_spec(name) is not None for name in TRAINING_MODULES[:2])


def needs_training(what: str, *, instead: str = "") -> NeedsTraining:
    """The error for ``what`` (e.g. "`train`") without the ``[train]`` extra; ``instead``: what works without it.

    Examples
    --------
    >>> print(needs_training("`train`"))
    `train` needs PyTorch, which the staging install leaves out: pip install 'isatsleepnet[train]'
    """
    tail = f"; {instead}" if instead else ""
    return NeedsTraining(f"{what} needs PyTorch, which the staging install leaves out: {TRAIN_EXTRA}{tail}")


def require_training(what: str, *, instead: str = "") -> None:
    """Raise :func:`needs_training` unless the ``[train]`` extra is installed."""
    if not training_installed():
        raise needs_training(what, instead=instead)


TORCH_FILE_MAGIC = b"PK\x03\x04"
"""The first bytes of what ``torch.save`` writes (a zip archive): a ``.pt`` model, whatever its name."""


def require_training_for_model(path: object) -> None:
    """A ``.pt`` model file needs torch: without it, one line that points to its ONNX export (and a file
    that is no model at all, one line saying so rather than asking to install torch for it)."""
    if training_installed():
        return
    try:
        with open(str(path), "rb") as handle:
            head = handle.read(len(TORCH_FILE_MAGIC))
    except OSError:
        head = b""
    if head != TORCH_FILE_MAGIC:
        raise IsatSleepNetError(f"{path}: not a model file (an ONNX model from `isatsleepnet export`, or a .pt "
                                "model from `train` or `cv`)")
    require_training(f"{path}: a .pt model", instead="use its ONNX export instead (`isatsleepnet export`, "
                                                      "run where torch is installed)")


def is_training_module_missing(exc: BaseException) -> bool:
    """Whether ``exc`` is an import of a ``[train]`` package that is not installed."""
    name = getattr(exc, "name", None) or ""
    return isinstance(exc, ModuleNotFoundError) and name.split(".")[0] in TRAINING_MODULES


def require_interop(module: str, what: str) -> None:
    """Raise one line naming the ``[interop]`` extra unless ``module`` (pandas, mne) can be imported.

    Examples
    --------
    >>> require_interop("numpy", "Night.to_dataframe")  # installed: nothing happens
    >>> require_interop("not_a_module", "Night.to_x")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.IsatSleepNetError: Night.to_x needs not_a_module, which the staging install leaves out: \
pip install 'isatsleepnet[interop]'
    """
    if importlib.util.find_spec(module) is None:
        raise IsatSleepNetError(f"{what} needs {module}, which the staging install leaves out: {INTEROP_EXTRA}")
