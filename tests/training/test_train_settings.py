"""Training settings are checked before any data is read: one line naming the flag, exit status 2."""

from __future__ import annotations

import json

import pytest

from isatsleepnet.cli.main import main
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.training.config import TrainConfig

BAD_FLAGS = [
    (["--lr", "nan"], "--lr must be a finite number above 0, not nan"),
    (["--lr", "-1"], "--lr must be a finite number above 0, not -1.0"),
    (["--lr", "inf"], "--lr must be a finite number above 0, not inf"),
    (["--weight-decay", "nan"], "--weight-decay must be a finite number of at least 0, not nan"),
    (["--weight-decay", "-0.1"], "--weight-decay must be a finite number of at least 0, not -0.1"),
    (["--validation-fraction", "1.5"], "--validation-fraction must be a number in [0, 1), not 1.5"),
    (["--validation-fraction", "nan"], "--validation-fraction must be a number in [0, 1), not nan"),
    (["--loss-alpha", "nan"], "--loss-alpha must be a number in [0, 1], not nan"),
    (["--grad-clip", "0"], "--grad-clip must be a finite number above 0, not 0.0"),
    (["--grad-clip", "nan"], "--grad-clip must be a finite number above 0, not nan"),
    (["--epochs", "0"], "--epochs must be a whole number of at least 1, not 0"),
    (["--batch-size", "0"], "--batch-size must be a whole number of at least 1, not 0"),
    (["--accumulate", "0"], "--accumulate must be a whole number of at least 1, not 0"),
    (["--patience", "-1"], "--patience must be a whole number of at least 0, not -1"),
    (["--seed", "-1"], "--seed must be a whole number of at least 0, not -1"),
    (["--seed", str(2**32)], f"--seed must be at most {2**32 - 1}, not {2**32}"),
    (["--workers", "-1"], "--workers must be a whole number of at least 0, not -1"),
    (["--threads", "0"], "--threads must be a whole number of at least 1, not 0"),
    (["--max-train-batches", "0"], "--max-train-batches must be a whole number of at least 1, not 0"),
    (["--num-nodes", "0"], "--num-nodes must be a whole number of at least 1, not 0"),
    (["--devices", "two"], "--devices must be auto or a number of devices (1 or more), not 'two'"),
    (["--device", "gpu"], "--device must be auto, cpu, cuda, cuda:N or mps, not 'gpu'"),
    (["--device", "cuda:1", "--devices", "2"], "--device cuda:1 names one GPU; --devices 2 asks for several "
                                               "(use --device cuda --devices N)"),
    (["--model-option", "dropout=abc"], "isatsleepnet: dropout must be a number such as 0.5, got 'abc'"),
    (["--model-option", "dropout=2"], "model config: dropout rates must be in [0, 1)"),
    (["--model-option", "use_eog=1"], "isatsleepnet: use_eog must be true or false such as True, got 1"),
    (["--context-model", "transformer"], "--context-model chooses the sequence model of --context N: give "
                                         "--context N (3-255) as well, or leave it out"),
    (["--context", "2"], "model config: context must be 0 (per epoch) or a window of 3 to 255 epochs (got 2)"),
    # a baseline's configuration records its paper's training; training reads its own settings, never those
    (["--architecture", "attnsleep", "--model-option", "learning_rate=0.5", "--model-option", "epochs=3"],
     "model setting(s) epochs, learning_rate of attnsleep record its paper's training, which neither the network "
     "nor the training reads: set --epochs, --lr instead"),
    (["--architecture", "attnsleep", "--model-option", "betas=[0.8, 0.9]"],
     "model setting(s) betas of attnsleep record its paper's training, which neither the network nor the training "
     "reads"),
]


@pytest.mark.parametrize("command", ["train", "cv"])
@pytest.mark.parametrize("flags, message", BAD_FLAGS)
def test_a_bad_flag_is_one_line_before_the_data_is_read(tmp_path, capsys, command, flags, message):
    """--data names no dataset: a message about the setting shows that it was checked first."""
    extra = ["--protocol", "kfold", "--folds", "2"] if command == "cv" else []
    rc = main([command, "--data", str(tmp_path / "no-such-data"), "--out", str(tmp_path / "out"), *extra, *flags])
    assert rc == 2
    assert capsys.readouterr().err == f"isatsleepnet {command}: error: {message}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("values, message", [  # said as the file's keys: the user typed no flag
    ({"batch_size": "16"}, "train.json: batch_size must be a whole number of at least 1, not '16'"),
    ({"learning_rate": "fast"}, "train.json: learning_rate must be a finite number above 0, not 'fast'"),
    ({"max_epochs": 2.5}, "train.json: max_epochs must be a whole number of at least 1, not 2.5"),
    ({"max_epochs": True}, "train.json: max_epochs must be a whole number of at least 1, not True"),
    ({"lr_gamma": 0}, "train.json: lr_gamma must be a number in (0, 1], not 0"),
    ({"lr_step_size": 0}, "train.json: lr_step_size must be a whole number of at least 1, not 0"),
    ({"class_weighted": "yes"}, "train.json: class_weighted must be true or false, not 'yes'"),
    ({"channels": []}, "train.json: channels must name one or more channels, not []"),
    ({"channels": "EEG Fpz-Cz"}, "train.json: channels must name one or more channels, not 'EEG Fpz-Cz'"),
    ({"model": "small"}, "model (in the config file) must be a table of ModelConfig settings, not 'small'"),
    ({"optimizer": "sgd"}, "train.json: optimizer must be one of adamw, adam, amsgrad, not 'sgd'"),
    ({"loss": "focal"}, "train.json: loss must be one of hybrid, generalized-dice, not 'focal'"),
    ({"epochs": 3, "lr": 0.1}, "train.json: epochs is spelled max_epochs in a config file (the flag --epochs sets "
                               "it); lr is spelled learning_rate in a config file (the flag --lr sets it)"),
    ({"init_sha256": "abc"}, "train.json: init_sha256 checks the base model of --init: give it with --init, or "
                             "leave it out"),
])
def test_a_bad_value_in_a_config_file_is_one_line(tmp_path, capsys, values, message):
    config = tmp_path / "train.json"
    config.write_text(json.dumps({"train": values}))
    rc = main(["train", "--data", str(tmp_path / "no-such-data"), "--out", str(tmp_path / "out"),
               "--config", str(config)])
    assert rc == 2
    assert capsys.readouterr().err == f"isatsleepnet train: error: {message}\n"


