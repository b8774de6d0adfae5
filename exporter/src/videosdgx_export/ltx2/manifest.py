"""The platform manifest (`videosdgx.json`, schema: shared/src/models/manifest.ts) for an exported LTX-2 folder."""

from __future__ import annotations

from typing import Any

from ..footprint import manifest_memory


def _limits(frames: tuple[int, int, int], size: tuple[int, int, int, int, int, int], steps: tuple[int, int], guidance: float) -> dict[str, Any]:
    """(min, max, default) frames (8k+1); (min, max width, max height, default width, default height, min) pixels."""
    lo, max_w, max_h, width, height, _ = size
    return {
        "frames": {"step": 8, "offset": 1, "min": frames[0], "max": frames[1], "default": frames[2]},
        "resolution": {
            "multiple": 32, "min_width": lo, "max_width": max_w, "min_height": lo, "max_height": max_h,
            "default_width": width, "default_height": height,
        },
        "fps": {"min": 1, "max": 60, "default": 24},
        "steps": {"min": 1, "max": steps[0], "default": steps[1]},
        "guidance": {"min": 0, "max": 20, "default": guidance},
    }


# Request limits: the published model's (shared/src/models/catalog.ts, `ltx2`), or small ones for the replicas
# so a job on them takes seconds on a CPU.
LIMITS: dict[str, dict[str, Any]] = {
    "ltx2": _limits((9, 257, 121), (256, 1920, 1088, 768, 512, 256), (100, 40), 4),
    "replica": _limits((9, 33, 9), (64, 256, 256, 64, 64, 64), (50, 4), 3),
}
MAX_TOKENS = {"ltx2": 1024, "replica": 32}

# LTX2Pipeline.__call__'s defaults for the guidance terms besides the request's `guidance`.
X0_GUIDANCE = {
    "stg_scale": 1.0, "modality_scale": 3.0, "guidance_rescale": 0.7,
    "audio_guidance_scale": 7.0, "audio_stg_scale": 1.0, "audio_modality_scale": 3.0, "audio_guidance_rescale": 0.7,
}


def ltx2_manifest(
    *,
    name: str,
    display_name: str,
    limits: str,
    latent_channels: int,
    max_sequence_length: int,
    memory: dict[str, int],
    export_record: dict[str, Any],
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "name": name,
        "display_name": display_name,
        "license": "LTX-2 Community License (paid licence above $10M revenue)",
        "weights_public": True,
        "family": "ltx2",
        "constraints": LIMITS[limits],
        # The exported VAE is 32x spatial and 8x temporal, the transformer packs with patch 1 (checked at export).
        "latent": {"channels": latent_channels, "spatial_factor": 32, "temporal_factor": 8, "patch": [1, 1, 1]},
        "text": {"max_tokens": max_sequence_length},
        "sampling": {"x0_guidance": dict(X0_GUIDANCE), "decode_timestep": 0.0},
        # Measured: RSS of a fresh process before and after creating the six ONNX Runtime sessions.
        "memory": manifest_memory(memory),
        "capabilities": {"audio": True, "chunked": False},
        "export": export_record,
    }
