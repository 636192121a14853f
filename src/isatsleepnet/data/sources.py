"""Find the recordings of a dataset on disk and pair each PSG with its hypnogram."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from isatsleepnet.errors import DataError, IsatSleepNetError

_SLEEP_EDF_PSG = re.compile(r"^(?P<code>(?P<study>S[CT])\d(?P<subject>\d\d)(?P<night>\d))[A-Z0-9]{2}-PSG\.edf$", re.I)
_SHHS_EDF = re.compile(r"^(?P<visit>shhs(?P<night>\d))-(?P<subject>\d+)\.edf$", re.I)
_EDF_SUFFIXES = (".edf", ".bdf", ".rec")
# Looked for beside a PSG called STEM.edf, in this order.
_HYPNOGRAM_SUFFIXES = (
    "-hypnogram.edf", "_hypnogram.edf", ".hypnogram.edf",
    "-nsrr.xml", "-profusion.xml", ".xml",
    "-hypnogram.csv", "_hypnogram.csv", ".hypnogram.csv", ".csv",
    "-hypnogram.tsv", "_hypnogram.tsv", ".hypnogram.tsv", ".tsv", ".txt",
)


@dataclass(frozen=True)
class RecordingSource:
    """One night to prepare. ``hypnogram`` None means stages embedded in the PSG's EDF+ annotations."""

    recording: str
    psg: Path
    hypnogram: Path | None
    subject: str
    night: int
    dataset: str


def _files(data_dir: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if data_dir.is_file():
        return [data_dir]
    if not data_dir.is_dir():
        raise IsatSleepNetError(f"{data_dir}: data folder not found")
    return sorted(p for p in data_dir.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def discover(
    dataset: str, data_dir: str | Path, *, subject_pattern: str | None = None
) -> tuple[list[RecordingSource], list[DataError]]:
    """Recordings to prepare, and one error per PSG whose hypnogram cannot be found."""
    data_dir = Path(data_dir)
    if dataset.startswith("sleep-edf"):
        return _sleep_edf(dataset, data_dir)
    if dataset == "shhs":
        return _shhs(data_dir)
    if dataset == "edf":
        return _generic(data_dir, subject_pattern)
    if dataset == "npz":
        return [
            RecordingSource(p.stem, p, None, p.stem, 1, "npz") for p in _files(data_dir, (".npz",))
        ], []
    raise IsatSleepNetError(f"unknown dataset {dataset!r}")


def _sleep_edf(dataset: str, data_dir: Path) -> tuple[list[RecordingSource], list[DataError]]:
    files = _files(data_dir, (".edf",))
    hypnograms: dict[str, list[Path]] = defaultdict(list)
    for p in files:
        if p.name.lower().endswith("-hypnogram.edf"):
            hypnograms[p.name[:6].upper()].append(p)
    sources, errors = [], []
    for psg in files:
        m = _SLEEP_EDF_PSG.match(psg.name)
        if not m:
            continue
        study, subject = m["study"].upper(), int(m["subject"])
        if dataset in ("sleep-edf-20", "sleep-edf-78") and study != "SC":
            continue
        if dataset == "sleep-edf-20" and subject > 19:
            continue
        matches = hypnograms.get(m["code"].upper(), [])
        if len(matches) != 1:
            problem = "no hypnogram" if not matches else f"{len(matches)} hypnograms"
            errors.append(DataError(psg, f"{problem} named {m['code']}??-Hypnogram.edf beside it"))
            continue
        # Subject ids keep the study prefix: SC and ST subjects with one number are different people.
        sources.append(
            RecordingSource(psg.name[:8], psg, matches[0], f"{study}{psg.name[2:5]}", int(m["night"]), dataset)
        )
    if not sources and not errors:
        raise IsatSleepNetError(f"{data_dir}: no Sleep-EDF PSG files (SC4ssNE0-PSG.edf) found")
    return sources, errors


def _shhs(data_dir: Path) -> tuple[list[RecordingSource], list[DataError]]:
    files = _files(data_dir, (".edf", ".xml"))
    xml_by_stem: dict[str, list[Path]] = defaultdict(list)
    for p in files:
        if p.suffix.lower() == ".xml":
            stem = re.sub(r"-(nsrr|profusion)$", "", p.stem, flags=re.I).lower()
            xml_by_stem[stem].append(p)
    sources, errors = [], []
    for psg in files:
        m = _SHHS_EDF.match(psg.name)
        if not m:
            continue
        candidates = sorted(xml_by_stem.get(psg.stem.lower(), []), key=lambda p: "profusion" in p.name.lower())
        if not candidates:
            errors.append(DataError(psg, f"no annotation file {psg.stem}-nsrr.xml or {psg.stem}-profusion.xml found"))
            continue
        sources.append(RecordingSource(psg.stem, psg, candidates[0], m["subject"], int(m["night"]), "shhs"))
    if not sources and not errors:
        raise IsatSleepNetError(f"{data_dir}: no SHHS EDF files (shhs1-NNNNNN.edf) found")
    return sources, errors


def _generic(data_dir: Path, subject_pattern: str | None) -> tuple[list[RecordingSource], list[DataError]]:
    pattern = re.compile(subject_pattern) if subject_pattern else None
    files = [p for p in _files(data_dir, _EDF_SUFFIXES) if "hypnogram" not in p.name.lower()]
    sources = []
    for psg in files:
        hypnogram = find_hypnogram(psg)
        subject, night = psg.stem, 1
        if pattern is not None:
            m = pattern.search(psg.stem)
            if m is None:
                raise IsatSleepNetError(f"--subject-pattern does not match {psg.name}")
            groups = m.groupdict()
            subject = groups.get("subject") or m.group(0)
            night = int(groups["night"]) if groups.get("night") else 1
        sources.append(RecordingSource(psg.stem, psg, hypnogram, subject, night, "edf"))
    if not sources:
        raise IsatSleepNetError(f"{data_dir}: no EDF/BDF files found")
    return sources, []


def find_hypnogram(psg: Path) -> Path | None:
    """The hypnogram beside ``psg`` (STEM-Hypnogram.edf, STEM.xml, STEM.csv, ...), or None."""
    siblings = {p.name.lower(): p for p in psg.parent.iterdir() if p != psg}
    for suffix in _HYPNOGRAM_SUFFIXES:
        hit = siblings.get(psg.stem.lower() + suffix)
        if hit is not None:
            return hit
    return None
