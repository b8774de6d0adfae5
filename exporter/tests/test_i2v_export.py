"""A WanImageToVideoPipeline checkpoint exports to the i2v folder: five graphs, each matching its module."""

from __future__ import annotations

import json

import onnx

from videosdgx_export.wan.export import ExportResult


def _io(path: str) -> tuple[list[str], list[str]]:
    graph = onnx.load(path, load_external_data=False).graph
    return [i.name for i in graph.input], [o.name for o in graph.output]


def test_i2v_folder_has_the_contracts_graphs_and_files(exported_i2v: ExportResult) -> None:
    out = exported_i2v.out
    assert _io(str(out / "image_encoder/model.onnx")) == (["pixel_values"], ["image_embeds"])
    assert _io(str(out / "vae_encoder/model.onnx")) == (["sample"], ["latent_sample"])
    assert _io(str(out / "transformer/model.onnx")) == (
        ["hidden_states", "timestep", "encoder_hidden_states", "encoder_hidden_states_image"],
        ["out_sample"],
    )
    assert (out / "image_processor/preprocessor_config.json").is_file()
    assert json.loads((out / "model_index.json").read_text())["_class_name"] == "WanImageToVideoPipeline"
    assert exported_i2v.manifest["capabilities"]["i2v"] is True


def test_i2v_graphs_match_their_modules(exported_i2v: ExportResult) -> None:
    graphs = {d.graph for d in exported_i2v.deviations}
    assert {"image_encoder", "vae_encoder", "transformer"} <= graphs
    assert all(d.ok for d in exported_i2v.deviations), [d.describe() for d in exported_i2v.deviations if not d.ok]
