"""`export --family wan`: a diffusers Wan 2.1 checkpoint -> the platform's model folder, proven by parity.

The folder is written beside its destination under a hidden name and renamed into place only once every
graph has passed the parity check, so a failed or interrupted export never leaves a folder a worker
would load.
"""

from __future__ import annotations

import gc
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import footprint
from ..errors import ExportError, ParityError
from ..folder_install import ExportResult, Log, install_export, library_versions
from ..onnx_export import DEFAULT_EXTERNAL_DATA_ABOVE, OPSET, export_module
from ..parity import MIN_COSINE, TOLERANCE, Deviation, check_graph, summarize
from ..quantize import QUANTIZATIONS, QUANTIZED_GRAPHS, quantize_graph, scheme
from ..source_record import write_source_record
from .checkpoint import WanCheckpoint
from .graphs import (
    GraphSpec,
    ImageEncoderGraph,
    ImageToVideoTransformerGraph,
    TextEncoderGraph,
    TransformerGraph,
    WholeSequenceDecoder,
    WholeSequenceEncoder,
    image_encoder_spec,
    text_encoder_spec,
    transformer_spec,
    vae_decoder_spec,
    vae_encoder_spec,
)
from .manifest import LIMITS, check_name, wan_manifest

DTYPES = {"fp32": (torch.float32, np.float32), "fp16": (torch.float16, np.float16)}
MANIFEST_FILE = "videosdgx.json"


@dataclass
class ExportOptions:
    source: Path
    out: Path
    dtype: str = "fp32"
    quantize: str | None = None  # int8 | int4: the transformer's weights (quantize.py)
    name: str | None = None
    limits: str = "wan21"
    max_sequence_length: int = 512
    external_data_above: int = DEFAULT_EXTERNAL_DATA_ABOVE
    overwrite: bool = False
    seed: int = 0


GRAPHS = ("text_encoder", "transformer", "vae_decoder")
I2V_GRAPHS = ("image_encoder", "vae_encoder")
# The VAE runs in float32 in every mode (the reference pipeline runs it so).
FP32_GRAPHS = ("vae_decoder", "vae_encoder")


def graphs_of(ckpt: WanCheckpoint) -> tuple[str, ...]:
    return GRAPHS + I2V_GRAPHS if ckpt.is_i2v else GRAPHS


def _free() -> None:
    gc.collect()


def _spec(ckpt: WanCheckpoint, graph: str, module: torch.nn.Module, opts: ExportOptions, vocab: int) -> GraphSpec:
    rng = np.random.default_rng(opts.seed + (GRAPHS + I2V_GRAPHS).index(graph))
    if graph == "image_encoder":
        return image_encoder_spec(module, DTYPES[opts.dtype][1], rng)
    if graph == "vae_encoder":
        return vae_encoder_spec(module, rng)
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
        return m, (ImageToVideoTransformerGraph(m) if ckpt.is_i2v else TransformerGraph(m))
    if graph == "image_encoder":
        m = ckpt.image_encoder(torch_dtype)
        return m, ImageEncoderGraph(m)
    m = ckpt.vae()  # float32 in every mode (wan-contract: the VAE is fp32)
    return m, (WholeSequenceEncoder(m) if graph == "vae_encoder" else WholeSequenceDecoder(m))


def _reference_module(ckpt: WanCheckpoint, graph: str) -> torch.nn.Module:
    """The float32 module the graph is compared with (the unmodified diffusers/transformers class)."""
    if graph == "text_encoder":
        return ckpt.text_encoder(torch.float32)
    if graph == "transformer":
        return ckpt.transformer(torch.float32)
    if graph == "image_encoder":
        return ckpt.image_encoder(torch.float32)
    return ckpt.vae()


