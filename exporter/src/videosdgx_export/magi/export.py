"""`export --family magi`: Sand AI's MAGI-1 checkpoint -> the platform's magi model folder, proven by parity.

Three graphs, each from a faithful PyTorch module: the T5 text encoder (transformers), the DiT (dit.py) and
the ViT VAE's decoder (vae.py), with the magi contract's names (shared/src/models/families/magi.ts). As for
Wan and LTX-2, the folder is written beside its destination under a hidden name and renamed into place only
once every graph has passed the parity check.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.export import Dim

from .. import footprint
from ..errors import ExportError, ParityError
from ..folder_install import ExportResult, Log, install_export, library_versions
from ..onnx_export import DEFAULT_EXTERNAL_DATA_ABOVE, OPSET, export_module
from ..parity import TOLERANCE, Deviation, check_graph
from ..source_record import write_source_record
from ..wan.graphs import GraphSpec, TextEncoderGraph, text_encoder_spec
from ..wan.manifest import check_name
from .checkpoint import CONFIG_FILE, VAE_DIR, MagiCheckpoint
from .dit import MagiDiT
from .manifest import LIMITS, MAX_TOKENS, magi_manifest
from .vae import MagiChunkDecoder, temporal_tile

# transformer/magi_config.json in the folder (shared/src/models/families/magi.ts MAGI_CONFIG).
FOLDER_CONFIG = "transformer/magi_config.json"
MANIFEST_FILE = "videosdgx.json"
GRAPHS = ("text_encoder", "transformer", "vae_decoder")
TRANSFORMER_INPUTS = ["hidden_states", "timestep", "encoder_hidden_states", "encoder_attention_mask",
                      "caption_dropout", "kv_range", "slice_point"]
# The contract's latent: 16 channels, 8x space (shared/src/models/families/magi.ts).
LATENT_CHANNELS, SPATIAL_FACTOR = 16, 8


@dataclass
class MagiExportOptions:
    source: Path
    out: Path
    dtype: str = "fp32"
    name: str | None = None
    limits: str = "magi1"
    max_sequence_length: int | None = None  # default: MAX_TOKENS[limits]
    external_data_above: int = DEFAULT_EXTERNAL_DATA_ABOVE
    overwrite: bool = False
    seed: int = 0

    @property
    def max_tokens(self) -> int:
        return self.max_sequence_length or MAX_TOKENS.get(self.limits, MAX_TOKENS["magi1"])


def _forward_case(rng: np.random.Generator, text_dim: int, batch: int, context: int, window: int, slice_point: int,
                  length: int, size: tuple[int, int], chunk_width: int, clean_t: float) -> dict[str, np.ndarray]:
    """One of the runtime's forwards: `context` clean chunks then `window` chunks at staggered times."""
    n = context + window
    h, w = size
    mask = np.zeros((batch, length), dtype=np.int64)
    for b in range(batch):
        mask[b, : int(rng.integers(1, length + 1)) if b else length] = 1
    kv = []
    for j in range(n):  # context chunks see themselves; window chunks reach back 1 .. n chunks
        kv.append([j, j + 1] if j < context else [int(rng.integers(0, j + 1)), j + 1])
    dropout = np.zeros((batch, n), dtype=bool)
    dropout[:, :context] = True
    dropout[-1, :] = batch > 1  # the last item: the null-caption pass
    t = np.concatenate([np.full((batch, context), clean_t), rng.uniform(0, 1, (batch, window))], axis=1)
    return {
        "hidden_states": rng.standard_normal((batch, 16, n * chunk_width, h, w)).astype(np.float32),
        "timestep": t.astype(np.float32),
        "encoder_hidden_states": rng.standard_normal((batch, length, text_dim)).astype(np.float32),
        "encoder_attention_mask": mask,
        "caption_dropout": dropout,
        "kv_range": np.array([kv] * batch, dtype=np.int64),
        "slice_point": np.array([slice_point], dtype=np.int64),
    }


