"""The engine flags, spelled and meaning the same in every command that runs a model."""

from __future__ import annotations

import argparse

from isatsleepnet.engine import PRECISIONS, Engine, engine_from


def add_engine_arguments(p: argparse.ArgumentParser, *, training: bool = False, workers: bool = True) -> dict[str, str]:
    """--device, --threads, --precision (and --workers where a data loader runs; --devices, --num-nodes to train);
    returns each one's destination and flag."""
    e = p.add_argument_group("engine (where the model runs; it never changes what is computed beyond rounding)")
    e.add_argument("--device", help="auto (default: the first CUDA GPU if there is one, else the CPU), cpu, cuda, "
                                    "cuda:N or mps")
    e.add_argument("--threads", type=int, help="CPU threads for the model (default: the cores this process may use: "
                                               "its CPU affinity and CPU quota, or OMP_NUM_THREADS when that is "
                                               "fewer; see README on sharing a machine)")
    e.add_argument("--precision", choices=PRECISIONS,
                   help="auto (default: 16-mixed on CUDA, 32-true on the CPU), 32-true, 16-mixed or bf16-mixed")
    if workers:
        e.add_argument("--workers", type=int, help="data-loader worker processes (default 0: read in the main process)")
    if training:
        e.add_argument("--devices", help="devices per node: auto (default) or a number; more than one GPU runs DDP")
        e.add_argument("--num-nodes", type=int, help="nodes for multi-node DDP (default 1)")
    return {action.dest: action.option_strings[0] for action in e._group_actions}


def engine_from_args(args: argparse.Namespace, config_values: dict | None = None) -> Engine:
    """The validated Engine of the flags, over a config file's ``[engine]`` table (when given)."""
    names = ("device", "threads", "precision", "workers", "devices", "num_nodes")
    return engine_from(config_values, **{name: getattr(args, name, None) for name in names})
