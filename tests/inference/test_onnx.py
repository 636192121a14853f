"""ONNX export and the onnx staging backend: same probabilities as torch within 1e-4."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from isatsleepnet import STAGES  # noqa: E402
from isatsleepnet.cli.main import main  # noqa: E402
from isatsleepnet.errors import IsatSleepNetError  # noqa: E402
from isatsleepnet.inference.onnx_backend import CHECKSUM_KEY, METADATA_KEY, OnnxRunner, signed  # noqa: E402
from isatsleepnet.inference.onnx_file import content_sha256, metadata_entries, with_metadata  # noqa: E402
from isatsleepnet.inference.options import StageOptions  # noqa: E402
from isatsleepnet.inference.predictor import load_predictor  # noqa: E402
from isatsleepnet.inference.stage import stage_recording  # noqa: E402
from tests.inference import trained_model, write_night  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    """(model.pt, model.onnx) exported through the CLI."""
    from isatsleepnet.cli.export import add_parser

    model = trained_model(tmp_path_factory.getbasetemp())[0]
    onnx_path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["export", "--model", str(model), "--onnx", str(onnx_path)])
    assert args.run(args) == 0
    return model, onnx_path


@pytest.fixture(scope="module")
def predictors(exported):
    import torch

    threads = torch.get_num_threads()
    model, onnx_path = exported
    yield load_predictor(model, threads=1), load_predictor(onnx_path, threads=1)
    torch.set_num_threads(threads)


def test_torch_and_onnx_give_the_same_probabilities(predictors):
    torch_p, onnx_p = predictors
    assert (torch_p.backend, onnx_p.backend) == ("torch", "onnx")
    rng = np.random.default_rng(3)
    epochs = rng.normal(0, 30, (70, 3, 3000)).astype(np.float32)  # more than one batch, a partial last one
    a, b = torch_p.probabilities(epochs, 32), onnx_p.probabilities(epochs, 32)
    assert np.abs(a - b).max() < 1e-4
    np.testing.assert_allclose(b.sum(axis=1), 1.0, atol=1e-6)
    # the raw outputs too, which a near-uniform softmax could hide
    x = epochs[:8]
    from isatsleepnet.data.normalize import normalize_epochs

    la = np.asarray(torch_p._logits(normalize_epochs(x, torch_p.normalize)))
    lb = np.asarray(onnx_p._logits(normalize_epochs(x, onnx_p.normalize)))
    assert np.abs(la - lb).max() < 1e-4 * max(1.0, float(np.abs(la).max()))
    assert float(np.ptp(la, axis=1).mean()) > 0.1  # logits that differ between stages: a meaningful comparison


def test_onnx_file_carries_the_model_metadata(exported, predictors):
    _, onnx_p = predictors
    assert onnx_p.inputs.roles == ("eeg", "eeg2", "eog")
    assert onnx_p.inputs.channels == ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")
    assert onnx_p.inputs.sampling_rate == 100.0 and onnx_p.normalize == "epoch-zscore"
    assert onnx_p.meta["stages"] == list(STAGES)


def test_stage_with_the_onnx_backend_matches_torch(write_edf, predictors, tmp_path):
    psg = write_night(write_edf, tmp_path / "n.edf", 12)
    rows = {}
    for predictor in predictors:
        out = tmp_path / predictor.backend
        stage_recording(psg, predictor, out, StageOptions(plots=False, report=False))
        with (out / "n.hypnogram.csv").open() as f:
            rows[predictor.backend] = list(csv.DictReader(f))
        summary = json.loads((out / "n.sleep_stats.json").read_text())
        assert summary["model"]["backend"] == predictor.backend
    p = {k: np.array([[float(r[f"p_{s}"]) for s in STAGES] for r in v]) for k, v in rows.items()}
    assert len(p["onnx"]) == 12 and np.abs(p["torch"] - p["onnx"]).max() < 1e-4


def test_onnx_backend_does_not_import_torch(exported):
    """Starting torch costs seconds; staging from an .onnx file must not need it."""
    code = (
        "import sys; from isatsleepnet.inference.predictor import load_predictor; "
        f"p = load_predictor({str(exported[1])!r}, threads=1); "
        "import numpy as np; p.probabilities(np.zeros((2, 3, 3000), np.float32)); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_backend_errors(exported, tmp_path):
    _, onnx_path = exported
    # before: "(backend= onnx)" in Python, the flag-and-value template spelled as a keyword
    with pytest.raises(IsatSleepNetError, match="runs on the onnx backend: drop backend=, or set it to onnx$"):
        load_predictor(onnx_path, backend="torch")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx")
    with pytest.raises(IsatSleepNetError, match="not a readable ONNX model"):
        load_predictor(junk)


def test_onnx_backend_with_a_pt_model_exports_on_the_fly(exported, monkeypatch, caplog):
    """The wiring only: the export itself is the one the `exported` fixture ran (it takes ~30 s)."""
    import shutil

    from isatsleepnet.inference import onnx_backend

    model, onnx_path = exported
    calls = []

    def fake_export(model_file, out, **kwargs):
        calls.append(out)
        shutil.copyfile(onnx_path, out)

    monkeypatch.setattr(onnx_backend, "export_onnx", fake_export)
    predictor = load_predictor(model, backend="onnx", threads=1)
    assert predictor.backend == "onnx" and len(calls) == 1 and not calls[0].parent.exists()
    assert "exporting model.pt to ONNX for this run" in caplog.text  # a warning of the isatsleepnet logger


# -- the checksum of weights and metadata --------------------------------------------------------------------

DELETE = object()


def _rewrite(src: Path, dst: Path, *, changes: dict | None = None, text: str | None = None, flip: bool = False,
             resign: bool = False) -> Path:
    """A copy of an exported file with its metadata changed (DELETE removes a key, ``text`` replaces it all),
    bits flipped in its largest float weight, and (``resign``) the checksum recomputed, as another tool would."""
    import onnx

    proto = onnx.load(str(src))
    meta = json.loads(next(e.value for e in proto.metadata_props if e.key == METADATA_KEY))
    if flip:
        weight = max((t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.FLOAT),
                     key=lambda t: len(t.raw_data))
        raw = bytearray(weight.raw_data)
        for i in range(3, len(raw), 64):
            raw[i] ^= 0x40
        weight.raw_data = bytes(raw)
    data = proto.SerializeToString()
    for key, value in (changes or {}).items():
        if value is DELETE:
            del meta[key]
        else:
            meta[key] = value
    if resign:
        meta[CHECKSUM_KEY] = content_sha256(data, meta, checksum_key=CHECKSUM_KEY)
    dst.write_bytes(with_metadata(data, METADATA_KEY, text if text is not None else json.dumps(meta)))
    return dst


def _refused(path: Path) -> str:
    with pytest.raises(IsatSleepNetError) as info:
        load_predictor(path, threads=1)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    return message


def test_the_export_carries_a_checksum_of_its_weights_and_metadata(exported):
    import onnx

    from isatsleepnet.model.file import load_model_file

    model, onnx_path = exported
    data = onnx_path.read_bytes()
    meta = json.loads(dict(metadata_entries(data))[METADATA_KEY])
    assert meta[CHECKSUM_KEY] == content_sha256(data, meta, checksum_key=CHECKSUM_KEY)
    # onnx reads the metadata written on the bytes as its own, and the graph as ONNX Runtime does
    proto = onnx.load(str(onnx_path))
    assert [(e.key, json.loads(e.value)) for e in proto.metadata_props] == [(METADATA_KEY, meta)]
    onnx.checker.check_model(proto)
    assert meta["weights_sha1"] == load_model_file(model).weights_sha1()
    assert OnnxRunner(onnx_path, threads=1).metadata() == meta


def test_flipped_weights_are_refused_by_stage_with_one_line_and_status_2(exported, tmp_path, capsys):
    """Before: every epoch staged differently from the intact file, exit 0."""
    bad = _rewrite(exported[1], tmp_path / "flipped.onnx", flip=True)
    rc = main(["stage", "--model", str(bad), "--out", str(tmp_path / "out"), str(tmp_path / "night.edf")])
    assert rc == 2
    assert capsys.readouterr().err == (f"isatsleepnet stage: error: {bad}: corrupt model file: its weights or "
                                       "metadata do not match their checksum\n")


@pytest.mark.parametrize("changes", [
    {"weights_sha1": "0" * 40},
    {"training": "synthetic_recordings=0"},
    {"training": DELETE},
    {"normalize": "none"},
    {"metrics": {"validation": {"macro_f1": 0.99}}},
    {"sampling_rate": 128.0},
], ids=["weights_sha1", "synthetic_recordings", "training removed", "normalize", "metrics", "sampling_rate"])
def test_edited_metadata_is_refused(exported, tmp_path, changes):
    if changes.get("training") == "synthetic_recordings=0":
        meta = OnnxRunner(exported[1], threads=1).metadata()
        changes = {"training": {**meta["training"], "synthetic_recordings": 0}}
    bad = _rewrite(exported[1], tmp_path / "edited.onnx", changes=changes)
    assert _refused(bad) == f"{bad}: corrupt model file: its weights or metadata do not match their checksum"


def test_a_file_exported_before_the_checksum_must_be_exported_again(exported, tmp_path):
    old = _rewrite(exported[1], tmp_path / "old.onnx", changes={CHECKSUM_KEY: DELETE})
    assert _refused(old) == (f"{old}: exported without a checksum of its weights and metadata (by an older "
                             "isatsleepnet); export it again from its model.pt (`isatsleepnet export`)")
    # before 2026-12-07 the checksum ("sha256") covered the weights only, read with the onnx package
    weights_only = _rewrite(exported[1], tmp_path / "weights-only.onnx", changes={CHECKSUM_KEY: DELETE, "sha256": "0" * 64})
    assert _refused(weights_only) == (f"{weights_only}: exported with a checksum of its weights only (by an older "
                                      "isatsleepnet); export it again from its model.pt (`isatsleepnet export`)")


def test_metadata_of_another_tool_leaves_the_file_valid(exported, tmp_path):
    """Only the isatsleepnet entry is checksummed: a key another tool adds is no damage."""
    data = exported[1].read_bytes()
    other = tmp_path / "other.onnx"
    other.write_bytes(with_metadata(data, "converted_by", "some tool"))
    assert dict(metadata_entries(other.read_bytes()))["converted_by"] == "some tool"
    assert OnnxRunner(other, threads=1).metadata() == OnnxRunner(exported[1], threads=1).metadata()
    resigned = tmp_path / "resigned.onnx"
    resigned.write_bytes(signed(other.read_bytes(), OnnxRunner(exported[1], threads=1).metadata()))
    assert sorted(metadata_entries(resigned.read_bytes())) == sorted(metadata_entries(other.read_bytes()))
    assert len(resigned.read_bytes()) == len(other.read_bytes())  # signing again replaces the entry


@pytest.mark.parametrize("text, problem", [
    ("{not json", "corrupt model file: its isatsleepnet metadata is not JSON"),
    ("[1, 2]", "corrupt model file: its isatsleepnet metadata is not a JSON object"),
])
def test_metadata_that_is_not_a_json_object(exported, tmp_path, text, problem):
    """Before: ``unexpected JSONDecodeError`` (exit 1)."""
    bad = _rewrite(exported[1], tmp_path / "text.onnx", text=text)
    assert _refused(bad) == f"{bad}: {problem}"


@pytest.mark.parametrize("changes, problem", [
    ({"normalize": "bogus"}, "normalize is 'bogus', not one of epoch-zscore, none"),
    ({"channels": DELETE}, "channels is None, not a non-empty list of names"),
    ({"sampling_rate": float("nan")}, "sampling_rate is nan, not a finite number above 0"),
    ({"epoch_seconds": 15.0}, ("its 15-s epochs at 100 Hz are 1500 samples, but its network takes 3000 "
                               "(model_config n_samples)")),
    ({"stages": DELETE, "training": []}, "training is not a mapping"),
    ({"weights_sha1": "0" * 39}, f"weights_sha1 is {'0' * 39!r}, not a sha1 digest"),
])
def test_metadata_with_a_valid_checksum_is_still_checked_field_by_field(exported, tmp_path, changes, problem):
    """Written by another tool with its checksum recomputed: each field is checked as a model.pt's would be."""
    bad = _rewrite(exported[1], tmp_path / "fields.onnx", changes=changes, resign=True)
    assert _refused(bad) == f"{bad}: invalid model file: {problem}"


