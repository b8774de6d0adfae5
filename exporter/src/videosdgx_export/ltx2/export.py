"""`export --family ltx2`: a diffusers LTX-2 checkpoint -> the platform's model folder, proven by parity.

Six graphs (text_encoder, connectors, transformer, vae_decoder, audio_vae_decoder, vocoder) with the
ltx2 family contract's names (shared/src/models/families/ltx2.ts). As for Wan, the folder is written
beside its destination under a hidden name and renamed into place only once every graph has passed the
parity check.
"""

from __future__ import annotations

import gc
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnxruntime as ort
import torch

from .. import footprint
from ..errors import ExportError, ParityError
from ..folder_install import ExportResult, Log, install_export, library_versions
from ..onnx_export import DEFAULT_EXTERNAL_DATA_ABOVE, OPSET, export_module
from ..parity import TOLERANCE, Deviation, compare
from ..source_record import write_source_record
from ..wan.manifest import check_name
from . import graphs as G
from .checkpoint import Ltx2Checkpoint
from .manifest import LIMITS, MAX_TOKENS, ltx2_manifest

DTYPES = {"fp32": (torch.float32, np.float32), "fp16": (torch.float16, np.float16)}
MANIFEST_FILE = "videosdgx.json"
GRAPHS = ("text_encoder", "connectors", "transformer", "vae_decoder", "audio_vae_decoder", "vocoder")
# The decoders and the vocoder stay float32 in every mode (the reference pipeline decodes in fp32 too).
FP32_GRAPHS = ("vae_decoder", "audio_vae_decoder", "vocoder")
# LTX2Pipeline's default `spatio_temporal_guidance_blocks` (LTX-2's transformer has 48 blocks).
DEFAULT_STG_BLOCKS = [28]
# Each graph's config.json in the folder, from the checkpoint's component of that name.
CONFIG_SOURCES = {
    "text_encoder": "text_encoder", "connectors": "connectors", "transformer": "transformer",
    "vae_decoder": "vae", "audio_vae_decoder": "audio_vae", "vocoder": "vocoder",
}


@dataclass
class ExportOptions:
    source: Path
    out: Path
    dtype: str = "fp32"
    name: str | None = None
    limits: str = "ltx2"
    max_sequence_length: int | None = None
    stg_blocks: list[int] | None = None
    external_data_above: int = DEFAULT_EXTERNAL_DATA_ABOVE
    overwrite: bool = False
    seed: int = 0


def _graph_dtype(graph: str, dtype: str) -> str:
    return "fp32" if graph in FP32_GRAPHS else dtype


class _Graphs:
    """Loads each component, wraps it as its graph and describes its inputs (examples and parity cases)."""

    def __init__(self, ckpt: Ltx2Checkpoint, opts: ExportOptions, max_len: int, stg_blocks: list[int]) -> None:
        self.ckpt, self.opts, self.max_len, self.stg_blocks = ckpt, opts, max_len, stg_blocks
        self.vocab = len(ckpt.tokenizer())
        connectors = ckpt.configs["connectors"]
        caption = int(connectors.get("caption_channels", 3840))
        if connectors.get("per_modality_projections"):
            self.text_dims = (int(connectors.get("video_hidden_dim", 4096)), int(connectors.get("audio_hidden_dim", 2048)))
        else:
            self.text_dims = (caption, caption)
        self.mel_bins = int(ckpt.configs["audio_vae"].get("mel_bins", 64))

    def module(self, graph: str, dtype: str) -> torch.nn.Module:
        """The unmodified diffusers/transformers module in `dtype` (the parity reference in fp32)."""
        torch_dtype = DTYPES[dtype][0]
        loaders: dict[str, Callable[[], torch.nn.Module]] = {
            "text_encoder": lambda: self.ckpt.text_encoder(torch_dtype),
            "connectors": lambda: self.ckpt.connectors(torch_dtype),
            "transformer": lambda: self.ckpt.transformer(torch_dtype),
            "vae_decoder": self.ckpt.vae,
            "audio_vae_decoder": self.ckpt.audio_vae,
            "vocoder": self.ckpt.vocoder,
        }
        return loaders[graph]()

    def wrapper(self, graph: str, module: torch.nn.Module) -> torch.nn.Module:
        if graph == "transformer":
            return G.TransformerGraph(module, self.stg_blocks)
        wrappers = {
            "text_encoder": G.TextEncoderGraph, "connectors": G.ConnectorsGraph, "vae_decoder": G.VaeDecoderGraph,
            "audio_vae_decoder": G.AudioVaeDecoderGraph, "vocoder": G.VocoderGraph,
        }
        return wrappers[graph](module)

    def spec(self, graph: str, reference: torch.nn.Module) -> G.GraphSpec:
        rng = np.random.default_rng(self.opts.seed + GRAPHS.index(graph))
        dtype = DTYPES[_graph_dtype(graph, self.opts.dtype)][1]
        if graph == "text_encoder":
            return G.text_encoder_spec(reference, self.vocab, self.max_len, rng, dtype)
        if graph == "connectors":
            return G.connectors_spec(reference, self.max_len, rng, dtype)
        if graph == "transformer":
            return G.transformer_spec(reference, self.stg_blocks, self.text_dims, self.max_len, rng, dtype)
        if graph == "vae_decoder":
            return G.vae_decoder_spec(reference, rng)
        if graph == "audio_vae_decoder":
            return G.audio_vae_decoder_spec(reference, rng)
        return G.vocoder_spec(reference, self.mel_bins, rng)


