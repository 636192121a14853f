"""Fixtures of the API tests: the session's synthetic night, its tiny model, and the command line's outputs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.api import api_folder, night_and_model


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(PSG, hypnogram, model.pt): a 1-h synthetic night and a tiny model fitted to it."""
    return night_and_model(api_folder(tmp_path_factory))


@pytest.fixture(scope="module")
def model(files):
    import torch

    import isatsleepnet as isn

    threads = torch.get_num_threads()
    yield isn.load_model(files[2], threads=1)  # one thread: no spinning against other work on a shared CPU
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def night(model, files):
    """The night staged with its hypnogram."""
    return model.stage(files[0], hypnogram=files[1])


def stage_cli(*argv: str | Path) -> int:
    """`isatsleepnet stage ...` in this process; its exit code."""
    from isatsleepnet.cli.main import main

    return main(["stage", *map(str, argv), "--threads", "1", "--quiet"])


@pytest.fixture(scope="module")
def cli_out(files, tmp_path_factory) -> Path:
    """What `isatsleepnet stage PSG --hypnogram HYPNOGRAM` writes."""
    import torch

    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("cli")
    assert stage_cli(files[0], "--model", files[2], "--out", out, "--hypnogram", files[1]) == 0
    torch.set_num_threads(threads)
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))
