"""The Examples in the docstrings of these modules run, and say what they print."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "isatsleepnet.data.signal",
    "isatsleepnet.data.channels",
    "isatsleepnet.data.derivations",
    "isatsleepnet.data.readers.memory",
    "isatsleepnet.inference.raw",
    "isatsleepnet.data.epochs",
    "isatsleepnet.data.readers.edf_header",
    "isatsleepnet.data.input_profile",
    "isatsleepnet.data.synthetic.marker",
    "isatsleepnet.inference.input_check",
    "isatsleepnet.locking",
    "isatsleepnet.time_axis",
    "isatsleepnet.model.context_plan",
    "isatsleepnet.data.normalize",
    "isatsleepnet.data.subjects",
    "isatsleepnet.data.download",
    "isatsleepnet.data.readers.edf",
    "isatsleepnet.training.folds",
    "isatsleepnet.data.download_sleep_edf",
    "isatsleepnet.data.download_http",
    "isatsleepnet.engine",
    "isatsleepnet.cores",
    "isatsleepnet.cli.output_paths",
    "isatsleepnet.inference.export",
    "isatsleepnet.data.readers.real_time",
    "isatsleepnet.model.architectures",
    "isatsleepnet.model.catalogue",
    "isatsleepnet.model.sequence",
    "isatsleepnet.model.tinysleepnet",
    "isatsleepnet.model.utime",
    "isatsleepnet.model.attnsleep",
    "isatsleepnet.model.attnsleep_config",
    "isatsleepnet.training.windows",
    "isatsleepnet.model.parallel",
    "isatsleepnet.training.config",
    "isatsleepnet.data.datasets",
    "isatsleepnet.data.datasets_generic",
    "isatsleepnet.data.readers.formats",
    "isatsleepnet.data.readers.recording",
    "isatsleepnet.data.readers.hypnogram",
    "isatsleepnet.inference.output_formats",
    "isatsleepnet.inference.output_writers",
    "isatsleepnet.training.split_run",
    "isatsleepnet.status",
    "isatsleepnet.errors",
    "isatsleepnet.references",
    "isatsleepnet.review.journal",
    "isatsleepnet.review.state",
    "isatsleepnet.review.staged",
    "isatsleepnet.review.windows",
    "isatsleepnet.review.overview",
    "isatsleepnet.review.serve",
    "isatsleepnet.review.server",
    "isatsleepnet.cli.flags",
    "isatsleepnet.evaluation.paper",
    "isatsleepnet.api.demo",
    "isatsleepnet.checks",
    "isatsleepnet.training.arguments",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples"


API_MODULES = [
    "isatsleepnet.api.data",
    "isatsleepnet.api.model",
    "isatsleepnet.api.night",
    "isatsleepnet.api.night_epochs",
    "isatsleepnet.api.sources",
    "isatsleepnet.api.views",
]


@pytest.fixture(scope="module")
def api_session(tmp_path_factory):
    """Where the API's examples run: ``night/`` (a 1-h synthetic night) and ``model.pt`` (a tiny model fitted
    to it, tests/api), and the ``model`` and ``night`` (staged with its hypnogram) that method examples use."""
    import numpy as np
    import torch

    import isatsleepnet as isn
    from tests.api import api_folder, night_and_model

    threads = torch.get_num_threads()  # the examples load models with threads=1
    folder = api_folder(tmp_path_factory)
    psg, hypnogram, model_file = night_and_model(folder)
    model = isn.load_model(model_file, threads=1)
    night = model.stage(psg, hypnogram=hypnogram)
    yield folder, {"isn": isn, "np": np, "model": model, "night": night}
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", API_MODULES)
def test_api_examples(name, api_session, monkeypatch):
    folder, globs = api_session
    monkeypatch.chdir(folder)  # the examples name night/SC4001E0-PSG.edf and model.pt, and write beside them
    result = doctest.testmod(importlib.import_module(name), extraglobs=dict(globs),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples"
