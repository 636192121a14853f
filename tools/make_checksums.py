"""Write the checksum table of Sleep-EDF Expanded kept in the package (``--check``: verify it).

Why a table in the package: ``isatsleepnet download`` must refuse a corrupted or altered
file without trusting the server that sent it, so every file of the dataset needs a known
hash that travels with the code. PhysioNet publishes SHA256SUMS online; MNE-Python ships
the SHA1 of every Sleep-EDF file inside its package (``mne/datasets/sleep_physionet``), and
that is the source here, read offline from the installed MNE. Subject and night come from
the digits of each file name (``SC4ssN``/``ST7ssN``: subject ``ss``, night ``N``) and are
cross-checked against MNE's record tables.

Usage::

    python tools/make_checksums.py          # (re)write src/isatsleepnet/data/checksums/sleep-edfx.csv
    python tools/make_checksums.py --check  # exit 1 if the CSV differs from what would be written
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from importlib import resources
from pathlib import Path

TABLE = Path(__file__).resolve().parents[1] / "src" / "isatsleepnet" / "data" / "checksums" / "sleep-edfx.csv"
FOLDERS = {"SC": "sleep-edfx/1.0.0/sleep-cassette/", "ST": "sleep-edfx/1.0.0/sleep-telemetry/"}
"""Where each study's files lie under https://physionet.org/files/."""
KNOWN_SIZES = {"SC4001E0-PSG.edf": 48338048, "SC4001EC-Hypnogram.edf": 4620}
"""Sizes in bytes measured on copies whose SHA1 matches; the others are left blank."""
COLUMNS = ("path", "sha1", "size", "subject", "night")


def _mne_file(name: str) -> str:
    return resources.files("mne.datasets.sleep_physionet").joinpath(name).read_text(encoding="utf-8")


def _digits(name: str) -> tuple[int, int]:
    """``SC4001E0-PSG.edf`` -> (0, 1): subject from characters 4-5, night from character 6."""
    return int(name[3:5]), int(name[5])


def _mne_records() -> dict[str, tuple[int, int]]:
    """File name -> (subject, night) as MNE's record tables give them (ST subjects by their original number)."""
    records = {}
    for row in csv.DictReader(io.StringIO(_mne_file("age_records.csv"))):
        records[row["fname"]] = (int(row["subject"]), int(row["night"]))
    for row in csv.DictReader(io.StringIO(_mne_file("temazepam_records.csv"))):
        for kind in ("PSG", "Hypnogram"):
            records[row[f"fname_{kind}"]] = (int(row["subject_orig"]), int(row["night nr"]))
    return records


def rows() -> list[dict[str, str]]:
    """One row per Sleep-EDF file, sorted by path; raises SystemExit if MNE's tables disagree."""
    records = _mne_records()
    out = []
    for line in _mne_file("SHA1SUMS").splitlines():
        if not line.strip():
            continue
        sha1, name = line.split()
        folder = FOLDERS.get(name[:2])
        if folder is None or not name.endswith(".edf"):
            sys.exit(f"make_checksums: unexpected file {name!r} in MNE's SHA1SUMS")
        subject, night = _digits(name)
        if records.get(name, (subject, night)) != (subject, night):
            sys.exit(f"make_checksums: {name}: MNE's records say subject/night {records[name]}, "
                     f"the file name says {(subject, night)}")
        out.append({"path": folder + name, "sha1": sha1, "size": str(KNOWN_SIZES.get(name, "")),
                    "subject": str(subject), "night": str(night)})
    return sorted(out, key=lambda row: row["path"])


def table_text() -> str:
    """The CSV text of the table, as written to :data:`TABLE`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows())
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify the table instead of writing it")
    args = parser.parse_args(argv)
    text = table_text()
    if args.check:
        current = TABLE.read_text(encoding="utf-8") if TABLE.is_file() else ""
        if current != text:
            print(f"make_checksums: {TABLE} is out of date; run python tools/make_checksums.py", file=sys.stderr)
            return 1
        print(f"make_checksums: {TABLE.name} is up to date ({text.count(chr(10)) - 1} files)")
        return 0
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(text, encoding="utf-8")
    print(f"make_checksums: wrote {TABLE} ({text.count(chr(10)) - 1} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
