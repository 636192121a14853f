"""Which Sleep-EDF Expanded files each protocol needs: the ``download`` entry of the Sleep-EDF datasets.

Subjects and nights are numbered by the digits of the file names, as PhysioNet and MNE
number the Sleep Cassette study: ``SC4ssN`` and ``ST7ssN`` are subject ``ss``, night ``N``
(so Sleep Telemetry subjects start at 1, where MNE's ``temazepam`` fetcher counts from 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from isatsleepnet.data.download import ChecksumRow, RemoteFile, checksum_table
from isatsleepnet.errors import IsatSleepNetError, SettingError

PROTOCOLS: dict[str, tuple[str, range | None]] = {
    "sleep-edf-20": ("/sleep-cassette/", range(20)),  # Sleep Cassette subjects 0-19, 39 nights
    "sleep-edf-78": ("/sleep-cassette/", None),  # every Sleep Cassette subject: 78, 153 nights
    "sleep-edf-st": ("/sleep-telemetry/", None),  # the 22 Sleep Telemetry subjects, 44 nights
}
"""Dataset -> (study folder in the remote path, subjects of the protocol; None: all of them)."""


def spans(numbers: Iterable[int]) -> str:
    """``0, 1, 2, 5`` -> ``'0-2, 5'``: a set of numbers as a short text for messages.

    Examples
    --------
    >>> spans([0, 1, 2, 5, 7, 8])
    '0-2, 5, 7-8'
    """
    ordered = sorted(set(numbers))
    runs: list[list[int]] = []
    for n in ordered:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def protocol_rows(dataset: str) -> list[ChecksumRow]:
    """Every checksum-table row of ``dataset``'s protocol (both files of each night).

    Examples
    --------
    >>> len({(r.subject, r.night) for r in protocol_rows("sleep-edf-20")})
    39
    >>> len({(r.subject, r.night) for r in protocol_rows("sleep-edf-78")})
    153
    """
    if dataset not in PROTOCOLS:
        raise IsatSleepNetError(f"{dataset!r} is not a Sleep-EDF dataset (known: {', '.join(PROTOCOLS)})")
    folder, subjects = PROTOCOLS[dataset]
    return [row for row in checksum_table("sleep-edfx")
            if folder in row.file.path and (subjects is None or row.subject in subjects)]


def public_files(dataset: str, subjects: Sequence[int] | None = None,
                 nights: Sequence[int] | None = None) -> list[RemoteFile]:
    """The PSG and hypnogram files of ``dataset``, optionally only some subjects and nights.

    A subject or night that is not in the dataset is a one-line error, and so is a
    subject none of whose nights is among ``nights``.

    Examples
    --------
    >>> [f.name for f in public_files("sleep-edf-20", subjects=[13])]
    ['SC4131E0-PSG.edf', 'SC4131EC-Hypnogram.edf']
    >>> len(public_files("sleep-edf-20"))
    78
    >>> public_files("sleep-edf-20", subjects=[20])
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.SettingError: subjects= names 20, not a subject of sleep-edf-20 (it has 0-19)
    """
    rows = protocol_rows(dataset)
    have = {(r.subject, r.night) for r in rows}
    all_subjects = {s for s, _ in have}
    wanted_subjects = set(all_subjects if subjects is None else subjects)
    unknown = sorted(wanted_subjects - all_subjects)
    if unknown:
        raise SettingError("subjects", f"names {spans(unknown)}, not a subject of {dataset} "
                                       f"(it has {spans(all_subjects)})")
    all_nights = {n for _, n in have}
    wanted_nights = set(all_nights if nights is None else nights)
    if wanted_nights - all_nights:
        raise SettingError("nights", f"names {spans(wanted_nights - all_nights)}, not a night of {dataset} "
                                     f"(nights are numbered {spans(all_nights)})")
    if subjects is not None:
        for subject in sorted(wanted_subjects):
            own = {n for s, n in have if s == subject}
            if not own & wanted_nights:
                raise SettingError("nights", f"leaves nothing of subject {subject} of {dataset} "
                                             f"(it has night {spans(own)} only)")
    return [r.file for r in rows if r.subject in wanted_subjects and r.night in wanted_nights]
