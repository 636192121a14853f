"""`isatsleepnet model-info`: what a model file says about itself (its model card)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from isatsleepnet.errors import IsatSleepNetError

DESCRIPTION = """\
Print the model card of a model file (model.pt from `train` or `cv`, or an ONNX
export): architecture and size, context, channels with their derivations and
rate, training data (datasets, subjects, nights, epochs per stage, real or
synthetic, the hashes of the source files it saw), augmentation, parent model
(fine-tuning), selection, validation and test metrics, software version, and
the intended use and limits. The same text is the MODEL_CARD.md that `train` and
`cv` write beside every model.pt. --json prints the card as JSON. For an int8
export, a last line says which integer instructions this CPU offers it (and
whether int8 should run faster than float32 here)."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "model-info", help="print a model file's model card (what it is, what it was trained on, its metrics)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  isatsleepnet model-info models/edf20/model.pt\n"
               "  isatsleepnet model-info models/edf20.onnx --json > card.json",
    )
    p.add_argument("model", type=Path, metavar="MODEL", help="model file (.pt) or its ONNX export (.onnx)")
    p.add_argument("--json", action="store_true", help="print the card as JSON instead of text")
    p.set_defaults(run=run)


def read_card(path: Path) -> dict[str, Any]:
    """The card of a model file, or the one an ONNX export carries (checked with the export's checksum)."""
    if not path.is_file():
        raise IsatSleepNetError(f"{path}: {'a folder, not a model file' if path.is_dir() else 'model file not found'}")
    if path.suffix.lower() == ".onnx":
        from isatsleepnet.inference.onnx_backend import checked_metadata

        card = checked_metadata(path.read_bytes(), path).get("card")
        if not isinstance(card, dict):
            raise IsatSleepNetError(f"{path}: exported before model cards existed; export it again from its model.pt "
                                    "(`isatsleepnet export`), or run model-info on the model.pt")
        return {**card, "file": str(path), "exported_from": card.get("file")}
    from isatsleepnet.model.card import model_card
    from isatsleepnet.model.file import load_model_file

    return model_card(load_model_file(path))


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.model.card import card_markdown

    card = read_card(args.model)
    support = None
    if card.get("quantization"):  # an int8 export: whether this CPU runs it fast is the reader's business too
        from isatsleepnet.inference.int8_cpu import int8_support

        support = int8_support()
    if args.json:
        extra = {"int8_on_this_cpu": {"instructions": support.instructions, "fast": support.fast}} if support else {}
        print(json.dumps({**card, **extra}, indent=2))
    else:
        print(card_markdown(card) + (f"\n{support.describe()}\n" if support else ""), end="")
    return 0
