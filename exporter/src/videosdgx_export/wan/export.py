"""`export --family wan`: a diffusers Wan 2.1 checkpoint -> the platform's model folder, proven by parity.

The folder is written beside its destination under a hidden name and renamed into place only once every
graph has passed the parity check, so a failed or interrupted export never leaves a folder a worker
would load.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import footprint
from ..errors import ExportError, ParityError
from ..onnx_export import DEFAULT_EXTERNAL_DATA_ABOVE, OPSET, export_module
from ..parity import TOLERANCE, Deviation, check_graph
from .checkpoint import WanCheckpoint
from .graphs import (
    GraphSpec,
    TextEncoderGraph,
    TransformerGraph,
    WholeSequenceDecoder,
    text_encoder_spec,
    transformer_spec,
    vae_decoder_spec,
)
from .manifest import LIMITS, check_name, wan_manifest

DTYPES = {"fp32": (torch.float32, np.float32), "fp16": (torch.float16, np.float16)}
MANIFEST_FILE = "videosdgx.json"


@dataclass
class ExportOptions:
    source: Path
    out: Path
    dtype: str = "fp32"
    name: str | None = None
    limits: str = "wan21"
    max_sequence_length: int = 512
    external_data_above: int = DEFAULT_EXTERNAL_DATA_ABOVE
    overwrite: bool = False
    seed: int = 0


@dataclass
class ExportResult:
    out: Path
    manifest: dict[str, Any]
    deviations: list[Deviation] = field(default_factory=list)


Log = Callable[[str], None]
GRAPHS = ("text_encoder", "transformer", "vae_decoder")


def _free() -> None:
    gc.collect()


def _spec(ckpt: WanCheckpoint, graph: str, module: torch.nn.Module, opts: ExportOptions, vocab: int) -> GraphSpec:
    rng = np.random.default_rng(opts.seed + GRAPHS.index(graph))
    if graph == "text_encoder":
        return text_encoder_spec(module, vocab, opts.max_sequence_length, rng)
    if graph == "transformer":
        text_dim = int(ckpt.transformer_config.get("text_dim", 4096))
        return transformer_spec(module, DTYPES[opts.dtype][1], text_dim, opts.max_sequence_length, rng)
    return vae_decoder_spec(module, rng)


def _export_module(ckpt: WanCheckpoint, graph: str, dtype: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(the module in the graph's dtype as diffusers loads it, the graph wrapper around it)."""
    torch_dtype = DTYPES[dtype][0]
    if graph == "text_encoder":
        m = ckpt.text_encoder(torch_dtype)
        return m, TextEncoderGraph(m)
    if graph == "transformer":
        m = ckpt.transformer(torch_dtype)
        return m, TransformerGraph(m)
    m = ckpt.vae()  # float32 in every mode (wan-contract: the decoder is fp32)
    return m, WholeSequenceDecoder(m)


def _reference_module(ckpt: WanCheckpoint, graph: str) -> torch.nn.Module:
    """The float32 module the graph is compared with (the unmodified diffusers/transformers class)."""
    if graph == "text_encoder":
        return ckpt.text_encoder(torch.float32)
    if graph == "transformer":
        return ckpt.transformer(torch.float32)
    return ckpt.vae()


