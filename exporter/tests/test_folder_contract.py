"""The exported folder holds what wan-contract.md says, with the graph inputs and outputs it names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from videosdgx_export.parity import TOLERANCE
from videosdgx_export.wan.export import ExportResult

CONTRACT_FILES = [
    "model_index.json",
    "videosdgx.json",
    "scheduler/scheduler_config.json",
    "tokenizer/tokenizer.json",
    "tokenizer/tokenizer_config.json",
    "text_encoder/model.onnx",
    "text_encoder/config.json",
    "transformer/model.onnx",
    "transformer/config.json",
    "vae_decoder/model.onnx",
    "vae_decoder/config.json",
]

F32, F16, I64 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.INT64


def signature(path: Path) -> dict[str, object]:
    model = onnx.load(str(path), load_external_data=False)

    def describe(values: object) -> dict[str, tuple[int, list[object]]]:
        return {
            v.name: (v.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
            for v in values  # type: ignore[attr-defined]
        }

    return {"inputs": describe(model.graph.input), "outputs": describe(model.graph.output)}


def test_folder_has_the_contract_files_and_no_leftovers(exported: ExportResult) -> None:
    for rel in CONTRACT_FILES:
        assert (exported.out / rel).is_file(), rel
    assert not list(exported.out.parent.glob(".*partial*")), "staging folder left beside the export"
    # Small graphs keep their weights inline.
    assert not list(exported.out.rglob("model.onnx_data"))


def test_graph_names_dtypes_and_dynamic_axes(exported: ExportResult) -> None:
    te = signature(exported.out / "text_encoder/model.onnx")
    assert te["inputs"] == {"input_ids": (I64, ["batch", "sequence"]), "attention_mask": (I64, ["batch", "sequence"])}
    assert te["outputs"] == {"last_hidden_state": (F32, ["batch", "sequence", 32])}

    tr = signature(exported.out / "transformer/model.onnx")
    assert list(tr["inputs"]) == ["hidden_states", "timestep", "encoder_hidden_states"]
    hs_type, hs_dims = tr["inputs"]["hidden_states"]
    assert hs_type == F32 and hs_dims[:3] == ["batch", 16, "latent_frames"] and all(isinstance(d, str) for d in hs_dims[3:])
    assert tr["inputs"]["timestep"] == (F32, ["batch"])
    assert tr["inputs"]["encoder_hidden_states"] == (F32, ["batch", "sequence", 32])
    assert list(tr["outputs"]) == ["out_sample"] and tr["outputs"]["out_sample"] == (F32, hs_dims)

    vae = signature(exported.out / "vae_decoder/model.onnx")
    assert vae["inputs"] == {"latent_sample": (F32, ["batch", 16, "latent_frames", "latent_height", "latent_width"])}
    assert vae["outputs"] == {"sample": (F32, ["batch", 3, "4*latent_frames - 3", "8*latent_height", "8*latent_width"])}


def test_configs_are_the_checkpoints(exported: ExportResult, checkpoint: Path) -> None:
    read = lambda p: json.loads(p.read_text())  # noqa: E731
    assert read(exported.out / "scheduler/scheduler_config.json") == read(checkpoint / "scheduler/scheduler_config.json")
    vae = read(exported.out / "vae_decoder/config.json")
    assert vae == read(checkpoint / "vae/config.json")
    assert len(vae["latents_mean"]) == 16 and len(vae["latents_std"]) == 16
    index = read(exported.out / "model_index.json")
    assert index["_class_name"] == "WanPipeline"
    assert index["transformer"] == ["onnxruntime", "ORTModel"] and index["scheduler"] == ["diffusers", "UniPCMultistepScheduler"]


def test_tokenizer_json_tokenizes_as_the_checkpoint(exported: ExportResult, checkpoint: Path) -> None:
    fast = Tokenizer.from_file(str(exported.out / "tokenizer/tokenizer.json"))  # what Node's loader reads
    original = AutoTokenizer.from_pretrained(str(checkpoint / "tokenizer"))
    for text in ["a red cat walking on the beach at sunset", "Zebra 42, BRIGHT tones!"]:
        assert fast.encode(text).ids == original(text).input_ids
    assert fast.encode("a cat").ids[-1] == original.eos_token_id


def test_manifest_records_family_footprint_and_parity(exported: ExportResult) -> None:
    manifest = json.loads((exported.out / "videosdgx.json").read_text())
    assert manifest == exported.manifest
    assert manifest["name"] == "wantiny" and manifest["family"] == "wan" and manifest["schema_version"] == 1
    assert manifest["latent"] == {"channels": 16, "spatial_factor": 8, "temporal_factor": 4, "patch": [1, 2, 2]}
    assert manifest["text"]["max_tokens"] == 512
    files = json.loads((exported.out / "videosdgx-source.json").read_text())["files"]
    for rel in CONTRACT_FILES:
        assert files[rel]["size"] == (exported.out / rel).stat().st_size
    graph_bytes = sum(files[f"{g}/model.onnx"]["size"] for g in ("text_encoder", "transformer", "vae_decoder"))
    mem = manifest["export"]["load_memory"]
    assert manifest["memory"]["resident_bytes"] == mem["after"] - mem["before"] > graph_bytes / 2
    assert 1 <= manifest["memory"]["load_peak_factor"] <= 4
    parity = manifest["export"]["parity"]
    assert {p["graph"] for p in parity} == {"text_encoder", "transformer", "vae_decoder"}
    assert all(p["ok"] and p["deviation"] <= p["tolerance"] == TOLERANCE["fp32"] for p in parity)


def test_fp32_parity_is_well_inside_tolerance(exported: ExportResult) -> None:
    assert len(exported.deviations) == 6
    for d in exported.deviations:
        assert 0 <= d.deviation < TOLERANCE["fp32"] / 10, d.describe()


def test_fp16_export_reports_its_deviation_within_its_tolerance(exported_fp16: ExportResult) -> None:
    out = exported_fp16.out
    te, tr = signature(out / "text_encoder/model.onnx"), signature(out / "transformer/model.onnx")
    assert te["outputs"]["last_hidden_state"][0] == F16
    assert tr["inputs"]["hidden_states"][0] == F16 and tr["inputs"]["encoder_hidden_states"][0] == F16
    assert tr["inputs"]["timestep"][0] == F32 and tr["outputs"]["out_sample"][0] == F16
    assert signature(out / "vae_decoder/model.onnx")["inputs"]["latent_sample"][0] == F32  # the VAE stays fp32
    by_graph = {g: max(d.deviation for d in exported_fp16.deviations if d.graph == g) for g in ("text_encoder", "transformer")}
    for graph, deviation in by_graph.items():
        # Really fp16 (far above fp32's deviation) and within fp16's stated tolerance.
        assert TOLERANCE["fp32"] < deviation <= TOLERANCE["fp16"], (graph, deviation)
    recorded = json.loads((out / "videosdgx.json").read_text())["export"]
    assert recorded["dtype"] == "fp16"
    assert max(p["deviation"] for p in recorded["parity"] if p["graph"] == "transformer") == pytest.approx(by_graph["transformer"])


def test_external_data_lies_beside_each_graph(exported_fp16: ExportResult) -> None:
    for graph in ("text_encoder", "transformer", "vae_decoder"):
        folder = exported_fp16.out / graph
        initializers = onnx.load(str(folder / "model.onnx"), load_external_data=False).graph.initializer
        external = [t for t in initializers if t.data_location == onnx.TensorProto.EXTERNAL]
        locations = {e.value for t in external for e in t.external_data if e.key == "location"}
        assert locations == {"model.onnx_data"}, graph
        # Every weight of any size is outside the graph; only scalars and tiny constants stay inline.
        assert all(len(t.raw_data) <= 256 for t in initializers if t.data_location != onnx.TensorProto.EXTERNAL)
        ends = [int(dict((e.key, e.value) for e in t.external_data)["offset"]) + int(dict((e.key, e.value) for e in t.external_data)["length"]) for t in external]
        assert (folder / "model.onnx_data").stat().st_size == max(ends)
    files = json.loads((exported_fp16.out / "videosdgx-source.json").read_text())["files"]
    assert "transformer/model.onnx_data" in files
    assert np.all([d.ok for d in exported_fp16.deviations])  # parity ran on the external-data graphs
