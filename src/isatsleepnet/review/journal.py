"""The review's journal: one JSON line per edit, on disk before the edit is acknowledged.

Why a journal and not a rewritten file: a rewrite that a kill interrupts can lose the
whole review, and a rewritten file keeps no history to undo. Each edit is appended as
one line, flushed and ``fsync``'d; reopening replays the lines. A kill in the middle of
a write leaves at most a cut last line, which :meth:`Journal.open` drops (every line
before it is whole, so every acknowledged edit survives) and reports once. A last line
that is a whole edit without its newline (an editor that strips the final newline, or a
kill between the line and its newline) is an edit, and is kept.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from isatsleepnet.data.labels import STAGES
from isatsleepnet.errors import DataError

ACTIONS = ("set", "undo", "redo")
"""``set`` gives an epoch a stage (the same stage again: accepted as it is); ``undo``/``redo`` step the history."""


@dataclass(frozen=True)
class Edit:
    """One line of the journal: epoch ``epoch`` went from stage ``old`` to ``new``.

    ``version`` counts the edits of the review (the first is 1): an edit is made
    against the version before it, so two tabs cannot overwrite each other unseen.
    ``time`` is ISO 8601 in UTC; ``reviewer`` who made it. ``epoch`` is the epoch's
    row in the staged CSV; ``onset_s`` its onset (seconds from the recording's start)
    and ``recording_sha1`` the staged recording's SHA1 bind the edit to that epoch of
    that recording, so that a night staged again (another window, another file under
    the same name) cannot take it to another epoch (journals written before
    2026-12-08 lack them: ``None``).

    Examples
    --------
    >>> line = Edit(1, "2026-12-06T02:00:00Z", "set", 12, "N2", "N1", "ana").to_line()
    >>> line[:60]
    '{"version": 1, "time": "2026-12-06T02:00:00Z", "action": "se'
    >>> Edit.from_line(line).new
    'N1'
    """

    version: int
    time: str
    action: str
    epoch: int
    old: str
    new: str
    reviewer: str
    onset_s: float | None = None
    recording_sha1: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {self.action!r}")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ValueError(f"version must be a whole number of at least 1, not {self.version!r}")
        if isinstance(self.epoch, bool) or not isinstance(self.epoch, int) or self.epoch < 0:
            raise ValueError(f"epoch must be a whole number of at least 0, not {self.epoch!r}")
        for name in ("old", "new"):
            if getattr(self, name) not in STAGES:
                raise ValueError(f"{name} must be one of {', '.join(STAGES)}, not {getattr(self, name)!r}")
        if not isinstance(self.time, str) or not isinstance(self.reviewer, str):
            raise ValueError("time and reviewer must be text")
        if self.onset_s is not None and (isinstance(self.onset_s, bool) or not isinstance(self.onset_s, (int, float))
                                         or not math.isfinite(self.onset_s) or self.onset_s < 0):
            raise ValueError(f"onset_s must be a number of seconds of at least 0, not {self.onset_s!r}")
        if self.recording_sha1 is not None and not isinstance(self.recording_sha1, str):
            raise ValueError(f"recording_sha1 must be text, not {self.recording_sha1!r}")

    def to_line(self) -> str:
        """The edit as one JSON line (no newline)."""
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_line(cls, line: str) -> Edit:
        """The edit of a journal line; ValueError (or KeyError, TypeError) when it is not one."""
        fields = json.loads(line)
        if not isinstance(fields, dict):
            raise ValueError("not a JSON object")
        optional = ("onset_s", "recording_sha1")  # absent from journals written before 2026-12-08
        return cls(**{name: fields.get(name) if name in optional else fields[name]
                      for name in cls.__dataclass_fields__})


class Journal:
    """The append-only file ``NAME.review.jsonl``; open it with :meth:`open`.

    Attributes
    ----------
    path : Path
        The journal file.
    edits : list of Edit
        The edits read when it was opened, then those appended, in order.
    recovered_bytes : int
        Bytes of a cut last line dropped when it was opened (0: the file was whole).
    """

    def __init__(self, path: Path, edits: list[Edit], recovered_bytes: int) -> None:
        self.path = path
        self.edits = edits
        self.recovered_bytes = recovered_bytes

    @classmethod
    def open(cls, path: str | Path) -> Journal:
        """Read the journal at ``path`` (none yet: an empty one), dropping a last line cut by a kill.

        A last line without its newline is kept when it is a whole edit (the newline is then
        written, so the next edit starts a line of its own), and dropped only when it does not
        parse: a kill cuts a line, an editor that strips the final newline does not.
        A damaged line before the last one is not a kill's trace but a changed file: it is
        refused in one line naming the file and the line, and nothing is dropped.

        Examples
        --------
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "n.review.jsonl"
        >>> journal = Journal.open(path)
        >>> journal.append(Edit(1, "2026-12-06T02:00:00Z", "set", 0, "W", "N1", "ana"))
        >>> _ = path.open("a").write('{"version": 2, "ti')  # a kill in the middle of the next line
        >>> again = Journal.open(path)
        >>> len(again.edits), again.recovered_bytes
        (1, 18)
        >>> _ = path.write_text(path.read_text().rstrip("\\n"))  # the final newline stripped: the edit stays
        >>> len(Journal.open(path).edits), path.read_text().endswith("\\n")
        (1, True)
        """
        path = Path(path)
        if not path.exists():
            return cls(path, [], 0)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DataError(path, f"cannot read the review journal ({exc.strerror or exc})") from None
        whole_end = data.rfind(b"\n") + 1  # bytes after the last newline: a line cut by a kill, or unterminated
        edits: list[Edit] = []
        lines = data[:whole_end].split(b"\n")[:-1]
        for number, raw in enumerate(lines, start=1):
            try:
                edit = Edit.from_line(raw.decode("utf-8"))
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:  # the newline comes last: whole
                raise DataError(path, f"line {number} is not an edit of a review ({exc}); the journal was changed "
                                      "by something else than isatsleepnet review") from None
            if edit.version != len(edits) + 1:
                raise DataError(path, f"line {number} has version {edit.version}, expected {len(edits) + 1}")
            edits.append(edit)
        tail = data[whole_end:]
        if not tail:
            return cls(path, edits, 0)
        last = _whole_edit(tail)
        if last is not None:
            if last.version != len(edits) + 1:
                raise DataError(path, f"line {len(lines) + 1} has version {last.version}, expected {len(edits) + 1}")
            with path.open("ab") as handle:  # end the line, so the next edit starts one of its own
                handle.write(b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            return cls(path, [*edits, last], 0)
        with path.open("r+b") as handle:  # drop the cut line, so the next edit starts a whole line
            handle.truncate(whole_end)
            handle.flush()
            os.fsync(handle.fileno())
        return cls(path, edits, len(tail))

    def append(self, edit: Edit) -> None:
        """Write ``edit`` as one line and return once it is on disk (flushed and fsync'd)."""
        if edit.version != len(self.edits) + 1:
            raise ValueError(f"edit version {edit.version} does not follow {len(self.edits)}")
        with self.path.open("ab") as handle:
            handle.write((edit.to_line() + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        self.edits.append(edit)

    def __iter__(self) -> Iterator[Edit]:
        return iter(self.edits)

    def __len__(self) -> int:
        return len(self.edits)


def _whole_edit(raw: bytes) -> Edit | None:
    """The edit that ``raw`` (a last line without its newline) holds, or None when a kill cut it short."""
    try:
        return Edit.from_line(raw.decode("utf-8"))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