def test_runs_spread_over_the_cores_give_the_same_logits(exported):
    """Runs of at most EPOCHS_PER_RUN epochs, side by side (one thread each), must equal one run of the whole batch;
    ``prepare`` (the normalisation) is applied to each slice as to the whole."""
    from isatsleepnet.data.normalize import normalize_epochs
    from isatsleepnet.inference.onnx_backend import EPOCHS_PER_RUN

    x = np.random.default_rng(5).normal(0, 30, (2 * EPOCHS_PER_RUN + 5, 3, 3000)).astype(np.float32)
    one, three = OnnxRunner(exported[1], threads=1), OnnxRunner(exported[1], threads=3)
    assert three.workers == 3 and three.session.get_session_options().intra_op_num_threads == 1
    whole = one.session.run(None, {"epochs": normalize_epochs(x, "epoch-zscore")})[0]
    zscore = lambda part: normalize_epochs(part, "epoch-zscore")  # noqa: E731
    np.testing.assert_allclose(three.logits(x, zscore), whole, rtol=0, atol=1e-5)
    np.testing.assert_allclose(one.logits(x, zscore, run_epochs=3), whole, rtol=0, atol=1e-5)
    assert three.logits(x[:1]).shape == (1, 5) and three.logits(x[:0]).shape == (0, 5)
    counted: list[int] = []  # a staging's progress bar, fed from the workers: every epoch once
    from isatsleepnet.inference.predictor import load_predictor

    load_predictor(exported[1], threads=3).probabilities(x, 64, progress=counted.append)
    assert sorted(counted) == [5, EPOCHS_PER_RUN, EPOCHS_PER_RUN]


