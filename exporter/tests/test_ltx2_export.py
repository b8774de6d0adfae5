"""The LTX-2 export: the ltx2 family contract's files and graphs (shared/src/models/families/ltx2.ts), the
configs the platform reads, the parity record, and the check refusing a wrong graph."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from videosdgx_export.errors import ExportError
from videosdgx_export.ltx2.export import ExportOptions, _Graphs, check_graph, export_ltx2
from videosdgx_export.ltx2.checkpoint import Ltx2Checkpoint
from videosdgx_export.ltx2.replica import AUDIO_FEATURES, LATENT_CHANNELS, MAX_SEQUENCE_LENGTH, MEL_BINS
from videosdgx_export.parity import TOLERANCE

GRAPHS = ("text_encoder", "connectors", "transformer", "vae_decoder", "audio_vae_decoder", "vocoder")
F32, I64, BOOL = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64, onnx.TensorProto.BOOL


def signature(path: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """name -> (element type, rank) of each input and output."""
    model = onnx.load(str(path), load_external_data=False)
    describe = lambda values: {v.name: (v.type.tensor_type.elem_type, len(v.type.tensor_type.shape.dim)) for v in values}  # noqa: E731
    return {"inputs": describe(model.graph.input), "outputs": describe(model.graph.output)}


def test_folder_has_the_contract_files(ltx2_exported) -> None:
    out = ltx2_exported.out
    for rel in ["model_index.json", "videosdgx.json", "scheduler/scheduler_config.json", "tokenizer/tokenizer.json",
                *(f"{g}/model.onnx" for g in GRAPHS), *(f"{g}/config.json" for g in GRAPHS)]:
        assert (out / rel).is_file(), rel
    assert not list(out.parent.glob(".*partial*"))


def test_graphs_have_the_contract_names_types_and_ranks(ltx2_exported) -> None:
    out = ltx2_exported.out
    assert signature(out / "text_encoder/model.onnx") == {
        "inputs": {"input_ids": (I64, 2), "attention_mask": (I64, 2)}, "outputs": {"hidden_states": (F32, 3)}}
    assert signature(out / "connectors/model.onnx") == {
        "inputs": {"text_encoder_hidden_states": (F32, 3), "attention_mask": (I64, 2)},
        "outputs": {"video_text_embedding": (F32, 3), "audio_text_embedding": (F32, 3), "connector_attention_mask": (I64, 2)}}
    tr = signature(out / "transformer/model.onnx")
    assert tr["inputs"] == {
        "hidden_states": (F32, 3), "audio_hidden_states": (F32, 3), "encoder_hidden_states": (F32, 3),
        "audio_encoder_hidden_states": (F32, 3), "timestep": (F32, 1), "sigma": (F32, 1),
        "encoder_attention_mask": (I64, 2), "audio_encoder_attention_mask": (I64, 2), "num_frames": (I64, 1),
        "height": (I64, 1), "width": (I64, 1), "fps": (F32, 1), "audio_num_frames": (I64, 1),
        "video_coords": (F32, 4), "audio_coords": (F32, 4), "isolate_modalities": (BOOL, 1), "perturbation_mask": (F32, 1),
    }
    assert list(tr["inputs"])[0] == "hidden_states" and tr["outputs"] == {"sample": (F32, 3), "audio_sample": (F32, 3)}
    assert signature(out / "vae_decoder/model.onnx") == {
        "inputs": {"latent_sample": (F32, 5), "timestep": (F32, 1)}, "outputs": {"sample": (F32, 5)}}
    assert signature(out / "audio_vae_decoder/model.onnx") == {"inputs": {"latent_sample": (F32, 4)}, "outputs": {"sample": (F32, 4)}}
    assert signature(out / "vocoder/model.onnx") == {"inputs": {"hidden_states": (F32, 4)}, "outputs": {"waveform": (F32, 3)}}


def test_configs_carry_what_the_platform_reads(ltx2_exported, ltx2_checkpoint: Path) -> None:
    read = lambda p: json.loads(p.read_text())  # noqa: E731
    out = ltx2_exported.out
    assert read(out / "scheduler/scheduler_config.json") == read(ltx2_checkpoint / "scheduler/scheduler_config.json")
    vae, audio = read(out / "vae_decoder/config.json"), read(out / "audio_vae_decoder/config.json")
    # The statistics are weights (buffers) in the checkpoint, copied into the configs; not diffusers' 0 and 1.
    ckpt = Ltx2Checkpoint.open(ltx2_checkpoint)
    assert vae["latents_mean"] == pytest.approx(ckpt.vae().latents_mean.tolist())
    assert len(vae["latents_std"]) == LATENT_CHANNELS and min(vae["latents_std"]) > 1.0
    assert len(audio["latents_mean"]) == AUDIO_FEATURES and audio["mel_bins"] == MEL_BINS and audio["latent_channels"] * MEL_BINS // 4 == AUDIO_FEATURES
    assert read(out / "vocoder/config.json")["output_sampling_rate"] == 24000
    index = read(out / "model_index.json")
    assert index["_class_name"] == "LTX2Pipeline" and all(index[g] == ["onnxruntime", "ORTModel"] for g in GRAPHS)


def test_tokenizer_left_pads_and_tokenizes_as_the_checkpoint(ltx2_exported, ltx2_checkpoint: Path) -> None:
    fast = Tokenizer.from_file(str(ltx2_exported.out / "tokenizer/tokenizer.json"))  # what Node's loader reads
    original = AutoTokenizer.from_pretrained(str(ltx2_checkpoint / "tokenizer"))
    for text in ["a red cat walking on the beach at sunset", "Zebra 42, BRIGHT tones!"]:
        assert fast.encode(text).ids == original(text).input_ids
        assert fast.encode(text).ids[0] == 2  # Gemma's <bos>
    config = json.loads((ltx2_exported.out / "tokenizer/tokenizer_config.json").read_text())
    assert config["padding_side"] == "left" and config["model_max_length"] == MAX_SEQUENCE_LENGTH


def test_manifest_and_parity_record(ltx2_exported) -> None:
    manifest = json.loads((ltx2_exported.out / "videosdgx.json").read_text())
    assert manifest == ltx2_exported.manifest
    assert manifest["family"] == "ltx2" and manifest["name"] == "ltx2tiny" and manifest["capabilities"]["audio"] is True
    assert manifest["latent"] == {"channels": LATENT_CHANNELS, "spatial_factor": 32, "temporal_factor": 8, "patch": [1, 1, 1]}
    assert manifest["text"]["max_tokens"] == MAX_SEQUENCE_LENGTH
    assert manifest["sampling"]["x0_guidance"]["modality_scale"] == 3.0 and manifest["export"]["stg_blocks"] == [1]
    mem = manifest["export"]["load_memory"]
    assert manifest["memory"]["resident_bytes"] == mem["after"] - mem["before"] > 0
    parity = manifest["export"]["parity"]
    assert {p["graph"].split(":")[0] for p in parity} == set(GRAPHS)
    # Every output of every graph, and the transformer's three kinds of pass (CFG batch, STG, isolation).
    assert {p["graph"] for p in parity if p["graph"].startswith("transformer")} == {"transformer:sample", "transformer:audio_sample"}
    assert len([p for p in parity if p["graph"] == "transformer:sample"]) == 3
    for d in ltx2_exported.deviations:
        assert d.ok and d.deviation < TOLERANCE["fp32"] / 10, d.describe()


def test_the_source_record_lists_every_file_of_the_folder(ltx2_exported) -> None:
    record = json.loads((ltx2_exported.out / "videosdgx-source.json").read_text())
    assert record == ltx2_exported.source_record and record["kind"] == "exported" and record["dtype"] == "fp32"
    on_disk = {p.relative_to(ltx2_exported.out).as_posix() for p in ltx2_exported.out.rglob("*") if p.is_file()}
    assert set(record["files"]) == on_disk - {"videosdgx-source.json"}


def test_the_check_refuses_a_graph_with_one_wrong_weight(ltx2_exported, ltx2_checkpoint: Path, tmp_path: Path) -> None:
    broken = tmp_path / "vocoder.onnx"
    model = onnx.load(str(ltx2_exported.out / "vocoder/model.onnx"))
    weight = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    values = numpy_helper.to_array(weight).copy()
    values.flat[0] += 0.5
    weight.CopyFrom(numpy_helper.from_array(values, weight.name))
    onnx.save(model, str(broken))
    ckpt = Ltx2Checkpoint.open(ltx2_checkpoint)
    graphs = _Graphs(ckpt, ExportOptions(source=ltx2_checkpoint, out=tmp_path / "x", limits="replica"), MAX_SEQUENCE_LENGTH, [1])
    spec = graphs.spec("vocoder", graphs.module("vocoder", "fp32"))
    assert all(d.ok for d in check_graph(ltx2_exported.out / "vocoder/model.onnx", spec, TOLERANCE["fp32"]))
    assert not all(d.ok for d in check_graph(broken, spec, TOLERANCE["fp32"]))


def test_wrong_checkpoints_are_refused_before_any_export(ltx2_checkpoint: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    shutil.copytree(ltx2_checkpoint, wrong, ignore=shutil.ignore_patterns("*.safetensors"))
    index = json.loads((wrong / "model_index.json").read_text())
    (wrong / "model_index.json").write_text(json.dumps({**index, "_class_name": "LTX2ImageToVideoPipeline"}))
    with pytest.raises(ExportError, match="LTX2ImageToVideoPipeline.*handles LTX2Pipeline"):
        export_ltx2(ExportOptions(source=wrong, out=tmp_path / "ltxwrong", limits="replica"))
    (wrong / "model_index.json").write_text(json.dumps(index))
    shutil.rmtree(wrong / "audio_vae")
    with pytest.raises(ExportError, match=r"audio_vae/config.json is missing"):
        export_ltx2(ExportOptions(source=wrong, out=tmp_path / "ltxwrong", limits="replica"))
    assert not (tmp_path / "ltxwrong").exists()
