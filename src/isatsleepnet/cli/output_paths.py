"""The argparse types of every output option (``--out``, ``export --onnx``): a name, never an empty string.

Why: ``Path("")`` is ``Path(".")``, so ``--out ""`` (an unset shell variable,
``--out "$OUT"``) would quietly write into the current folder. Every command
that writes refuses it while its arguments are parsed, before any work.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _named(value: str, what: str) -> Path:
    if not value.strip():
        blank = "an empty string" if not value else f"blank ({value!r})"
        raise argparse.ArgumentTypeError(f"must name a {what}, not {blank}")
    return Path(value)


def output_folder(value: str) -> Path:
    """Type of an option naming an output folder: the path, or an argparse error for an empty or blank name.

    Examples
    --------
    >>> str(output_folder("staged"))
    'staged'
    >>> output_folder(" ")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must name a folder, not blank (' ')
    """
    return _named(value, "folder")


def output_file(value: str) -> Path:
    """Type of an option naming an output file (``compare --out``, ``export --onnx``), as :func:`output_folder`."""
    return _named(value, "file")
