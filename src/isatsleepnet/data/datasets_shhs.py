"""The Sleep Heart Health Study (NSRR): ``shhsV-NNNNNN.edf`` with its NSRR or Profusion XML.

NSRR ships the PSGs in ``polysomnography/edfs/`` and the scorings in
``polysomnography/annotations-events-nsrr/`` (``shhs1-200077-nsrr.xml``) or
``annotations-events-profusion/`` (``shhs1-200077-profusion.xml``); both folders are
searched under the data folder, and the NSRR file is preferred.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from isatsleepnet.data.sources import RecordingSource, SourceError, files_under
from isatsleepnet.errors import DataError, IsatSleepNetError

if TYPE_CHECKING:
    from isatsleepnet.data.prepare_config import PrepareConfig

_EDF = re.compile(r"^(?P<visit>shhs(?P<night>\d))-(?P<subject>\d+)\.edf$", re.I)


def find(data_dir: Path, config: PrepareConfig) -> tuple[list[RecordingSource], list[DataError]]:
    """Every SHHS PSG under ``data_dir`` with its annotation file; the visit is the night.

    Examples
    --------
    >>> sources, errors = find(Path("/data/shhs/polysomnography"), config)  # doctest: +SKIP
    >>> sources[0].recording, sources[0].subject, sources[0].night  # doctest: +SKIP
    ('shhs1-200077', '200077', 1)
    """
    files = files_under(data_dir, (".edf", ".xml"))
    xml_by_stem: dict[str, list[Path]] = defaultdict(list)
    for p in files:
        if p.suffix.lower() == ".xml":
            stem = re.sub(r"-(nsrr|profusion)$", "", p.stem, flags=re.I).lower()
            xml_by_stem[stem].append(p)
    sources, errors = [], []
    for psg in files:
        m = _EDF.match(psg.name)
        if not m:
            continue
        candidates = sorted(xml_by_stem.get(psg.stem.lower(), []), key=lambda p: "profusion" in p.name.lower())
        if not candidates:
            errors.append(SourceError(psg, f"no annotation file {psg.stem}-nsrr.xml or {psg.stem}-profusion.xml found",
                                      recording=psg.stem))
            continue
        sources.append(RecordingSource(psg.stem, psg, candidates[0], m["subject"], int(m["night"]), config.dataset))
    if not sources and not errors:
        raise IsatSleepNetError(f"{data_dir}: no SHHS EDF files (shhs1-NNNNNN.edf) found")
    return sources, errors