def transformer_spec(reference: MagiDiT, chunk_width: int, clean_t: float, max_len: int, rng: np.random.Generator) -> GraphSpec:
    text_dim = reference.cfg.caption_channels

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return reference(*(torch.from_numpy(inputs[k]) for k in TRANSFORMER_INPUTS)).numpy()

    batch, chunks = Dim("batch", min=1, max=64), Dim("chunks", min=1, max=16)
    frames = chunks * chunk_width
    h, w = Dim("half_height", min=1, max=128), Dim("half_width", min=1, max=128)
    seq = Dim("sequence", min=2, max=max(4096, max_len))
    dynamic: dict[str, dict[int, Any]] = {
        "hidden_states": {0: batch, 2: frames, 3: 2 * h, 4: 2 * w},
        "timestep": {0: batch, 1: chunks},
        "encoder_hidden_states": {0: batch, 1: seq},
        "encoder_attention_mask": {0: batch, 1: seq},
        "caption_dropout": {0: batch, 1: chunks},
        "kv_range": {0: batch, 1: chunks},
    }
    case = lambda *a: _forward_case(rng, text_dim, *a, chunk_width=chunk_width, clean_t=clean_t)  # noqa: E731
    return GraphSpec(
        folder="transformer",
        input_names=TRANSFORMER_INPUTS,
        output_name="velocity",
        example=case(2, 1, 2, 3, 12, (4, 6)),
        dynamic=dynamic,
        # The runtime's passes: the pair (context + window, text and null caption), the unconditional
        # batch of single chunks at position 0, and a first window with no context.
        parity_cases=[case(2, 2, 3, 5, max_len, (4, 4)), case(3, 0, 1, 0, max_len, (4, 4)), case(1, 0, 2, 0, 7, (2, 6))],
        reference=run,
    )


def vae_decoder_spec(reference: MagiChunkDecoder, chunk_width: int, rng: np.random.Generator) -> GraphSpec:
    """One clean chunk [1, 16, chunk_width, h, w] -> [1, 3, frames, 8h, 8w]; h and w free (latent sizes)."""

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return reference(torch.from_numpy(inputs["latent_sample"])).numpy()

    def case(h: int, w: int) -> dict[str, np.ndarray]:
        return {"latent_sample": rng.standard_normal((1, LATENT_CHANNELS, chunk_width, h, w)).astype(np.float32)}

    cfg = reference.decoder.cfg
    h, w = Dim("latent_height", min=1, max=512), Dim("latent_width", min=1, max=512)
    return GraphSpec(
        folder="vae_decoder",
        input_names=["latent_sample"],
        output_name="sample",
        example=case(4, 6),
        dynamic={"latent_sample": {3: h, 4: w}},
        # Smaller than, equal to (the position table as trained) and unlike the table's size, and non-square.
        parity_cases=[case(2, 2), case(cfg.latent_size, cfg.latent_size), case(5, 9)],
        reference=run,
    )


def _check_vae(ckpt: MagiCheckpoint, rc: dict[str, Any]) -> None:
    vae = ckpt.vae_config
    factor = int(rc.get("temporal_downsample_factor", 4))
    if vae.patch_size != SPATIAL_FACTOR or vae.patch_length != factor or vae.z_chans != LATENT_CHANNELS:
        raise ExportError(f"ckpt/vae: patch_size {vae.patch_size}, patch_length {vae.patch_length}, z_chans {vae.z_chans}: the magi "
                          f"contract needs {SPATIAL_FACTOR}, runtime_config.temporal_downsample_factor ({factor}) and {LATENT_CHANNELS}")


def _write_graph(wrapper: torch.nn.Module, spec: GraphSpec, folder: Path, opts: MagiExportOptions) -> None:
    export_module(wrapper, spec.example, spec.input_names, spec.output_name, spec.dynamic,
                  folder / spec.folder / "model.onnx", opts.external_data_above)


