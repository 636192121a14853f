"""Every file `stage` can write for a recording NAME, in one table: :data:`OUTPUT_FORMATS`.

Why one table: the suffix list (stale files of an earlier run are removed by it), the
writing itself (:func:`~isatsleepnet.inference.outputs.write_outputs`), the command
line's flags and ``--help``, the Python API's :meth:`Night.write` keywords and the
settings :class:`~isatsleepnet.inference.options.StageOptions` accepts all come from it,
so that an output is added (or a suffix changed) in one place.

An entry names its file (``NAME`` + ``suffix``), its writer, and the *setting* that turns
it on (None: always written). Entries may share a setting: ``plots`` switches both figures,
and ``annotations`` picks among the annotation files by each entry's ``choice`` (a choice
setting also takes "both", or "all" for more than two choices, to write every one).

Examples
--------
>>> [f.suffix for f in OUTPUT_FORMATS.values()][:3]
['.hypnogram.csv', '.hypnogram.json', '.annotations.edf']
>>> is_output_file("night.annotations.edf"), is_output_file("night.edf")
(True, False)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Union

from isatsleepnet.references import resolve
from isatsleepnet.errors import IsatSleepNetError


class WriterContext(Protocol):
    """What the table knows of a writer's context: the files written so far in this run (format name -> path).

    Every writer is given an :class:`~isatsleepnet.inference.outputs.OutputContext`; this module types
    it as a Protocol because ``outputs`` imports this table, so that the import runs one way.
    """

    @property
    def written(self) -> dict[str, Path]: ...


Writer = Callable[[Path, Any], Path]
"""A writer: ``(path, context) -> path written``, ``context`` an
:class:`~isatsleepnet.inference.outputs.OutputContext`; it writes one file, all or nothing
(:mod:`isatsleepnet.atomic`)."""

SettingValue = Union[bool, str]


@dataclass(frozen=True)
class OutputFormat:
    """One file `stage` can write for a recording NAME.

    Attributes
    ----------
    name : str
        Identifier (letters, digits, ``_``), unique in the table.
    suffix : str
        The file is NAME + suffix; starts with a dot, unique in the table.
    writer : str or callable
        ``"module:function"`` (imported when first used) or a function ``(path, context) -> Path``
        (:class:`~isatsleepnet.inference.outputs.OutputContext`).
    help : str
        What the file holds, one or more lines, for ``--help`` and the docs.
    setting : str or None
        The switch that turns it on: a :class:`StageOptions` field or ``outputs`` key, a
        :meth:`Night.write` keyword, a flag of `stage` (``--SETTING``, or ``--no-SETTING`` for
        one on by default). None: always written.
    default : bool
        On unless told otherwise (for a choice setting: this choice is the default).
    choice : str or None
        For a setting that picks among files (``annotations="tsv"``): the value that writes this one.
    setting_help : str
        Help of the setting's flag; given on the first entry of a setting.
    """

    name: str
    suffix: str
    writer: str | Writer
    help: str
    setting: str | None = None
    default: bool = True
    choice: str | None = None
    setting_help: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise IsatSleepNetError(f"output format name must be an identifier, not {self.name!r}")
        if not self.suffix.startswith(".") or len(self.suffix) < 2 or "/" in self.suffix:
            raise IsatSleepNetError(f"output format {self.name}: suffix must start with a dot, not {self.suffix!r}")
        if self.setting is not None and not self.setting.isidentifier():
            raise IsatSleepNetError(f"output format {self.name}: setting must be an identifier, not {self.setting!r}")
        if self.choice is not None and self.setting is None:
            raise IsatSleepNetError(f"output format {self.name}: a choice needs a setting")
        if isinstance(self.writer, str) and ":" not in self.writer:
            raise IsatSleepNetError(f"output format {self.name}: writer must be 'module:function', not {self.writer!r}")

    def write(self, path: Path, context: WriterContext) -> Path:
        """Write this file at ``path`` with the writer of the entry; returns the path written."""
        return resolve(self.writer)(path, context)


@dataclass(frozen=True)
class OutputSetting:
    """A switch of one or more output formats, as the command line and :meth:`Night.write` see it."""

    name: str
    default: SettingValue
    choices: tuple[str, ...] = ()  # empty: a bool setting
    help: str = ""

    @property
    def all_choices(self) -> str:
        """The value of a choice setting that writes every choice."""
        return "both" if len(self.choices) == 2 else "all"

    def check(self, value: object) -> None:
        """Refuse a value the setting cannot take, in one line naming the setting."""
        if self.choices:
            values = (*self.choices, self.all_choices)
            if value not in values:
                raise IsatSleepNetError(f"{self.name} must be one of {', '.join(values)}")
        elif value not in (True, False):  # bool, or 0/1 and NumPy's bools
            raise IsatSleepNetError(f"{self.name} must be True or False, not {value!r}")

    def selects(self, entry: OutputFormat, value: SettingValue) -> bool:
        """Whether ``value`` of this setting turns ``entry`` on."""
        if self.choices:
            return value in (entry.choice, self.all_choices)
        return bool(value)


_M = "isatsleepnet.inference.output_writers:"
OUTPUT_FORMATS: dict[str, OutputFormat] = {}
"""The table, in writing order (a writer may read what an earlier one wrote: the report embeds the figures)."""


def register_output(entry: OutputFormat) -> OutputFormat:
    """Add an output format at the end of :data:`OUTPUT_FORMATS`.

    Parameters
    ----------
    entry : OutputFormat
        Its name and suffix must be new; a setting it shares must be of the same kind.

    Returns
    -------
    OutputFormat
        ``entry``.

    Raises
    ------
    IsatSleepNetError
        A name or suffix already in the table, or a setting used both as a switch and as a choice.

    Examples
    --------
    >>> def write_stages(path, context):
    ...     path.write_text("".join(s[0] for s in context.stage_labels) + "\\n")
    ...     return path
    >>> entry = register_output(OutputFormat("stages_txt", ".stages.txt", write_stages,
    ...                                      "one letter per staged epoch", setting="stages_txt", default=False))
    >>> ".stages.txt" in output_suffixes()
    True
    >>> unregister_output("stages_txt") is entry
    True
    """
    if entry.name in OUTPUT_FORMATS:
        raise IsatSleepNetError(f"output format {entry.name!r} is already registered")
    taken = next((f for f in OUTPUT_FORMATS.values() if f.suffix.lower() == entry.suffix.lower()), None)
    if taken is not None:
        raise IsatSleepNetError(f"output format {entry.name}: suffix {entry.suffix} is {taken.name}'s")
    peers = [f for f in OUTPUT_FORMATS.values() if entry.setting is not None and f.setting == entry.setting]
    if peers and (peers[0].choice is None) != (entry.choice is None):
        raise IsatSleepNetError(f"output format {entry.name}: setting {entry.setting} is a "
                                f"{'switch' if peers[0].choice is None else 'choice'} of {peers[0].name}")
    if entry.choice is not None and any(f.choice == entry.choice for f in peers):
        raise IsatSleepNetError(f"output format {entry.name}: {entry.setting}={entry.choice!r} is taken")
    OUTPUT_FORMATS[entry.name] = entry
    return entry


def unregister_output(name: str) -> OutputFormat:
    """Remove the output format ``name`` (a plug-in's, or a test's) and return it.

    Examples
    --------
    >>> unregister_output("no_such_output")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.IsatSleepNetError: no output format 'no_such_output' (known: ...)
    """
    if name not in OUTPUT_FORMATS:
        raise IsatSleepNetError(f"no output format {name!r} (known: {', '.join(OUTPUT_FORMATS)})")
    return OUTPUT_FORMATS.pop(name)


def output_suffixes() -> tuple[str, ...]:
    """Every suffix `stage` may write, in table order.

    Examples
    --------
    >>> output_suffixes()[-2:]
    ('.sleep_stats.json', '.report.html')
    """
    return tuple(f.suffix for f in OUTPUT_FORMATS.values())


def output_file(out: str | Path, name: str, format_name: str) -> Path:
    """The file of format ``format_name`` (a key of :data:`OUTPUT_FORMATS`) that `stage` writes for ``name`` in
    ``out``: code that reads a staging back names the entry, never its suffix.

    Examples
    --------
    >>> output_file("staged", "night", "sleep_stats").as_posix()
    'staged/night.sleep_stats.json'
    """
    try:
        return Path(out) / (name + OUTPUT_FORMATS[format_name].suffix)
    except KeyError:
        raise IsatSleepNetError(f"no output format {format_name!r} (known: {', '.join(OUTPUT_FORMATS)})") from None


REVIEW_SUFFIXES = (".review.jsonl", ".reviewed.csv", ".reviewed.tsv", ".reviewed.edf", ".review.lock",
                   ".review-spectrogram.npz")
"""The files `review` writes beside a staged NAME (:mod:`isatsleepnet.review.session`). Not in
:data:`OUTPUT_FORMATS`: `stage` never writes nor removes them (a review outlives a re-staging's
clean-up), but they are outputs all the same, never read as recordings."""


def is_output_file(path: str | Path) -> bool:
    """Whether ``path`` is named like a file `stage` or `review` writes (case ignored), so that it is not
    read as input.

    Examples
    --------
    >>> is_output_file("runs/SC4001E0-PSG.Annotations.EDF"), is_output_file("SC4001E0-PSG.edf")
    (True, False)
    >>> is_output_file("SC4001E0-PSG.reviewed.edf")
    True
    """
    name = Path(path).name.lower()
    return any(name.endswith(s.lower()) and len(name) > len(s) for s in output_suffixes() + REVIEW_SUFFIXES)


def output_settings() -> dict[str, OutputSetting]:
    """The switches of the table by name, in order of first use: kind, default, choices, help.

    Examples
    --------
    >>> settings = output_settings()
    >>> list(settings)[:3], settings["annotations"].choices, settings["annotations"].default
    (['annotations', 'plots', 'report'], ('edf', 'tsv'), 'edf')
    """
    settings: dict[str, OutputSetting] = {}
    for entry in OUTPUT_FORMATS.values():
        if entry.setting is None:
            continue
        peers = [f for f in OUTPUT_FORMATS.values() if f.setting == entry.setting]
        if entry.setting in settings:
            continue
        text = next((f.setting_help for f in peers if f.setting_help), entry.help.splitlines()[0])
        if entry.choice is None:
            settings[entry.setting] = OutputSetting(entry.setting, any(f.default for f in peers), help=text)
        else:
            choices = tuple(str(f.choice) for f in peers)
            default = next((str(f.choice) for f in peers if f.default), choices[0])
            settings[entry.setting] = OutputSetting(entry.setting, default, choices, text)
    return settings


def formats_on(values: Mapping[str, SettingValue]) -> list[OutputFormat]:
    """The entries that ``values`` (setting -> value; a missing setting takes its default) turn on, in order.

    Examples
    --------
    >>> [f.name for f in formats_on({"annotations": "both", "plots": False, "report": False})]
    ['hypnogram_csv', 'hypnogram_json', 'annotations_edf', 'annotations_tsv', 'sleep_stats']
    """
    settings = output_settings()
    on = []
    for entry in OUTPUT_FORMATS.values():
        if entry.setting is None:
            on.append(entry)
            continue
        setting = settings[entry.setting]
        if setting.selects(entry, values.get(entry.setting, setting.default)):
            on.append(entry)
    return on


for _entry in (
    OutputFormat("hypnogram_csv", ".hypnogram.csv", _M + "write_hypnogram_csv",
                 "epoch, onset_s, stage, p_W, p_N1, p_N2, p_N3, p_REM, confidence, review\n"
                 "(+ expert with a reference hypnogram, clock_time when the start time is known)"),
    OutputFormat("hypnogram_json", ".hypnogram.json", _M + "write_hypnogram_json",
                 "the CSV's columns, units, epoch length, start, channels, model (BIDS sidecar)"),
    OutputFormat("annotations_edf", ".annotations.edf", _M + "write_annotations_edf",
                 "EDF+ stage annotations (EDFbrowser, mne.read_annotations)",
                 setting="annotations", choice="edf", default=True,
                 setting_help="annotation file: EDF+ (default; EDFbrowser and MNE), BIDS-style TSV, or both"),
    OutputFormat("annotations_tsv", ".annotations.tsv", _M + "write_annotations_tsv",
                 "the annotations as a BIDS-style events table (onset, duration, trial_type)",
                 setting="annotations", choice="tsv", default=False),
    OutputFormat("hypnogram_png", ".hypnogram.png", _M + "write_hypnogram_png",
                 "the hypnogram (with a reference: the expert's above it, kappa in the title)",
                 setting="plots", setting_help="skip the PNG figures (the report then has none)"),
    OutputFormat("hypnodensity_png", ".hypnodensity.png", _M + "write_hypnodensity_png",
                 "stage probabilities over the night, epochs to review marked", setting="plots"),
    OutputFormat("sleep_stats", ".sleep_stats.json", _M + "write_sleep_stats",
                 "TIB, TST, sleep efficiency, latencies, WASO, awakenings, minutes and % per stage"),
    OutputFormat("report", ".report.html", _M + "write_report",
                 "all of the above on one page", setting="report", setting_help="skip the HTML report"),
):
    register_output(_entry)
