"""Fine-tuning (--init, --freeze): the parent's weights at step 0, frozen parts unchanged, lineage, refusals."""

from __future__ import annotations

import argparse
import json
import shutil
import warnings
from pathlib import Path

import lightning as L
import pytest
import torch

from isatsleepnet.cli.flags import message
from isatsleepnet.cli.main import main
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.inference.evaluate import evaluate_model
from isatsleepnet.model.config import MODEL_SIZES, ModelConfig
from isatsleepnet.model.context import build_network
from isatsleepnet.model.file import ModelFile, load_model_file
from isatsleepnet.training.config import FINE_TUNE_LEARNING_RATE, TrainConfig
from isatsleepnet.training.cv import cross_validate
from isatsleepnet.training.finetune import with_base
from isatsleepnet.training.fit import train_split
from isatsleepnet.training.folds import Fold
from isatsleepnet.training.train import train
from tests.training.conftest import TINY_MODEL, tiny_config

FROZEN_EXTRACTORS = ("eeg.", "eog.")


@pytest.fixture(scope="module")
def subjects(synthetic_prepared) -> list[str]:
    return PreparedDataset(synthetic_prepared).subjects()


@pytest.fixture(scope="module")
def base(synthetic_prepared, subjects, tmp_path_factory) -> Path:
    """A tiny model trained on the first three subjects (two train, one validation)."""
    return train(synthetic_prepared, tmp_path_factory.mktemp("base") / "run", config=tiny_config(max_epochs=1),
                 train_subjects=subjects[:2], validation_subjects=[subjects[2]], progress=False)


@pytest.fixture(scope="module")
def tuned(synthetic_prepared, subjects, base, tmp_path_factory) -> Path:
    """The base model fine-tuned on the other three subjects with its extractors frozen."""
    out = tmp_path_factory.mktemp("tuned") / "run"
    return train(synthetic_prepared, out, config=tiny_config(max_epochs=2), train_subjects=subjects[3:5],
                 validation_subjects=[subjects[5]], init=base, freeze="extractors", progress=False)


def odd_model(base: Path, path: Path, **changes) -> Path:
    """A model file like ``base`` but with other ModelConfig settings (fresh weights; never trained)."""
    model_file = load_model_file(base)
    config = {**model_file.model_config, **changes}
    network = build_network(ModelConfig(**config))
    ModelFile(model_config=config, state_dict=network.state_dict(), channels=model_file.channels,
              roles=model_file.roles, sampling_rate=model_file.sampling_rate,
              epoch_seconds=model_file.epoch_seconds, normalize=model_file.normalize).save(path)
    return path


class _WeightsAtStart(L.Callback):
    def on_train_start(self, trainer, module) -> None:
        self.state = {k: v.detach().clone() for k, v in module.model.state_dict().items()}


def test_fine_tuning_starts_from_the_parent_s_weights(synthetic_prepared, subjects, base, tmp_path):
    data = PreparedDataset(synthetic_prepared)
    config = with_base(tiny_config(max_epochs=1, max_train_batches=1), init=base, freeze="encoder")
    start = _WeightsAtStart()
    model = train_split(data, Fold(0, tuple(subjects[3:5]), (subjects[5],), ()), tmp_path / "ft", config,
                        progress=False, callbacks=[start])
    parent = load_model_file(base).state_dict
    assert start.state.keys() == parent.keys()
    assert all(torch.equal(start.state[k], parent[k]) for k in parent)
    after = load_model_file(model).state_dict  # encoder frozen: only the head moved
    assert all(torch.equal(after[k], parent[k]) for k in parent if not k.startswith("head."))
    assert any(not torch.equal(after[k], parent[k]) for k in parent if k.startswith("head."))


