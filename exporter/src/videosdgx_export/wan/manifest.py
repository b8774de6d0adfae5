"""The platform manifest (`videosdgx.json`, schema: shared/src/models/manifest.ts) for an exported Wan folder."""

from __future__ import annotations

import re
from typing import Any

from ..errors import ExportError
from ..footprint import manifest_memory

NAME_RULE = re.compile(r"^[a-z][a-z0-9]{1,31}$")


def _limits(frames: tuple[int, int, int], size: tuple[int, int, int, int], steps: tuple[int, int]) -> dict[str, Any]:
    """(min, max, default) frames (4k+1), (min, max, default width, default height) pixels, (max, default) steps."""
    lo, hi, width, height = size
    return {
        "frames": {"step": 4, "offset": 1, "min": frames[0], "max": frames[1], "default": frames[2]},
        "resolution": {
            "multiple": 16, "min_width": lo, "max_width": hi, "min_height": lo, "max_height": hi,
            "default_width": width, "default_height": height,
        },
        "fps": {"min": 1, "max": 60, "default": 16},
        "steps": {"min": 1, "max": steps[0], "default": steps[1]},
        "guidance": {"min": 0, "max": 20, "default": 5},
    }


# Request limits: the published model's (shared/src/models/catalog.ts, `wan21`), or small ones for the
# replicas so a job on them takes seconds on a CPU.
LIMITS: dict[str, dict[str, Any]] = {
    "wan21": _limits((5, 81, 81), (256, 1280, 832, 480), (100, 50)),
    "replica": _limits((5, 33, 9), (32, 256, 64, 48), (50, 4)),
}


# Wan 2.1's flow_shift by resolution (diffusers' WanPipeline example: 3.0 for 480p, 5.0 for 720p).
FLOW_SHIFT_BY_SIZE: dict[str, dict[str, float]] = {
    "wan21": {"832x480": 3.0, "480x832": 3.0, "1280x720": 5.0, "720x1280": 5.0},
    "replica": {},
}


# The Wan 2.1 VAE's latent-to-RGB preview (videosdgx.json `preview`, on the normalised latent, RGB in [-1, 1]):
# ComfyUI's published Latent2RGB factors, comfy/latent_formats.py class Wan21 (Comfy-Org/ComfyUI at
# 75399d78ddcc01f46f9b94521b29f1fe8a90ed53). Only for the real VAE: the replicas' random VAEs are not it.
WAN21_PREVIEW: dict[str, list] = {
    "latent_rgb_factors": [
        [-0.1299, -0.1692, 0.2932], [0.0671, 0.0406, 0.0442], [0.3568, 0.2548, 0.1747], [0.0372, 0.2344, 0.1420],
        [0.0313, 0.0189, -0.0328], [0.0296, -0.0956, -0.0665], [-0.3477, -0.4059, -0.2925], [0.0166, 0.1902, 0.1975],
        [-0.0412, 0.0267, -0.1364], [-0.1293, 0.0740, 0.1636], [0.0680, 0.3019, 0.1128], [0.0032, 0.0581, 0.0639],
        [-0.1251, 0.0927, 0.1699], [0.0060, -0.0633, 0.0005], [0.3477, 0.2275, 0.2950], [0.1984, 0.0913, 0.1861],
    ],
    "latent_rgb_bias": [-0.1835, -0.0868, -0.3360],
}
PREVIEW: dict[str, dict[str, list] | None] = {"wan21": WAN21_PREVIEW, "replica": None}


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
    i2v: bool = False,
) -> dict[str, Any]:
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
        # Measured: RSS of a fresh process before and after creating the ONNX Runtime sessions.
        "memory": manifest_memory(memory),
        "capabilities": {"audio": False, "chunked": False, "i2v": i2v},
        **({"preview": PREVIEW[limits]} if PREVIEW[limits] else {}),
        "export": export_record,
    }
