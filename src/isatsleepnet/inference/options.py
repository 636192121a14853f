"""What `stage` is asked to do (:class:`StageOptions`) and what happened to a recording (:class:`StageResult`).

Both are frozen and check themselves when made (as :class:`~isatsleepnet.model.config.ModelConfig`
does): a bad setting is refused where it is given, in one line; change one with
``dataclasses.replace``, which checks again.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet.data.readers.edf import check_assumed_unit
from isatsleepnet.errors import DataError, IsatSleepNetError, SettingError
from isatsleepnet.inference.output_formats import OutputFormat, SettingValue, formats_on, output_settings

ANNOTATION_FORMATS = ("edf", "tsv", "both")
STAGE_STATUSES = ("staged", "failed")


@dataclass(frozen=True)
class StageOptions:
    """How to stage. ``hypnograms``: one reference per recording, in order, or ``auto`` to look beside each.

    Which files are written: ``annotations``, ``plots`` and ``report`` (the settings of the built-in
    output formats), and ``outputs``, the value of any other setting of
    :data:`~isatsleepnet.inference.output_formats.OUTPUT_FORMATS` by name (a registered format's).

    Examples
    --------
    >>> StageOptions(plots=False).output_values()
    {'annotations': 'edf', 'plots': False, 'report': True}
    >>> StageOptions(min_confidence=2.0)
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.IsatSleepNetError: min_confidence= must lie in [0, 1]
    """

    channels: dict[str, list[str]] = field(default_factory=dict)
    hypnograms: list[Path] | None = None
    auto_hypnogram: bool = False
    start_s: float | None = None
    end_s: float | None = None
    trim: bool = False
    trim_minutes: float = 30.0
    lights: bool = False
    annotations: str = "edf"
    min_confidence: float = 0.6
    assume_unit: str | None = None
    stage_codes: str | None = None  # coding of bare integer stages in the expert's hypnogram: "aasm" | "rk"
    batch_size: int = 64
    plots: bool = True
    report: bool = True
    outputs: Mapping[str, SettingValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "outputs", dict(self.outputs))
        self._check_types()
        self._check()
        self._check_outputs()

    def _check_types(self) -> None:
        """Types a command line's parser would have checked: a one-line error instead of a TypeError later."""
        for name, value, kinds in (("start_s", self.start_s, numbers.Real), ("end_s", self.end_s, numbers.Real),
                                   ("trim_minutes", self.trim_minutes, numbers.Real),
                                   ("min_confidence", self.min_confidence, numbers.Real),
                                   ("batch_size", self.batch_size, numbers.Integral)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
                raise IsatSleepNetError(f"{{{name}}} must be a number, not {type(value).__name__}")
        for name in ("auto_hypnogram", "lights", "trim"):  # "no" would be true: a span the caller did not ask for
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise SettingError(name, f"must be True or False, not {getattr(self, name)!r}")

    def _check_outputs(self) -> None:
        settings = output_settings()
        own = {f.name for f in dataclasses.fields(self)}
        for name, value in self.outputs.items():
            if name in own:
                raise SettingError("outputs", f"holds {name}: give it as its own option, not in outputs")
            if name not in settings:
                raise SettingError("outputs", f"holds {name!r}, a setting no output format has (settings: "
                                              f"{', '.join(settings)})")
            settings[name].check(value)
        for name in own & settings.keys():
            if name != "annotations":  # its own message below, as before
                settings[name].check(getattr(self, name))

    def output_values(self) -> dict[str, SettingValue]:
        """The value of every setting of the output table: this object's own fields, then ``outputs``, else the
        setting's default."""
        own = {f.name for f in dataclasses.fields(self)}
        return {name: getattr(self, name) if name in own else self.outputs.get(name, setting.default)
                for name, setting in output_settings().items()}

    def formats(self) -> list[OutputFormat]:
        """The output formats these options write, in the table's order."""
        return formats_on(self.output_values())

    def _check_hypnogram_files(self) -> None:
        """A reference hypnogram that is not a file is its own one-line error, leading with its name, before any
        recording is staged (read later, it would fail each recording under the recording's name)."""
        if isinstance(self.hypnograms, (str, Path)):
            raise SettingError("hypnograms", f"is a list of files, one per recording, not {self.hypnograms!r}")
        for hypnogram in self.hypnograms or ():
            path = Path(hypnogram)
            if path.is_dir():
                raise DataError(path, "is a folder, not a hypnogram file")
            if not path.is_file():
                raise DataError(path, "file not found")

    def _check(self) -> None:
        if self.annotations not in ANNOTATION_FORMATS:
            raise SettingError("annotations", f"must be one of {', '.join(ANNOTATION_FORMATS)}, "
                                              f"not {self.annotations!r}")
        check_assumed_unit(self.assume_unit)
        if not 0.0 <= self.min_confidence <= 1.0:
            raise IsatSleepNetError("{min_confidence} must lie in [0, 1]")
        if self.batch_size < 1:
            raise IsatSleepNetError("{batch_size} must be at least 1")
        ways = [name for name, used in (("{trim}", self.trim), ("{lights}", self.lights),
                                          ("{start_s}/{end_s}", self.start_s is not None or self.end_s is not None))
                if used]
        if len(ways) > 1:
            raise IsatSleepNetError(f"{' and '.join(ways)} choose the span in different ways; use one")
        if self.trim and not (self.hypnograms or self.auto_hypnogram):
            raise IsatSleepNetError("{trim} keeps the wake around the expert's sleep: it needs {hypnogram}")
        self._check_hypnogram_files()
        if self.trim_minutes < 0:
            raise IsatSleepNetError("{trim_minutes} must not be negative")
        for setting, value in (("start_s", self.start_s), ("end_s", self.end_s)):
            if value is not None and not math.isfinite(value):
                raise IsatSleepNetError(f"{{{setting}}} must be a number of seconds (got {value})")
        if self.start_s is not None and self.start_s < 0:
            raise IsatSleepNetError("{start_s} must not be negative")
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise IsatSleepNetError("{end_s} must come after {start_s}")
        from isatsleepnet.data.labels import STAGE_CODINGS

        if self.stage_codes is not None and self.stage_codes not in STAGE_CODINGS:
            raise IsatSleepNetError(f"{{stage_codes}} must be one of {', '.join(STAGE_CODINGS)}")


@dataclass(frozen=True)
class StageResult:
    """What happened to one recording."""

    recording: str
    path: Path
    status: str  # "staged" | "failed"
    n_epochs: int = 0
    outputs: list[Path] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STAGE_STATUSES:
            raise IsatSleepNetError(f"status must be one of {', '.join(STAGE_STATUSES)}, not {self.status!r}")
