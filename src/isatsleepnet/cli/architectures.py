"""`isatsleepnet architectures`: the registered networks, their inputs and their settings."""

from __future__ import annotations

import argparse
import json

DESCRIPTION = """\
List the architectures `train`, `cv`, `evaluate`, `stage` and `export` can use
(--architecture NAME, or `architecture = "NAME"` in the [model] table of a
--config file): what each reads, where it is published, its number of weights
with its default settings, and (with --settings) every setting and its default,
which --model-option KEY=VALUE overrides."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "architectures", help="list the registered architectures (--architecture NAME), their inputs and settings",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  isatsleepnet architectures\n  isatsleepnet architectures --settings --json",
    )
    p.add_argument("--settings", action="store_true", help="also list every setting with its default")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.model.catalogue import describe_architectures

    entries = describe_architectures(settings=args.settings)
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    for entry in entries:
        print(f"{entry['name']}: {entry['summary']}")
        print(f"  inputs: {entry['inputs']}")
        print(f"  epochs per window: {entry['epochs_per_window']}; weights with the defaults: "
              f"{entry['parameters']:,}; sizes: {', '.join(entry['sizes'])}")
        print(f"  reference: {entry['reference']}")
        training = ", ".join(f"{k} {v}" for k, v in entry["training"].items())
        print(f"  training: {training or 'the defaults of train and cv'} (flags override)")
        for key, value in (entry.get("settings") or {}).items():
            print(f"    {key} = {json.dumps(value)}")
    return 0
