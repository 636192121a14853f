"""What `stage` is asked to do (:class:`StageOptions`) and what happened to a recording (:class:`StageResult`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isatsleepnet.errors import IsatSleepNetError

ANNOTATION_FORMATS = ("edf", "tsv", "both")


@dataclass
class StageOptions:
    """How to stage. ``hypnograms``: one reference per recording, in order, or ``auto`` to look beside each."""

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

    def validate(self) -> None:
        if self.annotations not in ANNOTATION_FORMATS:
            raise IsatSleepNetError(f"annotations must be one of {', '.join(ANNOTATION_FORMATS)}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise IsatSleepNetError("--min-confidence must lie in [0, 1]")
        if self.batch_size < 1:
            raise IsatSleepNetError("--batch-size must be at least 1")
        ways = [name for name, used in (("--trim", self.trim), ("--lights", self.lights),
                                          ("--start/--end", self.start_s is not None or self.end_s is not None)) if used]
        if len(ways) > 1:
            raise IsatSleepNetError(f"{' and '.join(ways)} choose the span in different ways; use one")
        if self.trim and not (self.hypnograms or self.auto_hypnogram):
            raise IsatSleepNetError("--trim keeps the wake around the expert's sleep: it needs --hypnogram")
        if self.trim_minutes < 0:
            raise IsatSleepNetError("--trim-minutes must not be negative")
        for flag, value in (("--start", self.start_s), ("--end", self.end_s)):
            if value is not None and not math.isfinite(value):
                raise IsatSleepNetError(f"{flag} must be a number of seconds (got {value})")
        if self.start_s is not None and self.start_s < 0:
            raise IsatSleepNetError("--start must not be negative")
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise IsatSleepNetError("--end must come after --start")
        from isatsleepnet.data.labels import STAGE_CODINGS

        if self.stage_codes is not None and self.stage_codes not in STAGE_CODINGS:
            raise IsatSleepNetError(f"--stage-codes must be one of {', '.join(STAGE_CODINGS)}")


@dataclass
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