def check_graph(model_path: Path, spec: G.GraphSpec, tolerance: float) -> list[Deviation]:
    """Every output of every parity case, ONNX Runtime against the PyTorch module."""
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    results = []
    for i, inputs in enumerate(spec.parity_cases):
        got = session.run(spec.output_names, inputs)
        want = spec.reference(inputs)
        shapes = {k: list(v.shape) for k, v in inputs.items()}
        for name, g, w in zip(spec.output_names, got, want):
            results.append(compare(f"{spec.folder}:{name}", i, shapes, g, w, tolerance))
    return results


def _check_supported(ckpt: Ltx2Checkpoint) -> None:
    """What the platform's ltx2 pipeline assumes of the checkpoint, said before any export work."""
    t, vae = ckpt.configs["transformer"], ckpt.configs["vae"]
    if int(t.get("patch_size", 1)) != 1 or int(t.get("patch_size_t", 1)) != 1:
        raise ExportError(f"{ckpt.root}/transformer: patch_size and patch_size_t must be 1 (the ltx2 family packs with patch 1)")
    spatial = vae.get("spatial_compression_ratio") or 32
    temporal = vae.get("temporal_compression_ratio") or 8
    if (spatial, temporal) != (32, 8):
        raise ExportError(f"{ckpt.root}/vae: the ltx2 family needs 32x spatial and 8x temporal compression, got {spatial}x and {temporal}x")