def test_the_float_export_computes_the_residual_convolutions_as_products_and_int8_keeps_them(exported, tmp_path):
    """The export form: `export` writes the EOG residual convolutions as DFT matrix products (faster in ONNX
    Runtime); the graph `export --int8` quantises keeps them as convolutions. Both pass the check against torch."""
    import onnx

    from isatsleepnet.inference.onnx_backend import export_onnx
    from isatsleepnet.model.file import load_model_file

    model_file = load_model_file(exported[0])
    info = export_onnx(model_file, tmp_path / "int8-form.onnx", form="int8")
    assert info["max_probability_difference"] <= 1e-4

    def ops(path: Path) -> list[str]:
        return [node.op_type for node in onnx.load(str(path)).graph.node]

    float_ops, int8_ops = ops(exported[1]), ops(tmp_path / "int8-form.onnx")
    blocks = len(model_file.network_config().eog_res_dilations) * len(model_file.network_config().eog_roles)
    assert int8_ops.count("Conv") - float_ops.count("Conv") == 2 * blocks
    # folded, all but the EEG encoders' last (it follows a ReLU: nothing to fold it into)
    assert float_ops.count("BatchNormalization") == len(model_file.network_config().eeg_roles)
    with pytest.raises(IsatSleepNetError, match="unknown export form"):
        export_onnx(model_file, tmp_path / "x.onnx", form="int4")
    assert not (tmp_path / "x.onnx").exists()