def export_magi_graphs(opts: MagiExportOptions, folder: Path, log: Log = lambda _m: None,
                       after_export: Callable[[Path], None] | None = None) -> list[Deviation]:
    """Writes tokenizer, the three graphs and the config into `folder`; raises ParityError on a mismatch."""
    if opts.dtype != "fp32":
        raise ExportError(f"--dtype {opts.dtype}: family magi exports fp32 only so far (MAGI keeps its embedders, "
                          "q/k norms, post norms and output layer in fp32; a mixed-precision graph is not written yet)")
    ckpt = MagiCheckpoint.open(opts.source)
    rc = ckpt.config.get("runtime_config", {})
    _check_vae(ckpt, rc)
    chunk_width, clean_t = int(rc.get("chunk_width", 6)), float(rc.get("clean_t", 0.9999))
    tile = temporal_tile(rc, ckpt.vae_config)
    max_len = opts.max_tokens
    tokenizer = ckpt.tokenizer()
    tokenizer.save_pretrained(str(folder / "tokenizer"))
    (folder / "transformer").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ckpt.root / CONFIG_FILE, folder / FOLDER_CONFIG)
    (folder / "text_encoder").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ckpt.t5_dir / "config.json", folder / "text_encoder/config.json")
    (folder / "vae_decoder").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ckpt.root / VAE_DIR / "config.json", folder / "vae_decoder/config.json")

    specs = {
        "text_encoder": lambda m: text_encoder_spec(m, len(tokenizer), max_len, np.random.default_rng(opts.seed)),
        "transformer": lambda m: transformer_spec(m, chunk_width, clean_t, max_len, np.random.default_rng(opts.seed + 1)),
        "vae_decoder": lambda m: vae_decoder_spec(m, chunk_width, np.random.default_rng(opts.seed + 2)),
    }
    modules = {"text_encoder": ckpt.text_encoder, "transformer": ckpt.dit,
               "vae_decoder": lambda: MagiChunkDecoder(ckpt.vae_decoder(), chunk_width, tile).eval()}
    wrap = {"text_encoder": TextEncoderGraph, "transformer": lambda m: m, "vae_decoder": lambda m: m}
    for graph, load in modules.items():
        log(f"exporting {graph} (fp32)")
        module = load()
        _write_graph(wrap[graph](module), specs[graph](module), folder, opts)
    if after_export is not None:
        after_export(folder)
    deviations: list[Deviation] = []
    for graph, load in modules.items():
        results = check_graph(folder / graph / "model.onnx", specs[graph](load()), TOLERANCE["fp32"])
        worst = max(results, key=lambda d: d.deviation)
        log(f"parity {'ok  ' if all(d.ok for d in results) else 'FAIL'} {worst.describe()}")
        deviations += results
    failed = [d for d in deviations if not d.ok]
    if failed:
        raise ParityError("the exported graphs differ from the PyTorch modules beyond tolerance:\n  " + "\n  ".join(d.describe() for d in failed))
    return deviations


def _write_folder(opts: MagiExportOptions, folder: Path, after_export: Callable[[Path], None] | None, log: Log) -> tuple[dict[str, Any], dict[str, Any], list[Deviation]]:
    deviations = export_magi_graphs(opts, folder, log, after_export)
    ckpt = MagiCheckpoint.open(opts.source)
    memory = footprint.load_memory([folder / g / "model.onnx" for g in GRAPHS])
    record = {
        "source": str(ckpt.root),
        "dtype": opts.dtype,
        "opset": OPSET,
        "versions": library_versions(),
        "parity": [d.as_json() for d in deviations],
        "load_memory": memory,
    }
    mc = ckpt.model_config
    manifest = magi_manifest(
        name=check_name(opts.name or opts.out.name),
        display_name=f"MAGI-1 ({ckpt.weight_dir.parent.name}, {opts.dtype})",
        limits=opts.limits,
        runtime_config=ckpt.config.get("runtime_config", {}),
        latent_channels=LATENT_CHANNELS,
        patch=[mc.t_patch_size, mc.patch_size, mc.patch_size],
        max_sequence_length=opts.max_tokens,
        memory=memory,
        export_record=record,
    )
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    source_record = write_source_record(folder, model=manifest["name"], checkpoint=ckpt.root, dtype=opts.dtype, quantization=None)
    return manifest, source_record, deviations


def export_magi(opts: MagiExportOptions, after_export: Callable[[Path], None] | None = None,
                log: Log = lambda _m: None) -> ExportResult:
    """The CLI's entry: the complete folder, installed at `opts.out` only once every graph passed parity."""
    if opts.limits not in LIMITS:
        raise ExportError(f"--limits {opts.limits!r} is not one of {', '.join(LIMITS)}")
    check_name(opts.name or opts.out.name)
    MagiCheckpoint.open(opts.source)
    return install_export(opts.out, opts.overwrite, lambda staging: _write_folder(opts, staging, after_export, log))
