"""Where and how a model runs: device, devices and nodes, precision, threads, loader workers.

One :class:`Engine` is resolved and applied in one place for every command that
runs a model (`train`, `cv`, `train-gan`, `augment`, `evaluate`, `stage`,
`demo`), with the same flags everywhere (``--device``, ``--threads``,
``--workers``, ``--precision``; training adds ``--devices`` and
``--num-nodes``). These are machine settings: they are saved beside a run
(``engine.json``) but never in its training configuration, so a run resumed on
another machine compares only what shapes the model.

torch is imported only by the methods that need it: the ONNX backend and the
configuration checks run without it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from isatsleepnet.checks import is_whole, whole_number
from isatsleepnet.cores import default_threads, yield_idle_threads
from isatsleepnet.errors import IsatSleepNetError, SettingError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "32-true", "16-mixed", "bf16-mixed")
"""auto: 16-mixed on CUDA, 32-true elsewhere; the others as Lightning names them."""

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class Engine:
    """The machine a command runs on; the defaults suit a laptop and use a GPU when there is one.

    Examples
    --------
    >>> Engine(device="cpu", threads=2).precision_on("cpu")
    '32-true'
    >>> Engine(device="gpu")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.SettingError: device= must be auto, cpu, cuda, cuda:N or mps, not 'gpu'
    """

    device: str = "auto"  # auto: the first CUDA GPU when there is one, else the CPU
    devices: str | int = "auto"  # training only: devices per node (more than one runs DDP)
    num_nodes: int = 1  # training only
    precision: str = "auto"
    threads: int | None = None  # CPU threads for torch / ONNX Runtime (None: the cores this process may use)
    workers: int = 0  # data-loader worker processes

    def __post_init__(self) -> None:
        """Every setting well-formed, one line naming the setting, before any data is read or torch imported."""
        if not (isinstance(self.device, str) and _DEVICE.match(self.device)):
            raise SettingError("device", f"must be auto, cpu, cuda, cuda:N or mps, not {self.device!r}")
        devices = self.devices
        if not (devices == "auto" or ((isinstance(devices, str) or is_whole(devices))
                                      and str(devices).isdigit() and int(devices) >= 1)):
            raise SettingError("devices", f"must be auto or a number of devices (1 or more), not {devices!r}")
        if is_whole(devices):
            object.__setattr__(self, "devices", int(devices))  # np.int64 kept as an int, for JSON
        if ":" in self.device and str(devices) not in ("auto", "1"):
            raise IsatSleepNetError(f"{{device}} {self.device} names one GPU; {{devices}} {devices} asks for several "
                                    "(use {device} cuda {devices} N)")
        for name, least, optional in (("num_nodes", 1, False), ("threads", 1, True), ("workers", 0, False)):
            value = getattr(self, name)
            if value is None and optional:
                continue
            object.__setattr__(self, name, whole_number(name, value, least=least))  # np.int64 kept as an int
        if self.precision not in PRECISIONS:
            raise SettingError("precision", f"must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")

    # ------------------------------------------------------------------ resolved
    def torch_device(self) -> torch.device:
        """The one device a single-device job (staging, evaluation, a GAN) runs on, checked to exist."""
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise IsatSleepNetError(f"{{device}} {self.device}: this PyTorch sees no CUDA GPU "
                                    "(install a CUDA build, see README)")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise IsatSleepNetError(f"{{device}} {self.device}: only {torch.cuda.device_count()} CUDA device(s)")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise IsatSleepNetError(f"{{device}} {self.device}: MPS is not available here")
        return device

    def precision_on(self, device_type: str) -> str:
        """The precision on a device of this type: ``auto`` is 16-mixed on CUDA and 32-true elsewhere."""
        if self.precision != "auto":
            return self.precision
        return "16-mixed" if device_type == "cuda" else "32-true"

    def autocast_dtype(self, device_type: str) -> Any:
        """The autocast dtype for inference on this device (None: full float32)."""
        precision = self.precision_on(device_type)
        if precision == "32-true":
            return None
        if device_type != "cuda":
            raise IsatSleepNetError(f"{{precision}} {precision} runs on CUDA only when staging or evaluating "
                                    "(use {precision} 32-true or auto on the CPU)")
        import torch

        return torch.float16 if precision == "16-mixed" else torch.bfloat16

    def check_training(self) -> None:
        """Refuse, before any data is read, what training could only fail at (or silently change) later.

        Reduced precision needs CUDA (Lightning would turn 16-mixed into bf16-mixed on a CPU, and the
        test predictions refuse it there), and more than one device per node needs GPUs (several CPU
        "devices" would start DDP processes on one machine, each printing everything).
        """
        on_cuda = self.torch_device().type == "cuda"  # (a named device is checked to exist)
        if not on_cuda and self.precision not in ("auto", "32-true"):
            raise IsatSleepNetError(f"{{precision}} {self.precision} needs a CUDA GPU; on the CPU use auto or 32-true")
        if not on_cuda and str(self.devices) not in ("auto", "1"):
            raise IsatSleepNetError(f"{{devices}} {self.devices} needs GPUs; on the CPU use {{threads}} to use more cores")

    def for_inference(self) -> Engine:
        """The engine of a single-device job in a training run (the test predictions of `cv`)."""
        return dataclasses.replace(self, devices="auto", num_nodes=1)

    def lightning(self) -> dict[str, Any]:
        """Trainer arguments: accelerator, devices, num_nodes and precision."""
        import torch

        if self.device == "auto":
            accelerator, on_cuda = "auto", torch.cuda.is_available()
        elif self.device.startswith("cuda"):
            self.torch_device()  # the same message as staging when there is no GPU
            accelerator, on_cuda = "gpu", True
        else:
            accelerator, on_cuda = self.device, False
        devices: Any = self.devices if self.devices == "auto" else int(self.devices)
        if ":" in self.device:
            devices = [int(self.device.split(":")[1])]
        elif self.devices == "auto" and not on_cuda:
            devices = 1  # several CPU "devices" would start DDP processes on one machine
        return {"accelerator": accelerator, "devices": devices, "num_nodes": self.num_nodes,
                "precision": self.precision_on("cuda" if on_cuda else "cpu")}

    # ------------------------------------------------------------------ applied
    def apply(self) -> None:
        """Set torch's CPU threads; call once, before the work starts.

        ``threads`` None means the cores this process may use (CPU affinity and a
        container's CPU quota), or ``OMP_NUM_THREADS`` when that is fewer
        (:func:`~isatsleepnet.cores.default_threads`), not the machine's core count.
        torch has one thread setting per process: it stays in force for later work
        in the same process until another engine sets it.
        """
        yield_idle_threads()
        import torch

        torch.set_num_threads(self.cpu_threads())

    def cpu_threads(self) -> int:
        """The CPU threads this engine runs with: ``threads``, else :func:`~isatsleepnet.cores.default_threads`."""
        return self.threads or default_threads()

    def single_device(self, command: str) -> None:
        """Refuse ``devices``/``num_nodes`` for a command that runs on one device."""
        if str(self.devices) not in ("auto", "1") or self.num_nodes != 1:
            raise IsatSleepNetError(f"{command} runs on one device: {{devices}} and {{num_nodes}} are for training")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def engine_from(values: dict[str, Any] | None = None, **flags: Any) -> Engine:
    """An Engine from a config file's ``[engine]`` table and flags (None: not given), validated.

    Both are applied at once: the engine is checked as a whole, so a file's setting may need the
    flag that comes with it (``devices`` 2 from the file, ``device`` cuda from a flag).

    Examples
    --------
    >>> engine_from({"threads": 2}, device="cpu", workers=None)
    Engine(device='cpu', devices='auto', num_nodes=1, precision='auto', threads=2, workers=0)
    """
    from isatsleepnet.config import replace_from

    given = {k: v for k, v in flags.items() if v is not None}
    return replace_from(Engine(), {**dict(values or {}), **given}, source="[engine]")