def test_fine_tuning_on_one_night_says_it_keeps_the_last_epoch(synthetic_prepared, subjects, base, tmp_path, caplog):
    caplog.set_level("INFO", logger="isatsleepnet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Lightning's "no val_dataloader" warning was shown to the user
        model = train(synthetic_prepared, tmp_path / "one", config=tiny_config(max_epochs=1, max_train_batches=1),
                      train_subjects=[subjects[3]], init=base, progress=False)
    assert "no validation subjects (1 training subject(s)): the model of the last epoch is kept" in caplog.messages
    assert load_model_file(model).training["selected_by"] == "last epoch (no validation subjects)"


def test_frozen_extractors_stay_and_the_rest_learns(tuned, base):
    after, parent = load_model_file(tuned).state_dict, load_model_file(base).state_dict
    frozen = [k for k in parent if k.startswith(FROZEN_EXTRACTORS)]
    assert frozen and all(torch.equal(after[k], parent[k]) for k in frozen)  # weights and BatchNorm statistics
    trainable = [k for k in parent if not k.startswith(FROZEN_EXTRACTORS) and after[k].is_floating_point()]
    assert sum(not torch.equal(after[k], parent[k]) for k in trainable) > len(trainable) // 2


def test_the_fine_tuned_model_records_its_parent_and_ancestors(tuned, base, synthetic_prepared, subjects):
    model_file, parent = load_model_file(tuned), load_model_file(base)
    training = model_file.training
    assert training["parent"]["sha256"] == parent.header["sha256"]
    assert training["parent"]["weights_sha1"] == parent.weights_sha1()
    assert training["parent"]["file"] == str(base)
    assert training["ancestors"][0]["subjects"] == sorted(subjects[:3])
    assert training["ancestors"][0]["data"] == str(PreparedDataset(synthetic_prepared).root)
    assert set(parent.training["seen_sources"]) < set(training["seen_sources"])
    assert len(training["seen_sources"]) == 6
    assert training["config"]["freeze"] == "extractors" and training["config"]["init_sha256"] == parent.header["sha256"]


def test_the_card_shows_the_parent(tuned, base):
    card = (tuned.parent / "MODEL_CARD.md").read_text()
    assert f"- fine-tuned from: {base}" in card
    assert f"- parent sha256: `{load_model_file(base).header['sha256']}`" in card
    assert "- frozen: extractors" in card and "none: trained from scratch" not in card
    assert (base.parent / "MODEL_CARD.md").read_text().count("none: trained from scratch") == 1


def test_evaluate_refuses_what_only_the_parent_saw(tuned, synthetic_prepared, subjects, tmp_path):
    with pytest.raises(IsatSleepNetError, match=f"its base model {'.*'}was trained or selected on subject.s. "
                                                f"{subjects[0]} of this dataset; evaluate on other subjects "
                                                r"\(subjects=\)$") as refused:
        evaluate_model(tuned, synthetic_prepared, tmp_path / "e", subjects=[subjects[0]], progress=False)
    assert refused.value.settings == ("subjects",)  # the CLI spells it --subjects
    copy = tmp_path / "copy"
    shutil.copytree(synthetic_prepared, copy)
    with pytest.raises(IsatSleepNetError, match="same source file"):
        evaluate_model(tuned, copy, tmp_path / "e2", subjects=[subjects[0]], progress=False)


def test_a_base_model_that_does_not_fit_is_refused_in_one_line(synthetic_prepared, subjects, base, tmp_path, capsys):
    wider = odd_model(base, tmp_path / "wider.pt", eeg_filters=8)
    with pytest.raises(IsatSleepNetError) as refused:
        train(synthetic_prepared, tmp_path / "a", config=tiny_config(), train_subjects=subjects[3:5],
              validation_subjects=[subjects[5]], init=wider, progress=False)
    assert "\n" not in str(refused.value)
    assert "the base model does not fit this run: architecture eeg_filters 8 (base) vs 4" in str(refused.value)
    assert "size" not in str(refused.value)  # no named size gives that network: no hint
    # a base model of a named size: the line says which, and how to ask for it
    small = odd_model(base, tmp_path / "small.pt", **MODEL_SIZES["small"])
    with pytest.raises(IsatSleepNetError) as refused:
        train(synthetic_prepared, tmp_path / "s", config=tiny_config(), train_subjects=subjects[3:5],
              validation_subjects=[subjects[5]], init=small, progress=False)
    assert message(refused.value).endswith("(the base model is the small size: give --model-size small)")

    two = ",".join(load_model_file(base).channels[:2])
    rc = main(["train", "--data", str(synthetic_prepared), "--out", str(tmp_path / "b"), "--init", str(base),
               "--channels", two, "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "channel roles eeg, eeg2, eog (base) vs eeg, eeg2 (this run)" in err


def test_a_rerun_with_another_base_model_is_refused(tuned, synthetic_prepared, subjects, base, tmp_path):
    other = odd_model(base, tmp_path / "other.pt")
    with pytest.raises(IsatSleepNetError, match=r"other settings \(the base model \(init=\)\)"):
        train(synthetic_prepared, tuned.parent, config=tiny_config(max_epochs=2), train_subjects=subjects[3:5],
              validation_subjects=[subjects[5]], init=other, freeze="extractors", progress=False)
    moved = tmp_path / "moved.pt"
    shutil.copy(base, moved)  # the same base model elsewhere is the same setting: the finished run is returned
    assert train(synthetic_prepared, tuned.parent, config=tiny_config(max_epochs=2), train_subjects=subjects[3:5],
                 validation_subjects=[subjects[5]], init=moved, freeze="extractors", progress=False) == tuned


def test_freeze_needs_init_and_a_known_part():
    with pytest.raises(IsatSleepNetError, match="^freeze= encoder needs init= MODEL.pt"):
        TrainConfig(freeze="encoder")
    with pytest.raises(IsatSleepNetError, match="^freeze= must be one of none, extractors, encoder"):
        TrainConfig(init="m.pt", freeze="head")


def test_init_without_lr_uses_the_fine_tuning_learning_rate(tmp_path):
    from isatsleepnet.cli.train import add_parser
    from isatsleepnet.cli.train_options import train_config_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())

    def config(*flags: str) -> TrainConfig:
        return train_config_from_args(parser.parse_args(["train", "--data", "d", "--out", "o", *flags]))

    assert config().learning_rate == 5e-5 and config().init is None
    tuned = config("--init", "base.pt", "--freeze", "extractors")
    assert (tuned.learning_rate, tuned.init, tuned.freeze) == (FINE_TUNE_LEARNING_RATE, "base.pt", "extractors")
    assert config("--init", "base.pt", "--lr", "3e-4").learning_rate == 3e-4
    settings = tmp_path / "train.json"
    settings.write_text(json.dumps({"learning_rate": 2e-4}))
    assert config("--init", "base.pt", "--config", str(settings)).learning_rate == 2e-4


def test_train_help_documents_fine_tuning_and_the_card(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--init MODEL.pt" in text and "--freeze {none,extractors,encoder}" in text
    assert "the learning rate is then 1e-05, a fifth of the paper's" in text and "MODEL_CARD.md" in text


def test_cv_refuses_a_base_model_that_saw_its_test_subjects(synthetic_prepared, base, tmp_path):
    with pytest.raises(IsatSleepNetError, match=r"^init= .*: fold \d's test subjects: .*trained or selected on") as no:
        cross_validate(synthetic_prepared, tmp_path / "cv", protocol="kfold", n_folds=3, config=tiny_config(),
                       init=base, progress=False)
    assert no.value.settings == ("init",)
    assert not (tmp_path / "cv" / "fold_00" / "model.pt").exists()


def test_cv_fine_tunes_every_fold_from_one_base(synthetic_prepared, subjects, base, tmp_path):
    folds = tmp_path / "folds.json"
    folds.write_text(json.dumps({"folds": [{"index": 0, "train": [subjects[3]], "validation": [subjects[4]],
                                            "test": [subjects[5]]}]}))
    cross_validate(synthetic_prepared, tmp_path / "cv", protocol="kfold", folds_file=folds, only_fold=0,
                   config=tiny_config(max_epochs=1, max_train_batches=2), init=base, freeze="encoder", progress=False)
    model = load_model_file(tmp_path / "cv" / "fold_00" / "model.pt")
    assert model.training["parent"]["sha256"] == load_model_file(base).header["sha256"]
    card = (tmp_path / "cv" / "fold_00" / "MODEL_CARD.md").read_text()
    assert f"- fine-tuned from: {base}" in card and "## Test metrics\n\n- accuracy:" in card
    saved = json.loads((tmp_path / "cv" / "config.json").read_text())["train"]
    assert saved["init_sha256"] == load_model_file(base).header["sha256"] and saved["freeze"] == "encoder"
    assert saved["learning_rate"] == tiny_config().learning_rate  # an explicit config keeps its learning rate


def test_train_writes_its_model_card(base):
    card = (base.parent / "MODEL_CARD.md").read_text()
    assert card.startswith(f"# Model card: {base}") and "## Validation metrics\n\n- accuracy:" in card
    assert "WARNING: this model was trained on synthetic recordings" in card
    assert TINY_MODEL["eeg_filters"] == load_model_file(base).model_config["eeg_filters"]


def test_a_context_model_fine_tunes_its_encoder_from_a_per_epoch_base(synthetic_prepared, subjects, base, tmp_path):
    config = tiny_config(max_epochs=1, max_train_batches=2, context_epochs=1, model={**TINY_MODEL, "context": 3})
    model = train(synthetic_prepared, tmp_path / "ctx", config=config, train_subjects=subjects[3:5],
                  validation_subjects=[subjects[5]], init=base, freeze="extractors", progress=False)
    model_file, parent = load_model_file(model), load_model_file(base)
    assert model_file.model_config["context"] == 3
    assert model_file.training["parent"]["sha256"] == parent.header["sha256"]
    assert all(torch.equal(model_file.state_dict[k], parent.state_dict[k]) for k in parent.state_dict
               if k.startswith(FROZEN_EXTRACTORS))
    card = (tmp_path / "ctx" / "MODEL_CARD.md").read_text()
    assert "- context: 3 (3 consecutive epochs" in card and f"- fine-tuned from: {base}" in card
    assert "- sequence head selected by validation macro-F1" in card
    assert (tmp_path / "ctx" / "encoder" / "MODEL_CARD.md").is_file()


class _KillAtEpoch(L.Callback):
    def on_train_epoch_start(self, trainer, module) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("killed")


def test_a_killed_fine_tuning_resumes_to_the_uninterrupted_model(synthetic_prepared, subjects, base, tmp_path):
    data = PreparedDataset(synthetic_prepared)
    fold = Fold(0, tuple(subjects[3:5]), (subjects[5],), ())
    config = with_base(tiny_config(max_epochs=2, max_train_batches=3), init=base, freeze="extractors")
    whole = load_model_file(train_split(data, fold, tmp_path / "whole", config, progress=False))
    with pytest.raises(RuntimeError, match="killed"):
        train_split(data, fold, tmp_path / "killed", config, progress=False, callbacks=[_KillAtEpoch()])
    resumed = load_model_file(train_split(data, fold, tmp_path / "killed", config, progress=False))
    assert whole.training["selected_epoch"] == resumed.training["selected_epoch"]
    assert all(torch.equal(whole.state_dict[k], resumed.state_dict[k]) for k in whole.state_dict)
