"""--augment and the Physio-GAN flags shared by `cv` and `train`."""

import argparse
import json

import pytest

from isatsleepnet.cli.flags import message as flag_message
from isatsleepnet.cli.train_options import (
    add_augment_arguments,
    add_train_arguments,
    augment_config_from_args,
    train_config_from_args,
)
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.gan.config import GanConfig


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    add_augment_arguments(parser, "RUN/fold_XX")
    return parser.parse_args(list(argv))


def test_default_is_no_augmentation_and_no_gan():
    augment, gan = augment_config_from_args(_parse())
    assert augment.mode == "none" and not augment.enabled and gan is None
    assert augment.record() == {"mode": "none"}


def test_gan_mode_takes_the_gan_defaults_and_the_flags():
    augment, gan = augment_config_from_args(_parse("--augment", "gan"))
    assert augment.mode == "gan" and gan == GanConfig()
    augment, gan = augment_config_from_args(_parse("--augment", "gan", "--gan-epochs", "7", "--augment-stage", "N3"))
    assert gan.epochs == 7 and gan.stage == "N3" and augment.stage == "N3"
    augment, gan = augment_config_from_args(_parse("--augment", "transforms", "--augment-stage", "REM"))
    assert augment.record()["stage"] == "REM" and gan is None


def test_config_file_tables_for_training_augmentation_and_gan(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('max_epochs = 3\n[augment]\nmode = "gan"\ntarget_ratio = 1.3\n[gan]\nepochs = 4\nd_channels = [8, 16]\n')
    args = _parse("--config", str(path))
    assert train_config_from_args(args).max_epochs == 3
    augment, gan = augment_config_from_args(args)
    assert augment.mode == "gan" and augment.target_ratio == 1.3 and gan.epochs == 4 and gan.d_channels == (8, 16)
    # flags override the file; a --gan-config file overrides its [gan] table
    gan_file = tmp_path / "gan.json"
    gan_file.write_text(json.dumps({"gan": {"epochs": 9, "batch_size": 8}}))
    _, gan = augment_config_from_args(_parse("--config", str(path), "--gan-config", str(gan_file), "--gan-epochs", "2"))
    assert gan.epochs == 2 and gan.batch_size == 8 and gan.d_channels == (8, 16)


@pytest.mark.parametrize("argv, message", [
    (["--gan-epochs", "5"], "--gan-epochs needs --augment gan"),
    (["--augment", "transforms", "--gan-config", "g.json"], "--gan-config needs --augment gan"),
    (["--augment-stage", "N2"], "--augment-stage needs --augment transforms or gan"),
    (["--augment", "gan", "--gan-epochs", "0"], "--gan-epochs must be a whole number of at least 1, not 0"),
])
def test_inconsistent_flags_are_one_line_errors(argv, message):
    """The errors name settings; the command line spells each as the flag that set it."""
    with pytest.raises(IsatSleepNetError) as info:
        augment_config_from_args(_parse(*argv))
    assert flag_message(info.value) == message


def test_a_bad_augment_table_is_spelled_as_train_and_cv_flags(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[augment]\nmode = "mixup"\n')
    with pytest.raises(IsatSleepNetError) as info:
        augment_config_from_args(_parse("--config", str(path)))
    assert info.value.settings == ("augment",)
    assert flag_message(info.value) == "--augment must be one of none, transforms, gan, not 'mixup'"


def test_file_values_and_flags_are_checked_together(tmp_path):
    """A file's freeze needs --init: checked once both are applied, not after the file alone."""
    path = tmp_path / "train.toml"
    path.write_text('freeze = "extractors"\n')
    config = train_config_from_args(_parse("--config", str(path), "--init", "base.pt"))
    assert config.freeze == "extractors" and config.init == "base.pt"
    with pytest.raises(IsatSleepNetError) as info:
        train_config_from_args(_parse("--config", str(path)))
    assert flag_message(info.value).startswith("--freeze extractors needs --init MODEL.pt")


def test_unknown_gan_option_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "gan.json"
    path.write_text('{"lr_gg": 1}')
    with pytest.raises(IsatSleepNetError, match=r"gan.json: unknown option\(s\) lr_gg"):
        augment_config_from_args(_parse("--augment", "gan", "--gan-config", str(path)))


def test_model_size_small_halves_the_widths_and_model_option_still_wins():
    from isatsleepnet.model import MODEL_SIZES, ISATSleepNet, ModelConfig

    config = train_config_from_args(_parse("--model-size", "small", "--model-option", "dropout=0.3"))
    assert config.model == {**MODEL_SIZES["small"], "dropout": 0.3}
    small, paper = ISATSleepNet(ModelConfig(**config.model)), ISATSleepNet(ModelConfig())
    assert 0.2 < small.num_parameters() / paper.num_parameters() < 0.3
    config = train_config_from_args(_parse("--model-size", "small", "--model-option", "feature_dim=96"))
    assert config.model["feature_dim"] == 96 and config.model["lstm_hidden"] == 64
    assert train_config_from_args(_parse("--model-size", "paper")).model == {}


def test_model_size_paper_undoes_a_config_files_small_widths(tmp_path):
    from isatsleepnet.model import MODEL_SIZES

    path = tmp_path / "train.json"
    path.write_text(json.dumps({"train": {"model": {**MODEL_SIZES["small"], "dropout": 0.2}}}))
    assert train_config_from_args(_parse("--config", str(path))).model == {**MODEL_SIZES["small"], "dropout": 0.2}
    assert train_config_from_args(_parse("--config", str(path), "--model-size", "paper")).model == {"dropout": 0.2}