def _write_static_files(ckpt: WanCheckpoint, folder: Path) -> None:
    tokenizer = ckpt.tokenizer()
    tokenizer.save_pretrained(str(folder / "tokenizer"))
    if not (folder / "tokenizer/tokenizer.json").is_file():
        raise ExportError(f"{ckpt.root}/tokenizer did not produce a tokenizer.json")
    (folder / "scheduler").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ckpt.root / "scheduler/scheduler_config.json", folder / "scheduler/scheduler_config.json")
    copies = [("text_encoder/config.json", "text_encoder"), ("transformer/config.json", "transformer"), ("vae/config.json", "vae_decoder")]
    if ckpt.is_i2v:
        copies += [("image_encoder/config.json", "image_encoder"), ("image_processor/preprocessor_config.json", "image_processor")]
    for src, dst in copies:
        (folder / dst).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ckpt.root / src, folder / dst / Path(src).name)
    index = {
        "_class_name": ckpt.model_index["_class_name"],
        "_diffusers_version": ckpt.model_index.get("_diffusers_version"),
        "scheduler": ckpt.model_index.get("scheduler", ["diffusers", ckpt.scheduler_config.get("_class_name")]),
        "text_encoder": ["onnxruntime", "ORTModel"],
        "tokenizer": ["transformers", type(tokenizer).__name__],
        "transformer": ["onnxruntime", "ORTModel"],
        "vae_decoder": ["onnxruntime", "ORTModel"],
        **(
            {"image_encoder": ["onnxruntime", "ORTModel"], "image_processor": ckpt.model_index.get("image_processor"), "vae_encoder": ["onnxruntime", "ORTModel"]}
            if ckpt.is_i2v
            else {}
        ),
    }
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def _write_folder(
    ckpt: WanCheckpoint, folder: Path, opts: ExportOptions, after_export: Callable[[Path], None] | None, log: Log
) -> tuple[dict[str, Any], dict[str, Any], list[Deviation]]:
    _write_static_files(ckpt, folder)
    vocab = min(int(ckpt.text_encoder_config.get("vocab_size", 2)), len(ckpt.tokenizer()))

    quantized: dict[str, dict[str, int]] = {}
    for graph in graphs_of(ckpt):
        log(f"exporting {graph} ({'fp32' if graph in FP32_GRAPHS else opts.dtype})")
        module, wrapper = _export_module(ckpt, graph, opts.dtype)
        spec = _spec(ckpt, graph, module, opts, vocab)
        export_module(wrapper, spec.example, spec.input_names, spec.output_name, spec.dynamic,
                      folder / graph / "model.onnx", opts.external_data_above)
        del module, wrapper, spec
        _free()
        if opts.quantize and graph in QUANTIZED_GRAPHS:
            log(f"quantizing {graph} to {opts.quantize}")
            quantized[graph] = quantize_graph(folder / graph / "model.onnx", opts.quantize, opts.external_data_above)
    if after_export is not None:
        after_export(folder)

    deviations: list[Deviation] = []
    for graph in graphs_of(ckpt):
        mode = opts.quantize if graph in quantized else "fp32" if graph in FP32_GRAPHS else opts.dtype
        reference = _reference_module(ckpt, graph)
        results = check_graph(folder / graph / "model.onnx", _spec(ckpt, graph, reference, opts, vocab),
                              TOLERANCE[mode], MIN_COSINE.get(mode))
        del reference
        _free()
        worst = max(results, key=lambda d: d.deviation)
        log(f"parity {'ok  ' if all(d.ok for d in results) else 'FAIL'} {worst.describe()}")
        deviations += results
    failed = [d for d in deviations if not d.ok]
    if failed:
        lines = "\n  ".join(d.describe() for d in failed)
        raise ParityError(f"the exported graphs differ from the PyTorch modules beyond tolerance:\n  {lines}")

    memory = footprint.load_memory([folder / g / "model.onnx" for g in graphs_of(ckpt)])
    quantization = None
    if opts.quantize:
        quality = summarize([d for d in deviations if d.graph in quantized])
        quantization = {**scheme(opts.quantize), "nodes": quantized, "quality": quality}
    record = {
        "source": str(ckpt.root),
        "dtype": opts.dtype,
        "quantization": quantization,
        "opset": OPSET,
        "versions": library_versions(),
        "parity": [d.as_json() for d in deviations],
        "load_memory": memory,  # every file's size and sha256: videosdgx-source.json
    }
    manifest = wan_manifest(
        name=check_name(opts.name or opts.out.name),
        display_name=f"Wan 2.1 ({ckpt.root.name}, {opts.dtype}{f', {opts.quantize} weights' if opts.quantize else ''})",
        limits=opts.limits,
        vae_config=ckpt.vae_config,
        transformer_config=ckpt.transformer_config,
        max_sequence_length=opts.max_sequence_length,
        memory=memory,
        export_record=record,
        i2v=ckpt.is_i2v,
    )
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    source_record = write_source_record(folder, model=manifest["name"], checkpoint=ckpt.root, dtype=opts.dtype,
                                        quantization=quantization)
    return manifest, source_record, deviations



def export_wan(
    opts: ExportOptions, after_export: Callable[[Path], None] | None = None, log: Log = lambda _m: None
) -> ExportResult:
    """Exports and checks; `after_export` runs on the written graphs before the check (tests corrupt them)."""
    if opts.dtype not in DTYPES:
        raise ExportError(f"--dtype {opts.dtype!r} is not one of {', '.join(DTYPES)}")
    if opts.quantize is not None:
        if opts.quantize not in QUANTIZATIONS:
            raise ExportError(f"--quantize {opts.quantize!r} is not one of {', '.join(QUANTIZATIONS)}")
        if opts.dtype != "fp32":
            # int8's DynamicQuantizeLinear takes float32 only; int4 is kept to the same float32 activations.
            raise ExportError(f"--quantize {opts.quantize} needs --dtype fp32 (the quantized graphs keep float32 activations), not {opts.dtype}")
    if opts.limits not in LIMITS:
        raise ExportError(f"--limits {opts.limits!r} is not one of {', '.join(LIMITS)}")
    check_name(opts.name or opts.out.name)
    ckpt = WanCheckpoint.open(opts.source)
    return install_export(opts.out, opts.overwrite, lambda staging: _write_folder(ckpt, staging, opts, after_export, log))
