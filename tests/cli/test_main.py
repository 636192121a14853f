import os
import subprocess
import sys

import pytest

from isatsleepnet.cli.main import SUBCOMMANDS, main


def test_top_level_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name.replace("_", "-") in out


def test_top_level_help_names_stage_in_the_typical_flow(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    description = " ".join(capsys.readouterr().out.split("positional arguments")[0].split())
    assert "Typical flow: prepare -> train/cv -> evaluate -> stage new recordings" in description
    assert "`stage` new EDF/BDF recordings" in description
    assert "`download` a public Sleep-EDF dataset first" in description


@pytest.mark.parametrize("command", [name.replace("_", "-") for name in SUBCOMMANDS])
def test_every_subcommand_explains_its_options(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: isatsleepnet " + command in out
    options = [line.split()[0] for line in out.splitlines() if line.startswith("  --") and line.split()[0] != "--help"]
    assert options, "no options documented"


def test_debug_and_verbose_work_before_or_after_the_command(tmp_path, capsys):
    """Before: `isatsleepnet stage ... --debug` was "unrecognized arguments"; only `isatsleepnet --debug stage`."""
    from isatsleepnet.errors import IsatSleepNetError

    assert main(["model-info", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"isatsleepnet model-info: error: {tmp_path}: a folder, not a model file"
    for argv in (["--debug", "model-info", str(tmp_path)], ["model-info", str(tmp_path), "--debug"]):
        with pytest.raises(IsatSleepNetError, match="a folder, not a model file"):  # --debug: the traceback
            main(argv)
    assert main(["model-info", str(tmp_path), "--verbose"]) == 2
    with pytest.raises(SystemExit):
        main(["stage", "--help"])
    assert "--debug" in capsys.readouterr().out


def test_a_command_builds_its_own_parser_alone():
    import argparse

    from isatsleepnet.cli.main import build_parser, command_module

    for name in SUBCOMMANDS:
        command = name.replace("_", "-")
        parser = build_parser(command_module(["--verbose", command, "--help"]))
        choices = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
        assert list(choices) == [command]
    assert command_module(["--help"]) is None and command_module(["stag"]) is None  # all, to list them
    probe = subprocess.run([sys.executable, "-c", "import sys; from isatsleepnet.cli.main import build_parser, "
                            "command_module; build_parser(command_module(['model-info', 'm.onnx'])).parse_args("
                            "['model-info', 'm.onnx']); print(sorted(m for m in sys.modules if m.startswith("
                            "'isatsleepnet.cli.') and m.split('.')[-1] in " + repr(SUBCOMMANDS) + "))"],
                           capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == "['isatsleepnet.cli.model_info']", probe.stderr


def test_console_script_error_is_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "isatsleepnet.cli.main", "prepare", "--dataset", "sleep-edf-20",
         "--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"isatsleepnet prepare: error: {tmp_path / 'missing'}: data folder not found"


@pytest.mark.parametrize("argv", [
    ["train-gan", "--data", "{missing}", "--out", "{out}"],
    ["augment", "--data", "{missing}", "--out", "{out}", "--mode", "transforms"],
    ["cv", "--data", "{missing}", "--out", "{out}", "--protocol", "kfold", "--folds", "2", "--augment", "gan"],
])
def test_gan_commands_report_a_missing_dataset_in_one_line(argv, tmp_path, capsys):
    missing = tmp_path / "missing"
    code = main([a.format(missing=missing, out=tmp_path / "out") for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err == f"isatsleepnet {argv[0]}: error: {missing}: not a prepared dataset (no recordings/ folder)\n"
    assert not (tmp_path / "out").exists()


def test_cv_gan_options_need_augment_gan(tmp_path, capsys):
    code = main(["cv", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--protocol", "kfold", "--gan-epochs", "3"])
    assert code == 2 and "--gan-epochs needs --augment gan" in capsys.readouterr().err


def test_a_closed_stdout_ends_quietly(tmp_path):
    """Before: `isatsleepnet architectures --settings | head` ended with `error: Broken pipe`."""
    read, write = os.pipe()
    os.close(read)  # the reader (head) is gone before the command writes its first line
    try:
        done = subprocess.run([sys.executable, "-c", "import sys; from isatsleepnet.cli.main import main; "
                               "sys.exit(main(['architectures', '--settings']))"],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert done.stderr == "" and done.returncode == 141


def test_architectures_cite_only_files_of_the_repository(capsys):
    """Before: the output cited "(see SPEC.md)", a file the repository does not have."""
    import re
    from pathlib import Path

    assert main(["architectures"]) == 0
    root = Path(__file__).resolve().parents[2]
    cited = re.findall(r"[\w./-]+\.md\b", capsys.readouterr().out)
    assert cited, "the architectures cite no document"
    for name in cited:
        assert (root / name).is_file() or (root / "docs" / name).is_file(), name
