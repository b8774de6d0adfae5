"""The platform manifest (`videosdgx.json`, schema: shared/src/models/manifest.ts) for an exported MAGI-1 folder.

What shared/src/models/families/magi.ts checks: frames in whole chunks (step chunk_width x
temporal_downsample_factor, offset 0), sizes in multiples of 16, chunked, steps a multiple of window_size.
"""

from __future__ import annotations

from typing import Any

from ..footprint import manifest_memory

# Request limits: the catalog's `magi1` (shared/src/models/catalog.ts: sizes 256 to 1280, frames to a minute at
# 24 fps, as memory per chunk does not grow with length), or small ones for the replica so a job on it takes
# seconds on a CPU. (min size, max size, max chunks, max steps)
LIMITS: dict[str, tuple[int, int, int, int]] = {"magi1": (256, 1280, 60, 100), "replica": (32, 128, 4, 48)}
# Caption tokens: MAGI's T5 length (caption_max_length 800), or the replica's short one.
MAX_TOKENS = {"magi1": 800, "replica": 16}


def magi_manifest(
    *,
    name: str,
    display_name: str,
    limits: str,
    runtime_config: dict[str, Any],
    latent_channels: int,
    patch: list[int],
    max_sequence_length: int,
    memory: dict[str, int],
    export_record: dict[str, Any],
) -> dict[str, Any]:
    lo, hi, max_chunks, max_steps = LIMITS[limits]
    rc = runtime_config
    chunk = int(rc["chunk_width"]) * int(rc["temporal_downsample_factor"])
    window = int(rc["window_size"])
    clamp = lambda v, a, b: max(a, min(b, v))  # noqa: E731
    size = lambda key: clamp(int(rc.get(key, lo)) // 16 * 16, lo, hi)  # noqa: E731
    steps = clamp(int(rc.get("num_steps", 64)) // window * window, window, max_steps // window * window)
    frames = clamp(int(rc.get("num_frames", chunk)) // chunk * chunk, chunk, max_chunks * chunk)
    guidance = max(float(s) for s in rc.get("text_scales", [7.5]))
    return {
        "schema_version": 1,
        "name": name,
        "display_name": display_name,
        "license": "Apache-2.0 (MAGI-1 code and weights)",
        "weights_public": True,
        "family": "magi",
        "constraints": {
            "frames": {"step": chunk, "offset": 0, "min": chunk, "max": max_chunks * chunk, "default": frames},
            "resolution": {
                "multiple": 16, "min_width": lo, "max_width": hi, "min_height": lo, "max_height": hi,
                "default_width": size("video_size_w"), "default_height": size("video_size_h"),
            },
            "fps": {"min": 1, "max": 60, "default": int(rc.get("fps", 24))},
            "steps": {"min": window, "max": max_steps // window * window, "default": steps},
            "guidance": {"min": 0, "max": 20, "default": guidance},
        },
        # MAGI-1's VAE: 8x space, temporal_downsample_factor in time (both checked against ckpt/vae at export).
        "latent": {"channels": latent_channels, "spatial_factor": 8, "temporal_factor": int(rc["temporal_downsample_factor"]), "patch": patch},
        "text": {"max_tokens": max_sequence_length},
        "sampling": {"steps_multiple": window},
        # Measured: RSS of a fresh process before and after creating the four ONNX Runtime sessions.
        "memory": manifest_memory(memory),
        "capabilities": {"audio": False, "chunked": True},
        "export": export_record,
    }
