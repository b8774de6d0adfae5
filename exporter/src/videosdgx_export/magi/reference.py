"""`reference --family magi`: one clean chunk through MAGI-1's VAE decode as Sand AI's pipeline runs it.

MAGI-1 is not in diffusers, so the reference is upstream's decode path re-stated over the PyTorch decoder
(vae.py): `decode_chunk` (pipeline/video_process.py 347-357) -> `TileProcessor.tiled_decode`
(infra/parallelism/tile_parallel.py) with 256-px tiles, overlap factor 0.25, the temporal tiles inside
MagiChunkDecoder. What the platform's tiled decode (workers/src/families/magi/vae-tiles.ts) is compared with.

Format: `reference.json` ({"tensors": {NAME: {file, dtype, shape}}}) and `frames.f32` [1, 3, F, H, W] beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import ExportError
from ..reference_tensors import ReferenceTensors
from .checkpoint import MagiCheckpoint
from .vae import MagiChunkDecoder, temporal_tile

TILE_SAMPLE = 256  # tile_sample_min_height / width in decode_chunk
OVERLAP = 0.25  # spatial_tile_overlap_factor


def _blend(a: torch.Tensor, b: torch.Tensor, extent: int, dim: int) -> torch.Tensor:
    """TileProcessor.blend_v (dim 3) / blend_h (dim 4): b's first `extent` rows or columns fade in over a's last."""
    extent = min(a.shape[dim], b.shape[dim], extent)
    if extent == 0:
        return b
    shape = [1] * b.dim()
    shape[dim] = extent
    w = (torch.arange(extent, dtype=torch.float64) / extent).reshape(shape)
    head = b.narrow(dim, 0, extent)
    head.copy_(a.narrow(dim, a.shape[dim] - extent, extent) * (1 - w) + head * w)
    return b


def tiled_decode(decode: MagiChunkDecoder, z: torch.Tensor, factor: int) -> torch.Tensor:
    """The spatial part of TileProcessor.tiled_decode at decode_chunk's settings (its temporal tiles are decode's)."""
    tile = TILE_SAMPLE // factor
    stride = int(tile * (1 - OVERLAP))
    blend = int(tile * factor * OVERLAP)
    limit = tile * factor - blend
    rows, cols = (z.shape[3] + stride - 1) // stride, (z.shape[4] + stride - 1) // stride
    with torch.no_grad():
        frames = [[decode(z[:, :, :, i * stride: i * stride + tile, j * stride: j * stride + tile]).double()
                   for j in range(cols)] for i in range(rows)]
    out_rows = []
    for i in range(rows):
        row = []
        for j in range(cols):
            t = frames[i][j].clone()
            if i > 0:
                t = _blend(frames[i - 1][j], t, blend, 3)
            if j > 0:
                t = _blend(frames[i][j - 1], t, blend, 4)
            row.append(t[:, :, :, :limit, :limit])
        out_rows.append(torch.cat(row, dim=4))
    return torch.cat(out_rows, dim=3)


def write_reference(source: Path, out: Path, latents_file: str, width: int, height: int) -> Path:
    """`latents_file`: raw float32 [1, 16, chunk_width, height/8, width/8], already divided by scale_factor."""
    ckpt = MagiCheckpoint.open(source)
    rc = ckpt.config.get("runtime_config", {})
    chunk_width, factor = int(rc.get("chunk_width", 6)), ckpt.vae_config.patch_size
    if width % factor or height % factor:
        raise ExportError(f"--size {width}x{height}: must be multiples of the VAE's {factor}")
    shape = (1, ckpt.vae_config.z_chans, chunk_width, height // factor, width // factor)
    raw = np.fromfile(latents_file, dtype="<f4")
    if raw.size != int(np.prod(shape)):
        raise ExportError(f"--latents {latents_file}: {raw.size} floats, expected {int(np.prod(shape))} for {list(shape)}")
    decode = MagiChunkDecoder(ckpt.vae_decoder(), chunk_width, temporal_tile(rc, ckpt.vae_config)).eval()
    frames = tiled_decode(decode, torch.from_numpy(raw.reshape(shape)), factor)
    tensors = ReferenceTensors(out)
    tensors.put("frames", frames.float().numpy())
    (out / "reference.json").write_text(json.dumps({"tensors": tensors.index}, indent=2) + "\n", encoding="utf-8")
    return out / "reference.json"
