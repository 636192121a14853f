"""Status lines go through the ``isatsleepnet`` logger: the command line shows them, a notebook chooses."""

from __future__ import annotations

import doctest
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

import isatsleepnet.status
from isatsleepnet import STAGES
from isatsleepnet.cli.main import main
from isatsleepnet.status import LOGGER_NAME, configure, status_level, status_output, unconfigure
from isatsleepnet.training import context, fit
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.coverage import warn_about_validation
from isatsleepnet.training.folds import Fold


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, level: int | None = None) -> list[str]:
        return [r.getMessage() for r in self.records if level is None or r.levelno == level]


@pytest.fixture
def collect():
    logger = logging.getLogger(LOGGER_NAME)
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    """Both phases of a context model replaced: what is left is train_with_context's own status lines."""
    monkeypatch.setattr(fit, "train_split", lambda *a, **k: tmp_path / "encoder" / "model.pt")
    monkeypatch.setattr(context, "fit_context", lambda *a, **k: tmp_path / "model.pt")


def _phases(tmp_path: Path) -> None:
    fold = Fold(0, ("S1",), ("S2",), ())
    context.train_with_context(None, fold, tmp_path, TrainConfig(model={"context": 5}), progress=False)


def _warn() -> list[str]:
    """The validation warning of a fold whose validation subject holds W epochs only."""
    counts = {"W": 50, **{stage: 0 for stage in STAGES[1:]}}
    dataset = SimpleNamespace(manifest=[{"subject": "S2", "recording": "S2-night", **counts}])
    return warn_about_validation(dataset, [Fold(0, ("S1",), ("S2",), ())], per_fold=False)


def test_library_status_lines_reach_a_handler_on_the_isatsleepnet_logger(collect, stand_in, tmp_path):
    _phases(tmp_path)
    assert collect.lines(logging.INFO) == [f"  phase 1: the per-epoch network -> {tmp_path / 'encoder'}",
                                           f"  phase 2: context over 5 epochs on the frozen network -> "
                                           f"{tmp_path / 'model.pt'}"]
    assert {r.name for r in collect.records} == {"isatsleepnet.training.context"}  # a child of isatsleepnet
    lines = _warn()
    assert lines and collect.lines(logging.WARNING) == lines  # the handler's formatter adds any prefix


def test_a_notebook_user_silences_them_and_keeps_the_warnings(collect, stand_in, tmp_path):
    logging.getLogger("isatsleepnet").setLevel(logging.WARNING)
    _phases(tmp_path)
    _warn()
    assert collect.lines(logging.INFO) == []
    assert collect.lines(logging.WARNING)


def test_the_library_installs_no_handler():
    import isatsleepnet.training.cv  # noqa: F401 - importing the library configures nothing

    logger = logging.getLogger(LOGGER_NAME)
    assert [h for h in logger.handlers if not isinstance(h, Collect)] == []
    assert logger.level == logging.NOTSET and logger.propagate


def test_configured_info_goes_to_stdout_as_printed_and_warnings_to_stderr(stand_in, tmp_path, capsys):
    with status_output(logging.INFO):
        _phases(tmp_path)
        lines = _warn()
    captured = capsys.readouterr()
    assert captured.out == (f"  phase 1: the per-epoch network -> {tmp_path / 'encoder'}\n"
                            f"  phase 2: context over 5 epochs on the frozen network -> {tmp_path / 'model.pt'}\n")
    assert captured.err == "".join(f"warning: {line}\n" for line in lines)
    assert not logging.getLogger(LOGGER_NAME).handlers  # undone after the command


def test_configure_replaces_its_own_handlers(capsys):
    configure(logging.INFO)
    configure(logging.INFO)
    try:
        logging.getLogger("isatsleepnet.x").info("once")
    finally:
        unconfigure()
    assert capsys.readouterr().out == "once\n"


@pytest.mark.parametrize(("flags", "shown"), [([], True), (["--quiet"], False)])
def test_the_cli_quiet_flag_silences_status_lines_not_warnings(flags, shown, monkeypatch, stand_in, tmp_path, capsys):
    import isatsleepnet.cli.demo as demo_cli

    def run(args) -> int:  # the demo command, its work replaced by the library calls above
        _phases(tmp_path)
        _warn()
        return 0

    monkeypatch.setattr(demo_cli, "run", run)
    assert main(["demo", "--out", str(tmp_path / "demo"), *flags]) == 0
    captured = capsys.readouterr()
    assert ("phase 1: the per-epoch network" in captured.out) is shown
    assert "warning: the validation recordings hold no" in captured.err
    assert not logging.getLogger(LOGGER_NAME).handlers


def test_the_cli_verbose_flag_shows_debug_lines(monkeypatch, tmp_path, capsys):
    import isatsleepnet.cli.demo as demo_cli

    monkeypatch.setattr(demo_cli, "run", lambda args: logging.getLogger("isatsleepnet.api.demo").debug("detail") or 0)
    main(["demo", "--out", str(tmp_path / "demo")])
    assert capsys.readouterr().out == ""
    main(["--verbose", "demo", "--out", str(tmp_path / "demo")])
    assert capsys.readouterr().out == "detail\n"


def test_status_level():
    assert status_level(quiet=True, verbose=True) == logging.WARNING  # --quiet wins
    assert status_level(quiet=False) == logging.INFO


def test_examples():
    result = doctest.testmod(isatsleepnet.status, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
