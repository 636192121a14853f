"""Which integer instructions this CPU offers an int8 model: probed when asked, never assumed.

Why: an int8 export (``export --int8``) is faster than its float32 model only where ONNX
Runtime's integer kernels have instructions to run on. With integer dot products (x86 VNNI,
in AVX-512 or AVX; Intel AMX; ARM's SDOT/UDOT or its int8 matrix multiply) they run at
several times the float32 rate; with AVX2 alone they multiply in two steps (``vpmaddubsw``,
``vpmaddwd``) and gain less; without either (SSE-only x86, ARM without the dot product) the
int8 model may stage no faster than the float32 one. :func:`int8_support` reads the CPU's
feature flags (numpy's run-time CPU detection, and on Linux ``/proc/cpuinfo``, which also names
AVX-VNNI and AMX), so a model staged on a laptop, a server or a Raspberry Pi says which case
it is in: ``model-info`` and ``export --int8`` print it, and staging with an int8 model on a
CPU without a fast path warns once.

Examples
--------
>>> int8_support({"avx2", "avx512vnni"}).instructions
'AVX-512 VNNI'
>>> int8_support({"sse41"}).fast
False
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_PATHS = (  # (flags, any of which names the path; what it is; a fast path)
    (("amx_int8",), "AMX (int8 tile products)", True),
    (("avx512vnni", "avx512_vnni"), "AVX-512 VNNI", True),
    (("avx_vnni",), "AVX-VNNI", True),
    (("i8mm",), "ARM int8 matrix multiply (I8MM)", True),
    (("asimddp",), "ARM dot product (SDOT/UDOT)", True),
    (("avx2",), "AVX2 without VNNI (products in two steps: int8 gains less over float32)", True),
)
_WARNED: set[str] = set()


@dataclass(frozen=True)
class Int8Support:
    """The best integer path found: ``instructions`` names it; ``fast`` says whether int8 should beat float32."""

    instructions: str
    fast: bool

    def describe(self) -> str:
        """One line for people: the instructions, and what they mean for an int8 model."""
        if self.fast:
            return f"int8 on this CPU: {self.instructions}"
        return (f"int8 on this CPU: {self.instructions}: no fast integer path (no VNNI, AMX, AVX2 or ARM dot "
                "product); an int8 model may stage no faster than its float32 export")


def cpu_flags() -> set[str]:
    """Lower-case names of the CPU features this process can use (numpy's detection, and /proc/cpuinfo on Linux)."""
    flags: set[str] = set()
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features  # numpy >= 2
    except ImportError:  # numpy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            features = {}
    flags.update(name.lower() for name, present in features.items() if present)
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86, ARM
            flags.update(value.split())
            break  # every core lists the same
    return flags


def int8_support(flags: set[str] | None = None) -> Int8Support:
    """The best integer path among ``flags`` (default: this CPU's, :func:`cpu_flags`).

    Examples
    --------
    >>> int8_support({"neon", "asimd", "asimddp"}).describe()
    'int8 on this CPU: ARM dot product (SDOT/UDOT)'
    """
    flags = cpu_flags() if flags is None else {flag.lower() for flag in flags}
    for names, instructions, fast in _PATHS:
        if flags & set(names):
            return Int8Support(instructions, fast)
    return Int8Support("none found", False)


def warn_if_slow(path: object) -> None:
    """Warn once per process, when an int8 model (``path``) is opened on a CPU without a fast integer path."""
    support = int8_support()
    if not support.fast and "slow" not in _WARNED:
        _WARNED.add("slow")
        logger.warning("%s: %s", path, support.describe())
