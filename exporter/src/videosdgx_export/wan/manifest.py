"""The platform manifest (`videosdgx.json`, schema: shared/src/models/manifest.ts) for an exported Wan folder."""

from __future__ import annotations

import re
from typing import Any

from ..errors import ExportError

NAME_RULE = re.compile(r"^[a-z][a-z0-9]{1,31}$")

# Request limits: the published model's (shared/src/models/catalog.ts, `wan21`), or small ones for the
# replicas so a job on them takes seconds on a CPU.
LIMITS: dict[str, dict[str, Any]] = {
    "wan21": {
        "frames": {"step": 4, "offset": 1, "min": 5, "max": 81, "default": 81},
        "resolution": {
            "multiple": 16, "min_width": 256, "max_width": 1280, "min_height": 256, "max_height": 1280,
            "default_width": 832, "default_height": 480,
        },
        "fps": {"min": 1, "max": 60, "default": 16},
        "steps": {"min": 1, "max": 100, "default": 50},
        "guidance": {"min": 0, "max": 20, "default": 5},
    },
    "replica": {
        "frames": {"step": 4, "offset": 1, "min": 5, "max": 33, "default": 9},
        "resolution": {
            "multiple": 16, "min_width": 32, "max_width": 256, "min_height": 32, "max_height": 256,
            "default_width": 64, "default_height": 48,
        },
        "fps": {"min": 1, "max": 60, "default": 16},
        "steps": {"min": 1, "max": 50, "default": 4},
        "guidance": {"min": 0, "max": 20, "default": 5},
    },
}


# Wan 2.1's flow_shift by resolution (diffusers' WanPipeline example: 3.0 for 480p, 5.0 for 720p).
FLOW_SHIFT_BY_SIZE: dict[str, dict[str, float]] = {
    "wan21": {"832x480": 3.0, "480x832": 3.0, "1280x720": 5.0, "720x1280": 5.0},
    "replica": {},
}


def check_name(name: str) -> str:
    if not NAME_RULE.match(name):
        raise ExportError(f"model name {name!r} must be 2 to 32 lowercase letters and digits, starting with a letter")
    return name


def wan_manifest(
    *,
    name: str,
    display_name: str,
    limits: str,
    vae_config: dict[str, Any],
    transformer_config: dict[str, Any],
    max_sequence_length: int,
    memory: dict[str, int],
    export_record: dict[str, Any],
) -> dict[str, Any]:
    resident = max(1, memory["after"] - memory["before"])
    peak = max(resident, memory["peak"] - memory["before"])
    return {
        "schema_version": 1,
        "name": name,
        "display_name": display_name,
        "license": "Apache-2.0",
        "weights_public": True,
        "family": "wan",
        "constraints": LIMITS[limits],
        "latent": {
            "channels": int(vae_config.get("z_dim", 16)),
            "spatial_factor": int(vae_config.get("scale_factor_spatial", 8)),
            "temporal_factor": int(vae_config.get("scale_factor_temporal", 4)),
            "patch": [int(p) for p in transformer_config.get("patch_size", [1, 2, 2])],
        },
        "text": {"max_tokens": max_sequence_length},
        **({"sampling": {"flow_shift_by_size": FLOW_SHIFT_BY_SIZE[limits]}} if FLOW_SHIFT_BY_SIZE[limits] else {}),
        # Measured: RSS of a fresh process before and after creating the three ONNX Runtime sessions.
        "memory": {"resident_bytes": resident, "load_peak_factor": round(min(4.0, max(1.0, peak / resident)), 3)},
        "capabilities": {"audio": False, "chunked": False, "i2v": False},
        "export": export_record,
    }
