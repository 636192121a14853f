"""The output table drives what `stage` writes: suffixes, write_outputs, --help, flags, Night.write.

The worked example of docs/architecture.md ("Adding an output format") runs here: a test-only
format, ``NAME.stages.txt`` (one letter per staged epoch), is registered with its own writer,
written through the command line with its flag and through ``Night.write``, then removed.
"""

from __future__ import annotations

import dataclasses
import doctest
from pathlib import Path

import pytest

import isatsleepnet.inference.output_formats as output_formats
from isatsleepnet.cli.main import main
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.inference.options import StageOptions
from isatsleepnet.inference.output_formats import (
    OUTPUT_FORMATS,
    OutputFormat,
    formats_on,
    is_output_file,
    output_settings,
    output_suffixes,
    register_output,
    unregister_output,
)
from isatsleepnet.inference.output_writers import OutputContext
from tests.inference import write_night

# the built-in table, pinned here once (other tests read it from the table)
BUILT_IN = {
    "hypnogram_csv": (".hypnogram.csv", None), "hypnogram_json": (".hypnogram.json", None),
    "annotations_edf": (".annotations.edf", "annotations"), "annotations_tsv": (".annotations.tsv", "annotations"),
    "hypnogram_png": (".hypnogram.png", "plots"), "hypnodensity_png": (".hypnodensity.png", "plots"),
    "sleep_stats": (".sleep_stats.json", None), "report": (".report.html", "report"),
}
DEFAULT_ON = [".hypnogram.csv", ".hypnogram.json", ".annotations.edf", ".hypnogram.png", ".hypnodensity.png",
              ".sleep_stats.json", ".report.html"]
LETTERS = {"W": "W", "N1": "1", "N2": "2", "N3": "3", "REM": "R"}


# ---------------------------------------------------------------------------- the worked example's writer
def write_stages_txt(path: Path, context: OutputContext) -> Path:
    """One letter per staged epoch (W, 1, 2, 3, R) on one line."""
    path.write_text("".join(LETTERS[s] for s in context.stage_labels) + "\n")
    return path


STAGES_TXT = OutputFormat("stages_txt", ".stages.txt", write_stages_txt, "one letter per staged epoch (W 1 2 3 R)",
                          setting="stages_txt", default=False, setting_help="write NAME.stages.txt")


@pytest.fixture
def stages_txt():
    register_output(STAGES_TXT)
    yield STAGES_TXT
    unregister_output("stages_txt")


def _stage(*argv: str | Path) -> int:
    return main(["stage", *map(str, argv), "--threads", "1", "--quiet"])


# ---------------------------------------------------------------------------- the built-in table
def test_the_table_holds_every_file_stage_writes():
    assert {name: (f.suffix, f.setting) for name, f in OUTPUT_FORMATS.items()} == BUILT_IN
    assert output_suffixes() == tuple(suffix for suffix, _ in BUILT_IN.values())
    assert [f.suffix for f in StageOptions().formats()] == DEFAULT_ON
    assert [f.suffix for f in formats_on({"annotations": "tsv", "plots": False})] == [
        ".hypnogram.csv", ".hypnogram.json", ".annotations.tsv", ".sleep_stats.json", ".report.html"]
    settings = output_settings()
    assert (settings["annotations"].choices, settings["annotations"].default) == (("edf", "tsv"), "edf")
    assert settings["plots"].default is True and settings["report"].default is True
    assert is_output_file("a/N.hypnogram.json") and is_output_file("N.REPORT.HTML") and not is_output_file("N.edf")


def test_the_examples_of_the_table_modules_run():
    for module in (output_formats, __import__("isatsleepnet.inference.options", fromlist=["x"])):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0


def test_help_lists_every_entry_and_the_flags_come_from_the_settings(capsys):
    with pytest.raises(SystemExit):
        main(["stage", "--help"])
    text = capsys.readouterr().out
    for entry in OUTPUT_FORMATS.values():
        assert f"NAME{entry.suffix}" in text
        assert entry.help.splitlines()[0] in text
    assert "--annotations {edf,tsv,both}" in text and "--no-plots" in text and "--no-report" in text
    # beside each file that can be left out, the flag that does it (not only among the options)
    files = text.split("Channels:")[0]
    assert "(--annotations tsv)" in files and "(off: --no-report)" in files and files.count("(off: --no-plots)") == 2


@pytest.mark.parametrize("bad, message", [
    (OutputFormat("hypnogram_csv", ".other.csv", write_stages_txt, "x"), "already registered"),
    (OutputFormat("csv_copy", ".HYPNOGRAM.csv", write_stages_txt, "x"), "is hypnogram_csv's"),
    (OutputFormat("plots_choice", ".p.txt", write_stages_txt, "x", setting="plots", choice="png"), "is a switch"),
    (OutputFormat("edf_again", ".e.txt", write_stages_txt, "x", setting="annotations", choice="edf"), "is taken"),
])
def test_a_clashing_entry_is_refused(bad, message):
    with pytest.raises(IsatSleepNetError, match=message):
        register_output(bad)
    assert list(OUTPUT_FORMATS) == list(BUILT_IN)


