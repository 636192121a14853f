"""`isatsleepnet export-npz`: an --out that is a file is refused as by prepare; --quiet."""

from __future__ import annotations

import pytest

from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from tests.conftest import rk_night


@pytest.fixture
def prepared(tmp_path, sleep_edf_night):
    for code in ("SC4001", "SC4012"):
        sleep_edf_night(tmp_path / "raw", code, rk_night(4, 4))
    prepare_dataset(tmp_path / "raw", tmp_path / "prep", PrepareConfig(dataset="sleep-edf"), progress=False)
    return tmp_path / "prep"


def test_export_npz_cli_refuses_a_file_as_out_and_is_quiet(prepared, tmp_path, capsys):
    from isatsleepnet.cli.main import main

    (tmp_path / "afile").write_text("x")
    assert main(["export-npz", "--data", str(prepared), "--out", str(tmp_path / "afile")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"isatsleepnet export-npz: error: {tmp_path / 'afile'}: the output folder is a file, not a folder")
    assert main(["export-npz", "--data", str(prepared), "--out", str(tmp_path / "npz"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out == f"wrote 2 npz file(s) to {tmp_path / 'npz'}\n"
