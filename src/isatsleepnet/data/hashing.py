"""File hashes recorded in every prepared recording, to trace it back to its source."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha1_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha1()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