def _write_static_files(ckpt: Ltx2Checkpoint, folder: Path, max_len: int) -> None:
    tokenizer = ckpt.tokenizer()
    tokenizer.padding_side = "left"  # LTX2Pipeline pads Gemma's prompts on the left
    tokenizer.model_max_length = max_len
    tokenizer.save_pretrained(str(folder / "tokenizer"))
    if not (folder / "tokenizer/tokenizer.json").is_file():
        raise ExportError(f"{ckpt.root}/tokenizer did not produce a tokenizer.json")
    (folder / "scheduler").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ckpt.root / "scheduler/scheduler_config.json", folder / "scheduler/scheduler_config.json")
    for graph, component in CONFIG_SOURCES.items():
        (folder / graph).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ckpt.root / component / "config.json", folder / graph / "config.json")
    onnx = ["onnxruntime", "ORTModel"]
    index = {
        "_class_name": ckpt.model_index["_class_name"],
        "_diffusers_version": ckpt.model_index.get("_diffusers_version"),
        "scheduler": ckpt.model_index.get("scheduler", ["diffusers", "FlowMatchEulerDiscreteScheduler"]),
        "tokenizer": ["transformers", type(tokenizer).__name__],
        **{graph: onnx for graph in GRAPHS},
    }
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def _add_latent_statistics(ckpt: Ltx2Checkpoint, folder: Path) -> None:
    """The VAEs keep latents_mean/std as weights (buffers); the platform reads them from config.json."""
    for graph, module in (("vae_decoder", ckpt.vae()), ("audio_vae_decoder", ckpt.audio_vae())):
        path = folder / graph / "config.json"
        config = json.loads(path.read_text(encoding="utf-8"))
        config["latents_mean"] = [float(v) for v in module.latents_mean.float()]
        config["latents_std"] = [float(v) for v in module.latents_std.float()]
        path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _write_folder(
    ckpt: Ltx2Checkpoint, folder: Path, opts: ExportOptions, after_export: Callable[[Path], None] | None, log: Log
) -> tuple[dict[str, Any], dict[str, Any], list[Deviation]]:
    max_len = opts.max_sequence_length or MAX_TOKENS[opts.limits]
    registers = ckpt.configs["connectors"].get("video_connector_num_learnable_registers")
    if registers and max_len % int(registers):
        raise ExportError(f"--max-sequence-length {max_len} must be a multiple of the connectors' {registers} learnable registers")
    layers = int(ckpt.configs["transformer"].get("num_layers", 48))
    # LTX2Pipeline's default block; a smaller model (a replica) has no block 28, so STG goes to its last one.
    default = DEFAULT_STG_BLOCKS if all(b < layers for b in DEFAULT_STG_BLOCKS) else [layers - 1]
    stg_blocks = opts.stg_blocks if opts.stg_blocks is not None else default
    if not stg_blocks or any(not 0 <= b < layers for b in stg_blocks):
        raise ExportError(f"--stg-blocks {stg_blocks}: the transformer has blocks 0 to {layers - 1}")
    graphs = _Graphs(ckpt, opts, max_len, stg_blocks)
    _write_static_files(ckpt, folder, max_len)
    _add_latent_statistics(ckpt, folder)

    for graph in GRAPHS:
        dtype = _graph_dtype(graph, opts.dtype)
        log(f"exporting {graph} ({dtype})")
        module = graphs.module(graph, dtype)
        spec = graphs.spec(graph, module)
        wrapper = graphs.wrapper(graph, module)
        # The transformer needs torch.export's guards (G.traced); Gemma's sliding-window mask needs torch.onnx's
        # deferred asserts (with guards it pins the text length to >= 7, != 7).
        program = G.traced(wrapper, spec) if graph == "transformer" else wrapper
        export_module(program, spec.example, spec.input_names, spec.output_names, spec.dynamic,
                      folder / graph / "model.onnx", opts.external_data_above)
        del module, spec, wrapper, program
        gc.collect()
    if after_export is not None:
        after_export(folder)

    deviations: list[Deviation] = []
    for graph in GRAPHS:
        reference = graphs.module(graph, "fp32")
        results = check_graph(folder / graph / "model.onnx", graphs.spec(graph, reference), TOLERANCE[_graph_dtype(graph, opts.dtype)])
        del reference
        gc.collect()
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
        "stg_blocks": stg_blocks,
        "versions": library_versions(),
        "parity": [d.as_json() for d in deviations],
        "load_memory": memory,
    }
    manifest = ltx2_manifest(
        name=check_name(opts.name or opts.out.name),
        display_name=f"LTX-2 ({ckpt.root.name}, {opts.dtype})",
        limits=opts.limits,
        latent_channels=int(ckpt.configs["transformer"].get("in_channels", 128)),
        max_sequence_length=max_len,
        memory=memory,
        export_record=record,
    )
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    source_record = write_source_record(folder, model=manifest["name"], checkpoint=ckpt.root, dtype=opts.dtype, quantization=None)
    return manifest, source_record, deviations



def export_ltx2(
    opts: ExportOptions, after_export: Callable[[Path], None] | None = None, log: Log = lambda _m: None
) -> ExportResult:
    """Exports and checks; `after_export` runs on the written graphs before the check (tests corrupt them)."""
    if opts.dtype not in DTYPES:
        raise ExportError(f"--dtype {opts.dtype!r} is not one of {', '.join(DTYPES)}")
    if opts.limits not in LIMITS:
        raise ExportError(f"--limits {opts.limits!r} is not one of {', '.join(LIMITS)}")
    check_name(opts.name or opts.out.name)
    ckpt = Ltx2Checkpoint.open(opts.source)
    _check_supported(ckpt)
    return install_export(opts.out, opts.overwrite, lambda staging: _write_folder(ckpt, staging, opts, after_export, log))
