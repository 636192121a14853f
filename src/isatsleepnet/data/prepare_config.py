"""Settings of `isatsleepnet prepare`, with the defaults of the paper and its peers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from isatsleepnet.data.datasets import ROLES, get_dataset
from isatsleepnet.data.labels import STAGE_CODINGS
from isatsleepnet.errors import IsatSleepNetError

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
        entry = get_dataset(self.dataset)
        if self.epoch_seconds <= 0 or self.sampling_rate <= 0:
            raise IsatSleepNetError("epoch_seconds and sampling_rate must be positive")
        if abs(self.epoch_seconds * self.sampling_rate - round(self.epoch_seconds * self.sampling_rate)) > 1e-6:
            raise IsatSleepNetError("epoch_seconds x sampling_rate must be a whole number of samples")
        if self.bandpass is not None:
            low, high = self.bandpass
            if not 0 <= low < high < self.sampling_rate / 2:
                raise IsatSleepNetError(
                    f"bandpass {low:g}-{high:g} Hz must lie below Nyquist ({self.sampling_rate / 2:g} Hz)"
                )
        if self.notch is not None and not 0 < self.notch < self.sampling_rate / 2:
            raise IsatSleepNetError(f"notch {self.notch:g} Hz must lie below Nyquist")
        if entry.needs_eeg and not self.eeg:
            raise IsatSleepNetError(f"dataset {self.dataset!r} has no fixed channel labels: "
                                    "{eeg} must name at least one channel (its label)")
        if self.stage_codes is not None and self.stage_codes not in STAGE_CODINGS:
            raise IsatSleepNetError(
                f"stage_codes must be one of {', '.join(STAGE_CODINGS)} (got {self.stage_codes!r})"
            )

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
