"""`python -m videosdgx_export <command>`: export, replica, reference. Errors are one line, never a trace."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Callable, TypeVar

from .errors import ExportError


T = TypeVar("T")


def _from_args(cls: type[T], args: argparse.Namespace, **given: Any) -> T:
    """A dataclass from the parsed options of the same names (argparse dests are the field names); an option
    left unset (None) takes the field's default, which may differ per family."""
    has_default = lambda f: f.default is not MISSING or f.default_factory is not MISSING  # noqa: E731
    values = {
        f.name: getattr(args, f.name)
        for f in fields(cls)  # type: ignore[arg-type]
        if hasattr(args, f.name) and not (getattr(args, f.name) is None and has_default(f))
    }
    return cls(**{**values, **given})


@dataclass(frozen=True)
class Family:
    """What each command runs for one family (imported on use: torch and diffusers load slowly)."""

    export: Callable[[argparse.Namespace], Any]
    replica: Callable[[Path, int], Path]
    # diffusers' own pipeline for the family, where diffusers has one; MAGI-1 is not in diffusers: its
    # reference is upstream's tiled VAE decode of one chunk over the re-implemented decoder (magi/reference.py).
    reference: Callable[[argparse.Namespace], Path] | None = None
    # The family's image-to-video checkpoint, where it has one (Wan: WanImageToVideoPipeline).
    i2v_replica: Callable[[Path, int], Path] | None = None


def _wan_export(args: argparse.Namespace) -> Any:
    from .wan.export import ExportOptions, export_wan

    return export_wan(_from_args(ExportOptions, args), log=_log)


def _wan_replica(out: Path, seed: int) -> Path:
    from .replica import save_tiny_checkpoint

    return save_tiny_checkpoint(out, seed)


def _wan_i2v_replica(out: Path, seed: int) -> Path:
    from .replica import save_tiny_checkpoint

    return save_tiny_checkpoint(out, seed, i2v=True)


def _wan_reference(args: argparse.Namespace) -> Path:
    from .wan.reference import ReferenceRequest, write_reference

    width, height = args.size
    return write_reference(args.source, args.out, _from_args(ReferenceRequest, args, width=width, height=height))


def _ltx2_export(args: argparse.Namespace) -> Any:
    from .ltx2.export import ExportOptions, export_ltx2

    if args.quantize:
        raise ExportError(f"--quantize {args.quantize}: quantized exports exist for wan only so far; export ltx2 without it")

    return export_ltx2(_from_args(ExportOptions, args), log=_log)


def _ltx2_replica(out: Path, seed: int) -> Path:
    from .ltx2.replica import save_tiny_checkpoint

    return save_tiny_checkpoint(out, seed)


def _ltx2_reference(args: argparse.Namespace) -> Path:
    from .ltx2.reference import ReferenceRequest, write_reference

    width, height = args.size
    given = {"width": width, "height": height, "negative_prompt": args.negative_prompt or ""}
    return write_reference(args.source, args.out, _from_args(ReferenceRequest, args, **given))


def _magi_export(args: argparse.Namespace) -> Any:
    from .magi.export import MagiExportOptions, export_magi

    if args.quantize:
        raise ExportError(f"--quantize {args.quantize}: quantized exports exist for wan only so far; export magi without it")
    return export_magi(_from_args(MagiExportOptions, args), log=_log)


def _magi_reference(args: argparse.Namespace) -> Path:
    from .magi.reference import write_reference

    if not args.latents_file:
        raise ExportError("reference --family magi decodes one chunk: give it --latents (float32 [1, 16, 6, H/8, W/8])")
    width, height = args.size
    return write_reference(args.source, args.out, args.latents_file, width, height)


def _magi_replica(out: Path, seed: int) -> Path:
    from .magi.replica import save_tiny_magi_checkpoint

    return save_tiny_magi_checkpoint(out, seed)


FAMILIES: dict[str, Family] = {
    "wan": Family(_wan_export, _wan_replica, _wan_reference, i2v_replica=_wan_i2v_replica),
    "ltx2": Family(_ltx2_export, _ltx2_replica, _ltx2_reference),
    "magi": Family(_magi_export, _magi_replica, _magi_reference),
}


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


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} must be integers separated by commas, e.g. 28 or 20,28") from None


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} must be WIDTHxHEIGHT, e.g. 64x48") from None
    return w, h


# Measured with onnxruntime 1.32 (the pinned one): a bfloat16 MatMul, Add or Mul has no CPU kernel, and
# Conv takes no bfloat16 at the opsets the exports use.
BF16_REFUSAL = ("--dtype bf16: a bfloat16 graph cannot be parity-checked or run by this platform: ONNX Runtime's CPU "
                "provider has no bfloat16 MatMul, Add or Mul (and Conv takes no bfloat16). Use --dtype fp16: the published bfloat16 weights "
                "are loaded in float16 as diffusers loads them (its float32 layers stay float32)")