def _write_static_files(ckpt: WanCheckpoint, folder: Path) -> None:
    tokenizer = ckpt.tokenizer()
    tokenizer.save_pretrained(str(folder / "tokenizer"))
    if not (folder / "tokenizer/tokenizer.json").is_file():
        raise ExportError(f"{ckpt.root}/tokenizer did not produce a tokenizer.json")
    (folder / "scheduler").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ckpt.root / "scheduler/scheduler_config.json", folder / "scheduler/scheduler_config.json")
    for src, dst in (("text_encoder", "text_encoder"), ("transformer", "transformer"), ("vae", "vae_decoder")):
        (folder / dst).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ckpt.root / src / "config.json", folder / dst / "config.json")
    index = {
        "_class_name": ckpt.model_index["_class_name"],
        "_diffusers_version": ckpt.model_index.get("_diffusers_version"),
        "scheduler": ckpt.model_index.get("scheduler", ["diffusers", ckpt.scheduler_config.get("_class_name")]),
        "text_encoder": ["onnxruntime", "ORTModel"],
        "tokenizer": ["transformers", type(tokenizer).__name__],
        "transformer": ["onnxruntime", "ORTModel"],
        "vae_decoder": ["onnxruntime", "ORTModel"],
    }
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def _write_folder(
    ckpt: WanCheckpoint, folder: Path, opts: ExportOptions, after_export: Callable[[Path], None] | None, log: Log
) -> tuple[dict[str, Any], list[Deviation]]:
    _write_static_files(ckpt, folder)
    vocab = min(int(ckpt.text_encoder_config.get("vocab_size", 2)), len(ckpt.tokenizer()))

    for graph in GRAPHS:
        log(f"exporting {graph} ({'fp32' if graph == 'vae_decoder' else opts.dtype})")
        module, wrapper = _export_module(ckpt, graph, opts.dtype)
        spec = _spec(ckpt, graph, module, opts, vocab)
        export_module(wrapper, spec.example, spec.input_names, spec.output_name, spec.dynamic,
                      folder / graph / "model.onnx", opts.external_data_above)
        del module, wrapper, spec
        _free()
    if after_export is not None:
        after_export(folder)

    deviations: list[Deviation] = []
    for graph in GRAPHS:
        tolerance = TOLERANCE["fp32" if graph == "vae_decoder" else opts.dtype]
        reference = _reference_module(ckpt, graph)
        results = check_graph(folder / graph / "model.onnx", _spec(ckpt, graph, reference, opts, vocab), tolerance)
        del reference
        _free()
        worst = max(results, key=lambda d: d.deviation)
        log(f"parity {'ok  ' if all(d.ok for d in results) else 'FAIL'} {worst.describe()}")
        deviations += results
    failed = [d for d in deviations if not d.ok]
    if failed:
        lines = "\n  ".join(d.describe() for d in failed)
        raise ParityError(f"the exported graphs differ from the PyTorch modules beyond tolerance:\n  {lines}")

    memory = footprint.load_memory([folder / g / "model.onnx" for g in GRAPHS])
    record = {
        "source": str(ckpt.root),
        "dtype": opts.dtype,
        "opset": OPSET,
        "versions": _versions(),
        "parity": [d.as_json() for d in deviations],
        "load_memory": memory,
        "files": footprint.file_table(folder),
    }
    manifest = wan_manifest(
        name=check_name(opts.name or opts.out.name),
        display_name=f"Wan 2.1 ({ckpt.root.name}, {opts.dtype})",
        limits=opts.limits,
        vae_config=ckpt.vae_config,
        transformer_config=ckpt.transformer_config,
        max_sequence_length=opts.max_sequence_length,
        memory=memory,
        export_record=record,
    )
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest, deviations


def _versions() -> dict[str, str]:
    import diffusers
    import onnx
    import onnxruntime
    import transformers

    return {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def export_wan(
    opts: ExportOptions, after_export: Callable[[Path], None] | None = None, log: Log = lambda _m: None
) -> ExportResult:
    """Exports and checks; `after_export` runs on the written graphs before the check (tests corrupt them)."""
    if opts.dtype not in DTYPES:
        raise ExportError(f"--dtype {opts.dtype!r} is not one of {', '.join(DTYPES)}")
    if opts.limits not in LIMITS:
        raise ExportError(f"--limits {opts.limits!r} is not one of {', '.join(LIMITS)}")
    check_name(opts.name or opts.out.name)
    ckpt = WanCheckpoint.open(opts.source)
    out = opts.out
    if out.exists() and not opts.overwrite:
        raise ExportError(f"{out} already exists; remove it or pass --overwrite")
    if not out.parent.is_dir():
        raise ExportError(f"the parent folder of {out} does not exist")
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        manifest, deviations = _write_folder(ckpt, staging, opts, after_export, log)
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(out=out, manifest=manifest, deviations=deviations)
