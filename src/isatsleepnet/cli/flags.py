"""How the command line spells the library's settings: the one table of setting -> flag.

Library messages name settings as ``{setting}`` (see :mod:`isatsleepnet.errors`); the CLI
prints them with :func:`message`, which spells each as the flag a user types. A setting is
spelled ``--setting-name`` unless this table says otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from isatsleepnet.errors import DataError, IsatSleepNetError, SettingError, describe_exception, render, with_settings_renamed

FLAGS: dict[str, str] = {
    # training settings (TrainConfig fields) whose flag is shorter than the field
    "learning_rate": "--lr",
    "max_epochs": "--epochs",
    "accumulate_grad_batches": "--accumulate",
    "early_stopping_patience": "--patience",
    "balanced_sampling": "--balanced",
    "context_learning_rate": "--context-lr",
    "grad_clip_norm": "--grad-clip",
    # staging settings (StageOptions fields) spelled after the flag
    "start_s": "--start",
    "end_s": "--end",
    "gan_max_epochs": "--gan-epochs",
    # augment_dataset's keywords
    "gan_dir": "--gan",
    # keywords of the fold and split functions (cross_validate, make_folds, training_split)
    "n_folds": "--folds",
    "only_fold": "--fold",
    "validation_subjects": "--val-subjects",
}
"""Settings whose flag is not ``--`` plus the name with dashes."""

CONFIG_FILE_ONLY: frozenset[str] = frozenset({
    # TrainConfig fields that no flag of train or cv sets
    "lr_step_start", "lr_step_size", "lr_gamma", "class_weighted", "init_sha256", "model",
    # GanConfig fields that no flag of train-gan sets (its checks name these)
    "min_steps_per_epoch", "noise_dim", "clip", "g_base_channels", "g_upsamplings", "g_spectral_channels",
    "g_freq_rank", "g_gain_bins", "d_channels", "d_kernel", "lr_g", "lr_d", "lr_step", "g_every", "reg_every",
    "holdout_fraction",
})
"""Settings only a configuration file sets: spelled ``name (in the config file)``."""

QUIET_HELP = "no progress bars nor status lines (results, notes and warnings stay)"
"""Every command's --quiet: the library's status lines and tqdm's bars go, what the command reports stays."""


def flag(setting: str) -> str:
    """The flag that sets ``setting`` on the command line.

    Examples
    --------
    >>> flag("learning_rate")
    '--lr'
    >>> flag("min_confidence")
    '--min-confidence'
    """
    if setting in CONFIG_FILE_ONLY:
        return f"{setting} (in the config file)"
    return FLAGS.get(setting, "--" + setting.replace("_", "-"))


def message(exc: BaseException) -> str:
    """One line for ``exc`` in the command line's words.

    Examples
    --------
    >>> message(IsatSleepNetError("{max_epochs} must be at least 1"))
    '--epochs must be at least 1'
    """
    if isinstance(exc, IsatSleepNetError):
        return exc.render(flag)
    return words(describe_exception(exc))


def renamed(exc: IsatSleepNetError, **names: str) -> IsatSleepNetError:
    """``exc`` about the settings ``names`` maps it to: a library setting that a command sets by another flag.

    Why: the table above gives one flag per setting, but ``train --gan-epochs`` sets the ``epochs`` of
    the GAN settings and ``train --augment`` their ``mode``; the command that knows says so.

    Examples
    --------
    >>> from isatsleepnet.errors import SettingError
    >>> message(renamed(SettingError("epochs", "must be at least 1"), epochs="gan_epochs"))
    '--gan-epochs must be at least 1'
    """
    return with_settings_renamed(exc, **names)


def words(template: str) -> str:
    """A message template kept as text by the library (a failed recording's line) in flags.

    Examples
    --------
    >>> words("b.edf: unexpected bug ({debug} shows the traceback)")
    'b.edf: unexpected bug (--debug shows the traceback)'
    """
    return render(template, flag)


class RenamedFlag(argparse.Action):
    """An old spelling of a renamed flag, still taken (scripts keep working) with a note naming the new one.

    Hidden from --help. ``add_argument("--subjects", dest="subjects", type=int, action=RenamedFlag,
    new="--n-subjects", why="a count; --subjects names subjects in the other commands")``.
    """

    def __init__(self, option_strings: list[str], dest: str, *, new: str, why: str = "", **kwargs) -> None:
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.new, self.why = new, why

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        why = f" ({self.why})" if self.why else ""
        print(f"note: {option_string} is spelled {self.new} now{why}", file=sys.stderr)
        setattr(namespace, self.dest, values)


@contextlib.contextmanager
def named_as_in_file(config_file: Path | None, keys: set[str], *, table: str = "") -> Iterator[None]:
    """A bad value that ``config_file`` gave (one of ``keys``, no flag overriding it) is said as the file's key,
    naming the file: the user never typed the flag that the setting's error would name."""
    try:
        yield
    except SettingError as exc:
        if config_file is None or exc.setting not in keys:
            raise
        where = f"[{table}] " if table else ""
        raise DataError(config_file, f"{where}{exc.setting} {exc.problem}") from None