def test_the_defaults_and_the_edges_of_each_range_are_accepted():
    TrainConfig()  # each checks itself as it is made
    TrainConfig(weight_decay=0.0, validation_fraction=0.0, loss_alpha=1.0, lr_gamma=1.0, early_stopping_patience=0,
                seed=2**32 - 1, max_train_batches=1)
    Engine(devices="2", precision="bf16-mixed", threads=1, workers=0, device="cuda")
    Engine(device="cuda:0", devices=1)
    with pytest.raises(IsatSleepNetError, match=r"^normalize= must be one of epoch-zscore, none, not 'max'$"):
        TrainConfig(normalize="max")


ON_CPU = pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="the CPU-only case")


@ON_CPU
@pytest.mark.parametrize("command, flags, message", [
    ("train", ["--precision", "16-mixed"], "--precision 16-mixed needs a CUDA GPU; on the CPU use auto or 32-true"),
    ("cv", ["--precision", "bf16-mixed"], "--precision bf16-mixed needs a CUDA GPU; on the CPU use auto or 32-true"),
    ("demo", ["--precision", "16-mixed"], "--precision 16-mixed needs a CUDA GPU; on the CPU use auto or 32-true"),
    ("train", ["--devices", "2"], "--devices 2 needs GPUs; on the CPU use --threads to use more cores"),
    ("cv", ["--devices", "2"], "--devices 2 needs GPUs; on the CPU use --threads to use more cores"),
])
def test_what_training_cannot_do_on_a_cpu_is_refused_before_anything_runs(tmp_path, capsys, command, flags, message):
    """Not after fold 0 (the test predictions refused reduced precision), not silently (Lightning's bf16, CPU DDP)."""
    extra = {"cv": ["--protocol", "kfold", "--folds", "2", "--data", str(tmp_path / "no-data")],
             "train": ["--data", str(tmp_path / "no-data")], "demo": []}[command]
    rc = main([command, "--out", str(tmp_path / "out"), *extra, *flags])
    assert rc == 2
    assert capsys.readouterr().err == f"isatsleepnet {command}: error: {message}\n"
    assert not (tmp_path / "out").exists()


def test_old_machine_keys_in_a_config_file_say_where_they_went(tmp_path, capsys):
    config = tmp_path / "train.toml"
    config.write_text("[train]\nthreads = 2\naccelerator = 'cpu'\n")
    rc = main(["train", "--data", str(tmp_path / "no-data"), "--out", str(tmp_path / "out"), "--config", str(config)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "accelerator, threads are engine settings now: move them to an [engine] table" in err


@pytest.mark.parametrize("flags", [["--folds-file", "folds.json"], ["--fold", "1"]])
def test_a_folds_file_and_a_fold_go_together_in_train_as_elsewhere(synthetic_prepared, tmp_path, capsys, flags):
    """Before: --folds-file alone trained fold 0 without a word, --fold alone was ignored."""
    rc = main(["train", "--data", str(synthetic_prepared), "--out", str(tmp_path / "out"), "--epochs", "1", *flags])
    assert rc == 2
    assert capsys.readouterr().err.splitlines()[-1] == "isatsleepnet train: error: --folds-file and --fold go together"
    assert not (tmp_path / "out").exists()


def test_a_bad_engine_value_in_a_config_file_names_the_file_and_a_flag_over_it_the_flag(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('[train]\nmax_epochs = 2\n[engine]\nthreads = "many"\n')
    args = ["train", "--data", str(tmp_path / "no-such-data"), "--out", str(tmp_path / "out"), "--config", str(config)]
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines()[-1] == ("isatsleepnet train: error: run.toml: [engine] threads must be "
                                                        "a whole number of at least 1, not 'many'")
    config.write_text("[train]\nmax_epochs = 0\n")
    assert main([*args, "--epochs", "0"]) == 2  # the flag's own value is wrong: the flag is named
    assert capsys.readouterr().err.splitlines()[-1] == "isatsleepnet train: error: --epochs must be a whole number of at least 1, not 0"