def test_bad_entries_and_settings_are_one_line():
    with pytest.raises(IsatSleepNetError, match="suffix must start with a dot"):
        OutputFormat("x", "txt", write_stages_txt, "x")
    with pytest.raises(IsatSleepNetError, match="writer must be 'module:function'"):
        OutputFormat("x", ".x", "no_colon", "x")
    with pytest.raises(IsatSleepNetError, match="no output format 'nothing'"):
        unregister_output("nothing")
    with pytest.raises(IsatSleepNetError, match="holds 'stages_txt', a setting no output format has"):
        StageOptions(outputs={"stages_txt": True})
    with pytest.raises(IsatSleepNetError, match="holds plots: give it as its own option"):
        StageOptions(outputs={"plots": False})
    with pytest.raises(IsatSleepNetError, match="report must be True or False"):
        StageOptions(report="no")


def test_options_are_frozen_and_check_themselves():
    options = StageOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.plots = False  # type: ignore[misc]
    with pytest.raises(IsatSleepNetError, match="batch_size= must be at least 1"):
        dataclasses.replace(options, batch_size=0)
    with pytest.raises(IsatSleepNetError, match="batch_size= must be a number, not str"):
        StageOptions(batch_size="64")  # type: ignore[arg-type]
    assert dataclasses.replace(options, annotations="both").output_values()["annotations"] == "both"
    with pytest.raises(IsatSleepNetError, match="^assume_unit= must be uV, mV or V, not 'kV'$"):
        StageOptions(assume_unit="kV")
    with pytest.raises(IsatSleepNetError, match="^annotations= must be one of .*, not 'xml'$"):
        StageOptions(annotations="xml")
    with pytest.raises(IsatSleepNetError, match="^outputs= holds 'nope', a setting no output format has"):
        StageOptions(outputs={"nope": True})


# ---------------------------------------------------------------------------- the worked example
def test_a_registered_output_is_written_by_the_command_line_and_night_write(stages_txt, write_edf, model,
                                                                            tmp_path, capsys):
    assert ".stages.txt" in output_suffixes() and is_output_file("n.stages.txt")
    with pytest.raises(SystemExit):
        main(["stage", "--help"])
    text = capsys.readouterr().out
    assert "NAME.stages.txt" in text and "(--stages-txt)" in text and "write NAME.stages.txt" in text

    psg = write_night(write_edf, tmp_path / "n.edf", 4)
    out = tmp_path / "cli"
    assert _stage(psg, "--model", model, "--out", out, "--no-plots", "--no-report") == 0
    assert not (out / "n.stages.txt").exists()  # off by default
    assert _stage(psg, "--model", model, "--out", out, "--no-plots", "--no-report", "--stages-txt") == 0
    letters = (out / "n.stages.txt").read_text()
    stages = [row.split(",")[2] for row in (out / "n.hypnogram.csv").read_text().splitlines()[1:]]
    assert letters == "".join(LETTERS[s] for s in stages) + "\n" and len(stages) == 4
    assert _stage(psg, "--model", model, "--out", out, "--no-plots", "--no-report") == 0
    assert not (out / "n.stages.txt").exists()  # a rerun without it removes the stale file

    import isatsleepnet as isn

    night = isn.load_model(model, threads=1).stage(psg)
    written = night.write(tmp_path / "api", stages_txt=True, plots=False, report=False)
    assert [p.name for p in written] == ["n.hypnogram.csv", "n.hypnogram.json", "n.annotations.edf",
                                         "n.sleep_stats.json", "n.stages.txt"]
    assert (tmp_path / "api" / "n.stages.txt").read_text() == letters
    with pytest.raises(IsatSleepNetError, match="write\\(\\) has no setting stage_txt"):
        night.write(tmp_path / "api", stage_txt=True)


def test_unregistering_removes_the_flag_and_the_suffix(capsys):
    register_output(STAGES_TXT)
    assert unregister_output("stages_txt") is STAGES_TXT
    assert ".stages.txt" not in output_suffixes() and "stages_txt" not in output_settings()
    with pytest.raises(SystemExit):
        main(["stage", "--help"])
    assert "--stages-txt" not in capsys.readouterr().out


@pytest.mark.parametrize("name", ["lights", "trim", "auto_hypnogram"])
def test_a_switch_that_is_not_true_or_false_is_refused_not_read_as_true(name):
    """Before: `model.stage(rec, lights="no")` staged the lights-off window ("no" is true)."""
    from isatsleepnet.errors import SettingError

    with pytest.raises(SettingError, match=f"{name}= must be True or False, not 'no'"):
        StageOptions(**{name: "no"})
    import numpy as np

    assert StageOptions(lights=np.False_).lights == np.False_  # numpy's booleans are booleans
