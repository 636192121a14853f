"""The model card of a tiny trained model: every section, model-info (text and JSON), the staging report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isatsleepnet.cli.main import main
from isatsleepnet.model.card import CARD_FORMAT, card_markdown, card_summary, model_card, paper_differences, size_name
from isatsleepnet.model.file import load_model_file
from tests.inference import trained_model

SECTIONS = ("architecture", "context", "input", "training_data", "augmentation", "parent", "selection",
            "validation_metrics", "test_metrics", "software", "intended_use", "limits")
HEADINGS = ("## Architecture and size", "## Context", "## Channels", "## Training data", "## Augmentation",
            "## Parent model", "## Selection", "## Validation metrics", "## Test metrics", "## Software",
            "## Intended use and limits")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return trained_model(tmp_path_factory.getbasetemp())[0]


@pytest.fixture(scope="module")
def card(model) -> dict:
    return model_card(load_model_file(model))


def test_the_card_has_every_section_with_the_model_s_facts(card, model):
    model_file = load_model_file(model)
    assert card["format"] == CARD_FORMAT and all(key in card for key in SECTIONS)
    arch = card["architecture"]
    from isatsleepnet.model.context import build_network

    assert arch["parameters"] == build_network(model_file.network_config()).num_parameters()
    assert arch["size"] is None  # the tiny widths are no named size
    assert arch["differences_from_paper"]["eeg_filters"] == {"paper": 32, "model": 4}
    assert card["context"] == {"epochs": 0, "description": "none: each epoch is staged alone, as in the paper",
                               "training": None}
    channels = card["input"]["channels"]
    assert [c["label"] for c in channels] == model_file.channels and [c["role"] for c in channels] == model_file.roles
    assert all(c["rate"] == 100.0 and c["derived_from"] == [None] and c["source_rates"] for c in channels)
    data = card["training_data"]
    assert data["kind"] == "synthetic" and data["synthetic_recordings"] == 3 and data["real_recordings"] == 0
    assert data["subjects"] == {"train": 2, "validation": 1} and data["nights"]["train"] >= 2
    assert data["datasets"] == ["sleep-edf"]
    per_stage = data["epochs_per_stage"]["train"]
    assert set(per_stage) == {"W", "N1", "N2", "N3", "REM"} and sum(per_stage.values()) == model_file.training["train_epochs"]
    assert data["seen_sources"] == model_file.training["seen_sources"] and data["n_seen_sources"] == 3
    assert card["augmentation"]["mode"] == "none" and card["parent"] is None
    assert card["selection"] == {"selected_by": "validation macro-F1",
                                 "selected_epoch": model_file.training["selected_epoch"]}
    assert card["validation_metrics"]["macro_f1"] == model_file.metrics["validation"]["macro_f1"]
    assert card["test_metrics"] is None
    assert card["software"]["trained_with"] and card["software"]["saved_with"]
    assert card["sha256"] == load_model_file(model).header["sha256"] and len(card["sha256"]) == 64


def test_a_synthetic_trained_model_s_card_says_so_loudly(card):
    assert card["synthetic_warning"].startswith("this model was trained on synthetic recordings (3 of 3)")
    assert card["limits"][0].startswith("WARNING: this model was trained on synthetic recordings")
    text = card_markdown(card)
    assert "> **WARNING: this model was trained on synthetic recordings" in text.splitlines()[2]


def test_the_markdown_has_every_section(card):
    text = card_markdown(card)
    assert all(heading in text for heading in HEADINGS)
    assert "eeg_filters 4 (paper 32)" in text and "context: 0" in text
    assert "none: trained from scratch" in text and "none: not tested" in text
    assert "Not a medical device" in text
    assert "- real or synthetic: synthetic (0 real, 3 synthetic recording(s), training and validation)" in text
    unknown = {**card["training_data"], "kind": "unknown", "real_recordings": None, "synthetic_recordings": None}
    # before: "unknown (unknown (not recorded) real, unknown (not recorded) synthetic recording(s), ...)"
    assert "- real or synthetic: unknown (not recorded)\n" in card_markdown({**card, "training_data": unknown})


def test_an_int8_card_says_how_far_it_agrees_and_how_much_is_near_ties(card):
    quantization = {"method": "int8 static", "float_weights_sha1": "f" * 40,
                    "calibration": {"source": "its training data (prep)", "epochs": 320, "runs": 10},
                    "agreement_with_float": 0.98125, "max_probability_difference": 0.019}
    older = card_markdown({**card, "quantization": quantization})  # written before clear epochs were counted
    assert "- on those epochs, int8 and float32 give the same stage to 98.12 % of epochs; largest probability " \
           "difference 0.019" in older and "near-ties" not in older
    text = card_markdown({**card, "quantization": {**quantization, "clear_epochs": 275,
                                                   "agreement_on_clear_epochs": 1.0}})
    assert ("- on the 275 of them where the float32 model's likeliest stage leads the next by 0.1 or more in "
            "probability: 100.00 % (the rest are near-ties)") in text  # no margin recorded: the 0.1 of that time
    text = card_markdown({**card, "quantization": {**quantization, "clear_epochs": 120, "clear_margin": 0.25,
                                                   "agreement_on_clear_epochs": 0.99}})
    assert "- on the 120 of them where the float32 model's likeliest stage leads the next by 0.25 or more" in text


def test_sizes_and_paper_differences():
    from isatsleepnet.model import MODEL_SIZES

    assert size_name({}) == "paper" and size_name(dict(MODEL_SIZES["small"])) == "small"
    assert size_name({"eeg_filters": 8}) is None
    assert paper_differences({"roles": ["eeg"], "use_asr": False, "context": 21}) == {
        "use_asr": {"paper": True, "model": False}}


def test_model_info_prints_the_card_and_its_json(model, capsys):
    assert main(["model-info", str(model)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# Model card: {model}") and "## Training data" in out
    assert main(["model-info", str(model), "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["weights_sha1"] == load_model_file(model).weights_sha1() and parsed["format"] == CARD_FORMAT


def test_model_info_of_a_missing_or_foreign_file_is_one_line(tmp_path, capsys):
    assert main(["model-info", str(tmp_path / "none.pt")]) == 2
    assert capsys.readouterr().err == f"isatsleepnet model-info: error: {tmp_path / 'none.pt'}: model file not found\n"
    (tmp_path / "x.pt").write_bytes(b"not a model")
    assert main(["model-info", str(tmp_path / "x.pt")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_an_onnx_export_carries_the_card(model, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from isatsleepnet.inference.onnx_backend import export_onnx

    export_onnx(load_model_file(model), tmp_path / "m.onnx")
    assert main(["model-info", str(tmp_path / "m.onnx"), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["file"] == str(tmp_path / "m.onnx") and card["exported_from"] == str(model)
    assert card["weights_sha1"] == load_model_file(model).weights_sha1()
    assert card["training_data"]["kind"] == "synthetic"


def test_the_staging_report_summarises_the_card(model, tmp_path, tmp_path_factory):
    from isatsleepnet.inference.options import StageOptions
    from isatsleepnet.inference.predictor import load_predictor
    from isatsleepnet.inference.stage import stage_recording

    raw = trained_model(tmp_path_factory.getbasetemp())[1]
    psg = sorted(raw.glob("*-PSG.edf"))[0]
    predictor = load_predictor(model, threads=1)
    result = stage_recording(psg, predictor, tmp_path / "out", StageOptions())
    summary = result.summary["model"]["card"]
    assert summary == card_summary(model_card(load_model_file(model)))
    html = (tmp_path / "out" / f"{psg.stem}.report.html").read_text()
    assert "Model card (<code>isatsleepnet model-info</code>" in html
    assert "ISATSleepNet, custom size" in html and "synthetic data: 0 real and 3 synthetic recording(s)" in html
    assert "Context: none: each epoch is staged alone" in html and "no test metrics recorded" in html
    assert "<strong>this model was trained on synthetic recordings" in html
