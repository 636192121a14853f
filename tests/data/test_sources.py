"""What is looked for beside a PSG is one table, and every place that says so lists all of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from isatsleepnet.data.datasets import help_lines
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.sources import HYPNOGRAM_SUFFIXES, find_hypnogram, hypnogram_names

ROOT = Path(__file__).resolve().parents[2]


def test_every_name_looked_for_is_listed_and_found_case_ignored(tmp_path):
    listed = hypnogram_names(variants=True)
    for k, suffix in enumerate(HYPNOGRAM_SUFFIXES):
        assert f"STEM{suffix}" in listed
        folder = tmp_path / str(k)
        folder.mkdir()
        (folder / "night.edf").write_bytes(b"")
        (folder / f"night{suffix.upper()}").write_text("W\n")
        assert find_hypnogram(folder / "night.edf") == folder / f"night{suffix.upper()}"


def test_a_psg_without_hypnogram_names_txt_among_what_was_looked_for(tmp_path, write_edf):
    """Before: '(looked for STEM-Hypnogram.edf, STEM.xml, STEM.csv, STEM.tsv beside it, ...)', though STEM.txt is read."""
    write_edf(tmp_path / "night.edf", [("C4-M1", np.zeros(3000 * 4), 100.0, "uV")])
    (result,) = prepare_dataset(tmp_path, tmp_path / "out", PrepareConfig(dataset="edf", eeg=["C4-M1"]),
                                progress=False)
    assert result.error == (f"night.edf: no hypnogram found (looked for {hypnogram_names(variants=True)} beside it, "
                            "case ignored, and for stage annotations inside the EDF+)")
    assert "STEM.txt" in result.error
    (tmp_path / "night.txt").write_text("W\n" * 4)  # and it is read
    (result,) = prepare_dataset(tmp_path, tmp_path / "out", PrepareConfig(dataset="edf", eeg=["C4-M1"], trim=False),
                                progress=False, overwrite=True)
    assert result.status == "prepared", result.error


def test_help_and_readme_list_the_names_from_the_table():
    (edf,) = [line for line in help_lines() if line.startswith("edf ")]
    assert hypnogram_names() in edf and "STEM.txt" in hypnogram_names()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (row,) = [line for line in readme.splitlines() if line.startswith("| `edf` |")]
    assert ", ".join(f"`{name}`" for name in hypnogram_names().split(", ")) in row
