"""The architectures by name: one table from a name to everything the project needs of a network.

Why a table: a model file, a training run and a command name an architecture,
and everything else (its configuration with the paper's defaults, the network
builder, its fast inference graph, its fine-tuning groups, what it reads) is
looked up here, so that adding an architecture is one entry plus its own
module. Entries name their classes as ``"module:attribute"`` strings, imported on
first use: reading this table (``isatsleepnet architectures``, the checks of an
ONNX model's metadata) needs no torch.

A configuration class must be a frozen dataclass that validates itself in
``__post_init__`` (raising :class:`~isatsleepnet.model.config.ModelConfigError`)
and holds at least ``roles`` (the input channels' roles, in order), ``n_samples``,
``sampling_rate`` and ``n_classes``: a run fills the first three from its data.

Model files written before this table existed name no architecture; they are
ISATSleepNet files (:data:`DEFAULT_ARCHITECTURE`).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from isatsleepnet.references import resolve
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.model.config import MODEL_SIZES, ModelConfigError

DEFAULT_ARCHITECTURE = "isatsleepnet"

PAPER_TRAINING: Mapping[str, str | None] = {
    "learning_rate": "learning_rate", "batch_size": "batch_size", "weight_decay": "weight_decay",
    "grad_clip_norm": "grad_clip_norm", "loss": "loss", "epochs": "max_epochs", "betas": None, "amsgrad": None,
}
"""Fields of the baselines' configurations that record their paper's training (:meth:`Architecture.training_defaults`
reads some) -> the training setting that sets it (None: fixed, AdamW's own). Neither the network nor the
training reads them: they are no model settings (a run sets the training's own, ``--lr``...)."""
"""The architecture of a model file or a run that names none."""



def _kind_of(default: Any) -> str:
    """The kind of value a configuration field takes, read from its default ('' for none checked)."""
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, numbers.Integral):
        return "a whole number"
    if isinstance(default, numbers.Real):
        return "a number"
    if isinstance(default, str):
        return "a text"
    if isinstance(default, (tuple, list)):
        return "a list"
    return ""


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "true or false":
        return isinstance(value, bool)
    if kind == "a whole number":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind == "a number":
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind == "a text":
        return isinstance(value, str)
    return isinstance(value, (tuple, list))

@dataclass(frozen=True)
class Architecture:
    """One registered architecture.

    Parameters
    ----------
    name
        The registry key (``--architecture NAME``), lower case.
    title
        Its name as its paper spells it (model cards, tables).
    summary
        One line for ``isatsleepnet architectures``.
    reference
        Where it is published (the module's docstring cites it in full).
    config
        ``"module:Class"`` of its configuration dataclass (published defaults).
    network
        ``"module:callable"`` building the training network from a configuration.
    inputs
        What it reads, in words (channel roles, rate, epochs per window).
    window_setting
        None: one epoch in, one stage out (input (batch, channels, samples),
        output (batch, 5)). A sequence-to-sequence network (many epochs in, one
        stage per epoch out: input (batch, L, channels, samples), output
        (batch, L, 5)) names the configuration setting that holds ``L``; training
        reads windows of ``L`` consecutive epochs
        (:class:`~isatsleepnet.training.windows.WindowDataset`) and staging reads
        each epoch in the window where it is most central
        (:mod:`~isatsleepnet.model.context_plan`).
    graph_settings
        Configuration overrides per graph (``"eager"``: the reference graph that
        ONNX exports; ``"fast"``: the training graph); none when one graph serves.
    fused
        Name of the network's method returning its eval-only inference graph
        (None: the fast graph in eval mode, one slice of the batch per core).
    exported
        ``"module:callable"`` turning the fast-graph network into the graph
        `export` writes to ONNX, ``(network, form=...)`` with form ``"float"``
        or ``"int8"`` (None: the eager graph is exported as it is).
    extractors
        The child modules ``--freeze extractors`` keeps as they are (the
        per-channel feature extractors; empty: the choice is refused).
    heads
        The child modules that ``--freeze encoder`` still trains (the classifier).
    sizes
        Named sizes as configuration overrides (``--model-size``).
    training
        Training settings of its paper beyond those its configuration holds
        (see :meth:`training_defaults`).

    Examples
    --------
    >>> get_architecture("isatsleepnet").window_setting is None
    True
    """

    name: str
    title: str
    summary: str
    reference: str
    config: str
    network: str
    inputs: str
    window_setting: str | None = None
    graph_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    fused: str | None = None
    exported: str | None = None
    extractors: tuple[str, ...] = ()
    heads: tuple[str, ...] = ("head",)
    sizes: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: {"paper": {}})
    training: Mapping[str, Any] = field(default_factory=dict)

    def training_defaults(self) -> dict[str, Any]:
        """The training settings its paper gives, as :class:`~isatsleepnet.training.config.TrainConfig` fields.

        ``learning_rate``, ``batch_size`` and ``weight_decay`` come from the
        configuration's own fields of those names (the module documents them);
        ``training`` adds the rest (loss mix, schedule). Empty for ISATSleepNet:
        TrainConfig's defaults are its paper's.
        """
        defaults = self.make_config({})
        taken = {key: getattr(defaults, key) for key in ("learning_rate", "batch_size", "weight_decay",
                                                         "grad_clip_norm") if hasattr(defaults, key)}
        return {**taken, **self.training}

    def config_class(self) -> type:
        """The configuration dataclass (imported on first use)."""
        return resolve(self.config)

    def settings(self) -> tuple[str, ...]:
        """The names of the configuration's fields."""
        return tuple(f.name for f in dataclasses.fields(self.config_class()))

    def make_config(self, settings: Mapping[str, Any], graph: str | None = None) -> Any:
        """The validated configuration from plain settings (a model file's, a run's).

        ``graph`` applies that graph's overrides (``graph_settings``). An unknown
        setting, a value of another kind than the field's default (text for a number)
        or a value out of range is a :class:`ModelConfigError`.
        """
        known = set(self.settings())
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ModelConfigError(f"{self.name}: unknown setting(s) {', '.join(unknown[:5])}; it has "
                                   f"{', '.join(sorted(known))}")
        overrides = dict(self.graph_settings.get(graph, {})) if graph else {}
        defaults = {f.name: f.default for f in dataclasses.fields(self.config_class())}
        for key, value in settings.items():
            kind = _kind_of(defaults[key])
            if kind and not _is_kind(value, kind):
                raise ModelConfigError(f"{self.name}: {key} must be {kind} such as {defaults[key]!r}, got {value!r}")
        return self.config_class()(**{**settings, **overrides})  # a ModelConfigError says what is wrong

    def window_length(self, config: Any) -> int:
        """Epochs per input window of a configuration: 0 for a network that stages each epoch alone."""
        return int(getattr(config, self.window_setting)) if self.window_setting else 0

    def build(self, config: Any) -> Any:
        """The network (an ``nn.Module``, training mode) of a configuration."""
        return resolve(self.network)(config)

    def inference_graph(self, network: Any) -> Any:
        """The eval-only graph staging runs: the architecture's fused one where it has one, otherwise the
        network under ``inference_mode`` with one slice of the batch per core
        (:class:`~isatsleepnet.model.parallel.SplitBatchInference`)."""
        from isatsleepnet.model.parallel import SplitBatchInference

        network = network.eval()
        return getattr(network, self.fused)() if self.fused else SplitBatchInference(network)

    def export_graph(self, network: Any, eager: Any, *, form: str = "float") -> Any:
        """The graph `export` writes: ``exported`` applied to ``network`` (the fast graph) where the
        architecture has one, otherwise ``eager`` (the reference graph) as it is."""
        return resolve(self.exported)(network, form=form) if self.exported else eager

    def size_options(self, size: str) -> dict[str, Any]:
        """The configuration overrides of a named size."""
        try:
            return dict(self.sizes[size])
        except KeyError:
            raise ModelConfigError(f"{self.name} has no size {size!r}; known: {', '.join(self.sizes)}") from None