def test_export_onnx_refuses_bad_settings_before_any_work(tmp_path):
    """The Python caller gets the checks `export` makes: nothing is built (no model file is even needed)."""
    from isatsleepnet.errors import SettingError
    from isatsleepnet.inference.onnx_backend import export_onnx

    with pytest.raises(SettingError, match=r"^opset= must be 18 to 25 \(the opsets the exporter writes\), not 3$"):
        export_onnx(None, tmp_path / "m.onnx", opset=3)
    with pytest.raises(SettingError, match="^tolerance= must be a finite probability difference of at least 0"):
        export_onnx(None, tmp_path / "m.onnx", tolerance=float("inf"))
    assert not list(tmp_path.iterdir())


def test_a_file_of_another_opset_than_asked_for_is_never_kept(tmp_path, monkeypatch):
    """Before: `--opset 3` wrote opset 18 and said nothing; any opset other than the one asked for is refused."""
    import onnx
    import torch

    from isatsleepnet.errors import SettingError
    from isatsleepnet.inference import onnx_backend
    from isatsleepnet.model import ISATSleepNet, ModelConfig
    from isatsleepnet.model.file import ModelFile
    from tests.training.conftest import TINY_MODEL

    config = {"roles": ["eeg", "eeg2", "eog"], "n_samples": 3000, "sampling_rate": 100.0, **TINY_MODEL}
    model_file = ModelFile(model_config=config, state_dict=ISATSleepNet(ModelConfig(**config)).state_dict(),
                           channels=["a", "b", "c"], roles=["eeg", "eeg2", "eog"], sampling_rate=100.0,
                           epoch_seconds=30.0, normalize="epoch-zscore")

    def exporter_keeping_18(model, inputs, path, **kwargs):
        assert kwargs["opset_version"] == 19
        node = onnx.helper.make_node("Identity", ["epochs"], ["logits"])
        value = onnx.helper.make_tensor_value_info("epochs", onnx.TensorProto.FLOAT, None)
        graph = onnx.helper.make_graph([node], "g", [value], [onnx.helper.make_tensor_value_info(
            "logits", onnx.TensorProto.FLOAT, None)])
        onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)]), path)

    monkeypatch.setattr(torch.onnx, "export", exporter_keeping_18)
    with pytest.raises(SettingError, match="^opset= 19 was asked for, but the exporter wrote opset 18$"):
        onnx_backend.export_onnx(model_file, tmp_path / "m.onnx", opset=19)
    assert not list(tmp_path.iterdir())
