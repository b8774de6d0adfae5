"""The manifest's limits and per-size flow_shift for a real Wan 2.1 export."""

from __future__ import annotations

import pytest

from videosdgx_export.errors import ExportError
from videosdgx_export.wan.manifest import check_name, wan_manifest

MEMORY = {"before": 100, "after": 1100, "peak": 2600}


def make(limits: str) -> dict:
    return wan_manifest(
        name="wan21", display_name="Wan", limits=limits, vae_config={"z_dim": 16}, transformer_config={"patch_size": [1, 2, 2]},
        max_sequence_length=512, memory=MEMORY, export_record={},
    )


def test_published_limits_and_flow_shift_by_size() -> None:
    m = make("wan21")
    assert m["constraints"]["frames"] == {"step": 4, "offset": 1, "min": 5, "max": 81, "default": 81}
    assert (m["constraints"]["resolution"]["default_width"], m["constraints"]["resolution"]["default_height"]) == (832, 480)
    assert m["sampling"]["flow_shift_by_size"]["832x480"] == 3.0 and m["sampling"]["flow_shift_by_size"]["1280x720"] == 5.0
    assert m["memory"] == {"resident_bytes": 1000, "load_peak_factor": 2.5}
    assert "sampling" not in make("replica")  # the replica's scheduler flow_shift applies to every size


def test_wan21_exports_carry_the_vae_preview_projection() -> None:
    preview = make("wan21")["preview"]
    assert len(preview["latent_rgb_factors"]) == 16 and all(len(row) == 3 for row in preview["latent_rgb_factors"])
    assert preview["latent_rgb_factors"][0] == [-0.1299, -0.1692, 0.2932] and preview["latent_rgb_bias"] == [-0.1835, -0.0868, -0.3360]
    assert "preview" not in make("replica")  # a random-weight VAE: the factors would not describe it


def test_model_names_follow_the_platform_rule() -> None:
    assert check_name("wan21") == "wan21"
    for bad in ("Wan21", "wan-21", "w", "1wan"):
        with pytest.raises(ExportError, match="lowercase letters and digits"):
            check_name(bad)
