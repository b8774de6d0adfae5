"""`python -m videosdgx_export <command>`: export, replica, reference. Errors are one line, never a trace."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from .errors import ExportError


T = TypeVar("T")


def _from_args(cls: type[T], args: argparse.Namespace, **given: Any) -> T:
    """A dataclass from the parsed options of the same names (argparse dests are the field names)."""
    values = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}  # type: ignore[arg-type]
    return cls(**{**values, **given})


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _quiet_libraries() -> None:
    # torch.onnx, diffusers and transformers warn about things that do not concern the user of a CLI.
    warnings.filterwarnings("ignore")
    import torch._logging

    torch._logging.set_logs(onnx=logging.ERROR, export=logging.ERROR)
    for name in ("torch.onnx", "onnxscript"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} must be WIDTHxHEIGHT, e.g. 64x48") from None
    return w, h


def _parser() -> argparse.ArgumentParser:
    from .onnx_export import DEFAULT_EXTERNAL_DATA_ABOVE

    parser = argparse.ArgumentParser(prog="python -m videosdgx_export")
    sub = parser.add_subparsers(dest="command", required=True)

    exp = sub.add_parser("export", help="diffusers checkpoint -> VideosDGX ONNX model folder (parity-checked)")
    exp.add_argument("--family", required=True, choices=["wan"])
    exp.add_argument("--from", dest="source", required=True, type=Path, help="diffusers checkpoint folder")
    exp.add_argument("--out", required=True, type=Path, help="model folder to create (its name is the model name)")
    exp.add_argument("--dtype", default="fp32", choices=["fp32", "fp16"], help="text encoder and transformer dtype")
    exp.add_argument("--name", help="model name in the manifest (default: the --out folder's name)")
    exp.add_argument("--limits", default="wan21", choices=["wan21", "replica"], help="request limits in the manifest")
    exp.add_argument("--max-sequence-length", type=int, default=512, help="text tokens per prompt (Wan: 512)")
    exp.add_argument("--external-data-above", type=int, metavar="BYTES", default=DEFAULT_EXTERNAL_DATA_ABOVE,
                     help="keep weights in model.onnx_data when a graph has more (default 1 GiB)")
    exp.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    exp.add_argument("--json", action="store_true", help="print the result as one JSON document")

    rep = sub.add_parser("replica", help="write a tiny diffusers Wan 2.1 checkpoint with seeded random weights")
    rep.add_argument("--out", required=True, type=Path)
    rep.add_argument("--seed", type=int, default=0)

    ref = sub.add_parser("reference", help="run diffusers' WanPipeline on a checkpoint and write its frames")
    ref.add_argument("--from", dest="source", required=True, type=Path)
    ref.add_argument("--out", required=True, type=Path, help="folder for reference.json and the raw tensors")
    ref.add_argument("--prompt", default="a red cat walking on the beach at sunset")
    ref.add_argument("--negative-prompt", default=None, help="default: Wan's own negative prompt")
    ref.add_argument("--size", type=_size, default=(64, 48), help="WIDTHxHEIGHT")
    ref.add_argument("--frames", type=int, default=9)
    ref.add_argument("--steps", type=int, default=4)
    ref.add_argument("--guidance", type=float, default=5.0)
    ref.add_argument("--seed", type=int, default=42, help="seed of the initial latents (torch.randn)")
    ref.add_argument("--latents", dest="latents_file", help="raw float32 initial latents [1, 16, F_lat, H/8, W/8] instead of --seed's")
    ref.add_argument("--max-sequence-length", type=int, default=512)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _quiet_libraries()
        if args.command == "export":
            from .wan.export import ExportOptions, export_wan

            result = export_wan(_from_args(ExportOptions, args), log=_log)
            if args.json:
                print(json.dumps({"out": str(result.out), "manifest": result.manifest}, indent=2))
            else:
                print(f"exported {result.out} (parity ok, {len(result.deviations)} cases)")
        elif args.command == "replica":
            from .replica import save_tiny_checkpoint

            print(save_tiny_checkpoint(args.out, args.seed))
        else:
            from .wan.reference import ReferenceRequest, write_reference

            width, height = args.size
            print(write_reference(args.source, args.out, _from_args(ReferenceRequest, args, width=width, height=height)))
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    return 0