ARCHITECTURES: dict[str, Architecture] = {}
"""The registered architectures by name; :func:`register` adds one."""


def register(architecture: Architecture, *, replace: bool = False) -> Architecture:
    """Add an architecture to the table (a plug-in's or a test's); a taken name is refused unless ``replace``.

    Examples
    --------
    >>> sorted(ARCHITECTURES)[0] in ARCHITECTURES
    True
    """
    name = architecture.name
    if not name or name != name.strip().lower() or " " in name:
        raise IsatSleepNetError(f"architecture name {name!r}: use a lower-case word")
    if name in ARCHITECTURES and not replace:
        raise IsatSleepNetError(f"architecture {name!r} is already registered")
    ARCHITECTURES[name] = architecture
    return architecture


def unregister(name: str) -> None:
    """Remove an architecture (tests that registered one of their own)."""
    if name == DEFAULT_ARCHITECTURE:
        raise IsatSleepNetError(f"{name!r} cannot be removed")
    ARCHITECTURES.pop(name, None)


def get_architecture(name: str | None) -> Architecture:
    """The architecture of a name (None: :data:`DEFAULT_ARCHITECTURE`); an unknown name in one line.

    Examples
    --------
    >>> get_architecture(None).name
    'isatsleepnet'
    """
    name = DEFAULT_ARCHITECTURE if name is None else name
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise IsatSleepNetError(f"unknown architecture {name!r}; registered: {', '.join(sorted(ARCHITECTURES))}"
                                " (see `isatsleepnet architectures`)") from None


