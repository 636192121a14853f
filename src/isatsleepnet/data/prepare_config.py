"""Settings of `isatsleepnet prepare`, with the defaults of the paper and its peers."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass

from isatsleepnet.data.datasets import DATASETS, ROLES, get_dataset
from isatsleepnet.data.labels import STAGE_CODINGS
from isatsleepnet.data.readers.edf import check_assumed_unit
from isatsleepnet.errors import SettingError

__all__ = ["ROLES", "PrepareConfig"]


@dataclass(frozen=True)
class PrepareConfig:
    """How raw recordings become 30-s epochs; checked when made, so a config that exists is usable.

    ``dataset`` names an entry of :mod:`isatsleepnet.data.datasets`, which gives the
    defaults below. ``trim`` None means the dataset's convention: Sleep-EDF nights
    (mostly wake around a short night) are trimmed to ``trim_minutes`` of wake around
    sleep, SHHS and other recordings are kept whole.
    ``eeg``/``eeg2``/``eog`` override the dataset's channel names (labels or their
    aliases, :mod:`isatsleepnet.data.channels`, or derivations ``A-B`` formed from two
    channels, :mod:`isatsleepnet.data.derivations`; several accepted spellings allowed);
    ``["none"]`` leaves a role out.
    ``stage_codes`` ("aasm" or "rk") says how bare integer stages in CSV/TSV/EDF+
    hypnograms are numbered; None takes the dataset's coding, or decides per file and
    refuses an ambiguous one.
    Change a setting with :func:`dataclasses.replace` (or :func:`isatsleepnet.config.replace_from`).
    """

    dataset: str = "sleep-edf-20"
    epoch_seconds: float = 30.0
    sampling_rate: float = 100.0
    trim: bool | None = None
    trim_minutes: float = 30.0
    bandpass: tuple[float, float] | None = None
    notch: float | None = None
    eeg: list[str] | None = None
    eeg2: list[str] | None = None
    eog: list[str] | None = None
    assume_unit: str | None = None
    hypnogram_tolerance_seconds: float = 30.0
    min_hypnogram_coverage: float = 0.5
    subject_pattern: str | None = None
    stage_codes: str | None = None

    def __post_init__(self) -> None:
        for name in ("eeg", "eeg2", "eog"):  # a config file's "C4-M1, C4-A1" or "none": read as the flag reads it
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, [v.strip() for v in value.split(",") if v.strip()])
            elif value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise SettingError(name, f"must name channels (a label, or a list of alternatives), not {value!r}")
        entry = get_dataset(self.dataset)
        if self.trim is not None and not isinstance(self.trim, bool):  # "no" would trim: it is true
            raise SettingError("trim", f"must be True, False or None (the dataset's convention), not {self.trim!r}")
        for name in ("epoch_seconds", "sampling_rate"):
            _positive(name, getattr(self, name))
        if abs(self.epoch_seconds * self.sampling_rate - round(self.epoch_seconds * self.sampling_rate)) > 1e-6:
            raise SettingError("epoch_seconds", f"x {{sampling_rate}} must be a whole number of samples "
                                                f"({self.epoch_seconds:g} s x {self.sampling_rate:g} Hz)")
        _positive("trim_minutes", self.trim_minutes, zero=True)
        _positive("hypnogram_tolerance_seconds", self.hypnogram_tolerance_seconds, zero=True)
        if not 0 <= self.min_hypnogram_coverage <= 1:
            raise SettingError("min_hypnogram_coverage", f"must lie in 0-1, got {self.min_hypnogram_coverage!r}")
        nyquist = self.sampling_rate / 2
        if self.bandpass is not None:
            if not (isinstance(self.bandpass, (list, tuple)) and len(self.bandpass) == 2
                    and all(isinstance(f, (int, float)) and not isinstance(f, bool) for f in self.bandpass)):
                raise SettingError("bandpass", f"must be two frequencies [LOW, HIGH] in Hz, not {self.bandpass!r}")
            low, high = self.bandpass
            if not (math.isfinite(low) and math.isfinite(high)) or low < 0:
                raise SettingError("bandpass", f"must be two frequencies of at least 0 Hz, got {low:g},{high:g}")
            if low >= high:
                raise SettingError("bandpass", f"must be LOW,HIGH with LOW below HIGH, got {low:g},{high:g}")
            if high >= nyquist:
                raise SettingError("bandpass", f"{low:g}-{high:g} Hz must lie below Nyquist ({nyquist:g} Hz at "
                                               f"{self.sampling_rate:g} Hz)")
        if self.notch is not None:
            _positive("notch", self.notch)
            if self.notch >= nyquist:
                raise SettingError("notch", f"{self.notch:g} Hz must lie below Nyquist ({nyquist:g} Hz at "
                                            f"{self.sampling_rate:g} Hz): the signals are filtered at that rate, which "
                                            f"holds nothing at {self.notch:g} Hz to remove; a notch is for "
                                            f"{{sampling_rate}} above {2 * self.notch:g}")
        if entry.needs_eeg and not self.eeg:
            raise SettingError("eeg", f"must name at least one channel (its label): dataset {self.dataset!r} "
                                      "has no fixed channel labels")
        if (entry.channels or entry.needs_eeg) and not self.channels():
            raise SettingError("eeg", "and {eeg2} and {eog} are all 'none': at least one channel must be kept")
        if self.stage_codes is not None and self.stage_codes not in STAGE_CODINGS:
            raise SettingError("stage_codes", f"must be one of {', '.join(STAGE_CODINGS)} (got {self.stage_codes!r})")
        check_assumed_unit(self.assume_unit)
        if self.subject_pattern is not None:
            _check_subject_pattern(self.subject_pattern, self.dataset)

    @property
    def trims(self) -> bool:
        """Whether nights are trimmed: the ``trim`` setting, else the dataset's convention."""
        return get_dataset(self.dataset).trim if self.trim is None else self.trim

    def channels(self) -> dict[str, list[str]]:
        """Accepted channel labels per role, roles left out removed."""
        base = get_dataset(self.dataset).channels
        chosen: dict[str, list[str]] = {}
        for role in ROLES:
            override = getattr(self, role)
            names = override if override is not None else base.get(role)
            if names and [n.lower() for n in names] != ["none"]:
                chosen[role] = list(names)
        return chosen

    def fingerprint(self) -> str:
        """Hash of the settings that shape the stored epochs, to refuse mixing two preparations."""
        shaping = {k: v for k, v in asdict(self).items() if k not in ("min_hypnogram_coverage",)}
        if self.stage_codes is None:  # the default leaves the fingerprints of earlier preparations as they were
            del shaping["stage_codes"]
        return hashlib.sha1(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _check_subject_pattern(pattern: str, dataset: str) -> None:
    """Refuse a pattern that is no regular expression, has no ``subject`` group, or that ``dataset`` ignores."""
    try:
        groups = re.compile(pattern).groupindex
    except re.error as exc:
        raise SettingError("subject_pattern", f"is not a regular expression ({exc})") from None
    if "subject" not in groups:  # (?P<Subject>...) would take the whole match as the subject
        named = f" (its groups: {', '.join(groups)}; group names are case-sensitive)" if groups else ""
        raise SettingError("subject_pattern", f"has no (?P<subject>...) group{named}")
    if not get_dataset(dataset).subject_pattern:
        readers = ", ".join(name for name, entry in DATASETS.items() if entry.subject_pattern)
        raise SettingError("subject_pattern", f"does not apply to dataset {dataset!r}, whose file names say subject "
                                              f"and night (it applies to {readers})")


def _positive(name: str, value: float, *, zero: bool = False) -> None:
    """Refuse a number that is not finite and above 0 (``zero``: at least 0) in one line naming the setting."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0 or (value == 0 and not zero):
        raise SettingError(name, f"must be a number {'of at least 0' if zero else 'above 0'}, got {value!r}")
