"""What `augment` settles before it writes a recording: the seed, the size of what it would write, and whether
OUT continues an earlier run of the same settings.

Why here: an augmented recording takes seconds to minutes, and a dataset many of them; a setting that
would fail or fill the disk is refused before the first one (checks come before long work), and a run
killed half-way is continued by the same command (:data:`RUN_FILE`), ending as an uninterrupted run would.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from isatsleepnet import __version__
from isatsleepnet.errors import IsatSleepNetError, SettingError

MAX_GROWTH = 20
"""The most epochs an augmentation may write, as a multiple of the real epochs of the recordings it augments.

Why 20: every stage is filled to ``ceil(target_ratio x the largest class)``, so five stages make at most
``5 x target_ratio`` times a recording's real epochs (5.75 x at the default 1.15); 20 x admits a
``target_ratio`` of about 4 for the most unbalanced night, and refuses a typo (``1e6``) before it tries to
hold gigabytes in memory."""

RUN_FILE = ".isatsleepnet-augment.json"
"""``OUT/.isatsleepnet-augment.json``: the settings of the run writing OUT, written before its first recording,
so that the same command continues it and another one is refused (the run's own bookkeeping)."""


def check_size(out: Path, target_ratio: float, real: int, planned: int, new_bytes: int) -> None:
    """Refuse an augmentation of more than :data:`MAX_GROWTH` x its real epochs, or one the disk cannot hold.

    ``real`` and ``planned``: epochs of the augmented recordings before and after; ``new_bytes``: what the
    recordings still to write take (those a continued run keeps are not counted).
    """
    if planned > MAX_GROWTH * max(real, 1):
        raise SettingError("target_ratio", f"{target_ratio:g} would make {planned:,} epochs from the {real:,} real "
                                           f"ones of the augmented recordings ({planned / max(real, 1):.0f} x, more "
                                           f"than {MAX_GROWTH} x); the default 1.15 balances the stages")
    folder = next(p for p in (out, *out.absolute().parents) if p.exists())
    free = shutil.disk_usage(folder).free
    if new_bytes > free:
        raise IsatSleepNetError(f"{out}: the augmented recordings need about {new_bytes / 1e9:.1f} GB, but only "
                                f"{free / 1e9:.1f} GB are free there; free space or choose another {{out}}")


def run_settings(settings: dict[str, Any], keep_others: bool) -> dict[str, Any]:
    """What :data:`RUN_FILE` keeps: the settings augment.json records, and what else changes the output."""
    return {**settings, "keep_others": keep_others, "isatsleepnet_version": __version__}


def saved_settings(out: Path) -> dict[str, Any] | None:
    """The settings of the run that wrote ``out`` (None: no run of this kind, or an unreadable record)."""
    try:
        saved = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def check_continues(out: Path, settings: dict[str, Any]) -> None:
    """``out`` holds recordings: refuse unless they come from a run of the same settings (which this one continues)."""
    saved = saved_settings(out)
    if saved is None:
        raise IsatSleepNetError(f"{out} already holds a dataset; choose another {{out}} or pass {{overwrite}}")
    if saved != settings:
        changed = sorted(k for k in {*saved, *settings} if saved.get(k) != settings.get(k))
        raise IsatSleepNetError(f"{out} holds a dataset augmented with other settings (other {', '.join(changed)}); "
                                "run the same command to continue it, or choose another {out} or pass {overwrite}")


def kept_recording(folder: Path, augmentation: dict[str, Any], n_epochs: int) -> bool:
    """Whether ``folder`` is a complete recording augmented as ``augmentation`` says, with ``n_epochs`` epochs:
    a continued run keeps it instead of writing it again (the same settings write the same bytes)."""
    from isatsleepnet.data.store import is_complete

    if not is_complete(folder):
        return False
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return meta.get("augmentation") == augmentation and meta.get("n_epochs") == n_epochs