def _parser() -> argparse.ArgumentParser:
    from .onnx_export import DEFAULT_EXTERNAL_DATA_ABOVE

    parser = argparse.ArgumentParser(prog="python -m videosdgx_export")
    sub = parser.add_subparsers(dest="command", required=True)

    exp = sub.add_parser("export", help="diffusers checkpoint -> VideosDGX ONNX model folder (parity-checked)")
    exp.add_argument("--family", required=True, choices=list(FAMILIES))
    exp.add_argument("--from", dest="source", required=True, type=Path, help="diffusers checkpoint folder")
    exp.add_argument("--out", required=True, type=Path, help="model folder to create (its name is the model name)")
    exp.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"], help="text encoder and transformer dtype (bf16 is refused, with why)")
    exp.add_argument("--quantize", choices=["int8", "int4"], help="quantize the transformer's weights (needs --dtype fp32)")
    exp.add_argument("--name", help="model name in the manifest (default: the --out folder's name)")
    exp.add_argument("--limits", help="request limits in the manifest: the model's (wan21, ltx2) or replica (default: the family's model)")
    exp.add_argument("--max-sequence-length", type=int, help="text tokens per prompt (Wan: 512, LTX-2: 1024)")
    exp.add_argument("--stg-blocks", type=_int_list, help="ltx2: transformer blocks STG perturbs (default 28, LTX2Pipeline's; the last block of a smaller model)")
    exp.add_argument("--external-data-above", type=int, metavar="BYTES", default=DEFAULT_EXTERNAL_DATA_ABOVE,
                     help="keep weights in model.onnx_data when a graph has more (default 1 GiB)")
    exp.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    exp.add_argument("--json", action="store_true", help="print the result as one JSON document")

    rep = sub.add_parser("replica", help="write a tiny checkpoint (Wan 2.1, LTX-2: diffusers; MAGI-1: Sand AI's layout) with seeded random weights")
    rep.add_argument("--family", default="wan", choices=list(FAMILIES))
    rep.add_argument("--out", required=True, type=Path)
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--i2v", action="store_true", help="the family's image-to-video checkpoint (wan: WanImageToVideoPipeline, CLIP image encoder, 36-channel transformer)")

    ref = sub.add_parser("reference", help="run diffusers' own pipeline (WanPipeline or WanImageToVideoPipeline, LTX2Pipeline) on a checkpoint and write its output; magi: one chunk through MAGI's tiled VAE decode")
    ref.add_argument("--family", default="wan", choices=[name for name, f in FAMILIES.items() if f.reference])
    ref.add_argument("--from", dest="source", required=True, type=Path)
    ref.add_argument("--out", required=True, type=Path, help="folder for reference.json and the raw tensors")
    ref.add_argument("--prompt", default="a red cat walking on the beach at sunset")
    ref.add_argument("--negative-prompt", default=None, help="default: Wan's own negative prompt; LTX-2's is empty")
    ref.add_argument("--size", type=_size, default=(64, 48), help="WIDTHxHEIGHT")
    ref.add_argument("--frames", type=int, default=9)
    ref.add_argument("--steps", type=int, default=4)
    ref.add_argument("--guidance", type=float, default=5.0)
    ref.add_argument("--seed", type=int, default=42, help="seed of the initial latents (torch.randn)")
    ref.add_argument("--latents", dest="latents_file", help="raw float32 initial latents (wan: [1, 16, F_lat, H/8, W/8]; ltx2: video then audio noise) instead of --seed's; magi: the clean chunk to decode")
    ref.add_argument("--max-sequence-length", type=int, help="default: the pipeline's (Wan 512, LTX-2 1024)")
    ref.add_argument("--image", help="wan: the first frame (an image file), for a WanImageToVideoPipeline checkpoint")
    ltx = ref.add_argument_group("ltx2 guidance (LTX2Pipeline's arguments and defaults)")
    ltx.add_argument("--fps", type=float, default=24.0)
    for option in ("stg-scale", "modality-scale", "guidance-rescale", "audio-guidance-scale", "audio-stg-scale",
                   "audio-modality-scale", "audio-guidance-rescale"):
        ltx.add_argument(f"--{option}", type=float)
    ltx.add_argument("--stg-blocks", type=_int_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _quiet_libraries()
        family = FAMILIES[args.family]
        if args.command == "export":
            from .parity import summarize

            if args.dtype == "bf16":
                raise ExportError(BF16_REFUSAL)

            result = family.export(args)
            quality = summarize(result.deviations)
            if args.json:
                print(json.dumps({"out": str(result.out), "manifest": result.manifest, "source_record": result.source_record,
                                  "quality": quality}, indent=2))
            else:
                print(f"exported {result.out} (parity ok, {len(result.deviations)} cases)")
                for row in quality:
                    print(f"  {row['graph']}: deviation {row['deviation']:.3g} (tolerance {row['tolerance']:g}), "
                          f"relative L2 {row['rel_l2']:.3g}, cosine {row['cosine']:.6f}")
        elif args.command == "replica":
            if args.i2v and family.i2v_replica is None:
                raise ExportError(f"--i2v: family {args.family} has no image-to-video replica (wan has)")
            print((family.i2v_replica if args.i2v else family.replica)(args.out, args.seed))
        else:
            assert family.reference is not None  # argparse offers only families that have one
            print(family.reference(args))
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    return 0