register(Architecture(
    name="isatsleepnet",
    title="ISATSleepNet",
    summary="multi-scale EEG, ocular-dynamics EOG, similarity-gated cross-modal attention, BiLSTM, "
            "self-attention, attractor-state readout; optional context head over neighbouring epochs",
    reference='the ISATSleepNet paper, "ISATSleepNet: A Neuro-Inspired Sleep Staging Network with Interactive '
              'Temporal Attention" (cited in README.md)',
    config="isatsleepnet.model.config:ModelConfig",
    network="isatsleepnet.model.context:build_network",
    inputs="one or more EEG roles (eeg, eeg2, ...) and optional EOG roles (eog, ...); any rate and epoch "
           "length; one epoch per stage (context N: a window of N epochs)",
    graph_settings={"eager": {"use_fast_conv": False}, "fast": {"use_fast_conv": True}},
    fused="fuse_for_inference",
    exported="isatsleepnet.model.onnx_form:export_graph",
    extractors=("eeg", "eog"),
    heads=("head", "context"),
    sizes=MODEL_SIZES,
))

register(Architecture(
    name="tinysleepnet",
    title="TinySleepNet",
    summary="CNN per 30-s epoch, unidirectional LSTM over a window of epochs (CNN + RNN baseline)",
    reference="Supratak & Guo, EMBC 2020, doi:10.1109/EMBC44109.2020.9176741",
    config="isatsleepnet.model.tinysleepnet:TinySleepNetConfig",
    network="isatsleepnet.model.tinysleepnet:TinySleepNet",
    inputs="one EEG channel as published (chosen with the channels setting); more channels as an option; "
           "any rate (the first kernel spans 0.5 s); windows of sequence_length (20) consecutive epochs, "
           "one stage per epoch",
    window_setting="sequence_length",
    extractors=("cnn",),
    heads=("head",),
    # Adam at a constant rate with L2 on the convolution kernels, gradient norm clipped at 5, cross entropy alone
    # (the project's weights from the class counts, not the paper's fixed 1, 1.5, 1, 1, 1), one window batch per step
    training={"optimizer": "adam", "loss_alpha": 1.0, "lr_gamma": 1.0, "accumulate_grad_batches": 1},
))

register(Architecture(
    name="utime",
    title="U-Time",
    summary="fully convolutional encoder-decoder over a window of epochs, segment classifier to 30-s stages",
    reference="Perslev et al., NeurIPS 2019 (U-Time: a fully convolutional network for time series "
              "segmentation applied to sleep staging)",
    config="isatsleepnet.model.utime:UTimeConfig",
    network="isatsleepnet.model.utime:UTime",
    inputs="one EEG channel as published (chosen with the channels setting); more channels as an option; "
           "100 Hz as published (kernels and pools in samples); windows of sequence_length (35) consecutive epochs",
    window_setting="sequence_length",
    heads=("dense", "head"),
    # Adam at a constant rate, no weight decay, the generalized Dice loss
    training={"optimizer": "adam", "loss": "generalized-dice", "lr_gamma": 1.0, "accumulate_grad_batches": 1,
              "weight_decay": 0.0},
))

register(Architecture(
    name="attnsleep",
    title="AttnSleep",
    summary="multi-resolution CNN, adaptive feature recalibration, temporal-context transformer encoder "
            "(CNN + Transformer baseline)",
    reference="Eldele et al., IEEE TNSRE 29 (2021) 809-818",
    config="isatsleepnet.model.attnsleep:AttnSleepConfig",
    network="isatsleepnet.model.attnsleep:AttnSleep",
    inputs="one EEG channel as published (chosen with the channels setting); more channels as an option; "
           "any rate (the first kernels span 0.5 s and 4 s); one epoch per stage",
    extractors=("high", "low"),
    heads=("classifier",),
    # Adam with AMSGrad and L2 weight decay at a constant rate, class-weighted cross entropy alone (the project's
    # weights from the class counts)
    training={"optimizer": "amsgrad", "loss_alpha": 1.0, "lr_gamma": 1.0, "accumulate_grad_batches": 1},
))
