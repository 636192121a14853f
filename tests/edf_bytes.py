"""Hand-made EDF/BDF bytes for tests: files edfio would not write (odd rates, bad headers, sparse days).

``write_sparse_edf`` writes a 24-h file of zeros without the disk cost (the
data records are a hole in a sparse file); ``patch_signal_field`` and
``patch_main_field`` overwrite one header field of any EDF, as corrupt or odd
recorders do.
"""

from __future__ import annotations

from pathlib import Path

SIGNAL_FIELDS = {"label": (0, 16), "transducer": (16, 80), "physical_dimension": (96, 8), "physical_min": (104, 8),
                 "physical_max": (112, 8), "digital_min": (120, 8), "digital_max": (128, 8),
                 "prefiltering": (136, 80), "samples_per_record": (216, 8)}
MAIN_FIELDS = {"patient": (8, 80), "recording": (88, 80), "header_bytes": (184, 8), "reserved": (192, 44),
               "n_records": (236, 8),
               "record_duration": (244, 8), "n_signals": (252, 4)}


def n_signals(path: Path) -> int:
    return int(path.read_bytes()[252:256].decode().strip())


def patch_signal_field(path: Path, index: int, name: str, value: str | bytes) -> Path:
    """Overwrite field ``name`` of signal ``index`` (0-based) in the header of ``path``."""
    data = bytearray(path.read_bytes())
    ns = n_signals(path)
    start, width = SIGNAL_FIELDS[name]
    at = 256 + start * ns + width * index
    raw = value if isinstance(value, bytes) else value.encode("latin-1")
    data[at: at + width] = raw.ljust(width)[:width]
    path.write_bytes(bytes(data))
    return path


def patch_main_field(path: Path, name: str, value: str) -> Path:
    data = bytearray(path.read_bytes())
    start, width = MAIN_FIELDS[name]
    data[start: start + width] = value.encode("latin-1").ljust(width)[:width]
    path.write_bytes(bytes(data))
    return path


def _field(value: object, width: int) -> bytes:
    return str(value).encode("latin-1").ljust(width)[:width]


def write_sparse_edf(path: Path, spr: int, record_s: int, n_records: int, impulses: list[int], *, bdf: bool = False,
                     labels: tuple[str, ...] = ("EEG Fpz-Cz",)) -> Path:
    """An EDF+C/BDF+C whose channels ``labels`` hold zeros, and one full-scale sample at each index of
    ``impulses`` of the first channel. The data records are a hole in a sparse file: 24 h at 16 kHz cost nothing."""
    width = 3 if bdf else 2
    ann_spr = 30 if not bdf else 20  # 60 bytes of annotation per record
    digital = (-(2**23), 2**23 - 1) if bdf else (-32768, 32767)
    signals = [(label, "uV", "-3276.8", "3276.7", digital, spr) for label in labels]
    signals.append(("BDF Annotations" if bdf else "EDF Annotations", "", "-1", "1", digital, ann_spr))
    ns = len(signals)
    head = b"".join([
        b"\xffBIOSEMI" if bdf else _field("0", 8), _field("X X X X", 80), _field("Startdate 01-JAN-2020 X X X", 80),
        _field("01.01.20", 8), _field("22.00.00", 8), _field(256 * (ns + 1), 8), _field("BDF+C" if bdf else "EDF+C", 44),
        _field(n_records, 8), _field(record_s, 8), _field(ns, 4),
    ])
    columns = [
        [_field(s[0], 16) for s in signals], [_field("", 80) for _ in signals], [_field(s[1], 8) for s in signals],
        [_field(s[2], 8) for s in signals], [_field(s[3], 8) for s in signals],
        [_field(s[4][0], 8) for s in signals], [_field(s[4][1], 8) for s in signals],
        [_field("", 80) for _ in signals], [_field(s[5], 8) for s in signals], [_field("", 32) for _ in signals],
    ]
    header = head + b"".join(b"".join(col) for col in columns)
    record_bytes = (spr * len(labels) + ann_spr) * width
    with path.open("wb") as f:
        f.write(header)
        f.truncate(len(header) + n_records * record_bytes)  # sparse: zeros that take no disk
        f.seek(len(header) + spr * len(labels) * width)  # record 0's time stamp
        f.write(b"+0\x14\x14\x00")
        top = digital[1].to_bytes(width, "little", signed=True)
        for j in impulses:
            r, k = divmod(j, spr)
            f.seek(len(header) + r * record_bytes + k * width)
            f.write(top)
    return path
