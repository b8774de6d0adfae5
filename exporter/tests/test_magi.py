"""MAGI-1: the tiny checkpoint in Sand AI's layout, the DiT's block-causal semantics, the VAE decoder, the
complete export (through the CLI) and parity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from videosdgx_export.errors import ExportError
from videosdgx_export.magi.checkpoint import MagiCheckpoint
from videosdgx_export.magi.export import (
    TRANSFORMER_INPUTS, MagiExportOptions, _forward_case, export_magi, export_magi_graphs, transformer_spec, vae_decoder_spec,
)
from videosdgx_export.magi.replica import TINY_VAE_DDCONFIG, save_tiny_magi_checkpoint, tiny_vae_decoder
from videosdgx_export.magi.vae import MagiChunkDecoder, MagiVaeConfig
from videosdgx_export.parity import TOLERANCE, check_graph
from videosdgx_export.source_record import SOURCE_RECORD_FILE
from test_refusals import run_cli


@pytest.fixture(scope="module")
def magi_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_magi_checkpoint(tmp_path_factory.mktemp("magi") / "magi-tiny")


@pytest.fixture(scope="module")
def magi_exported(magi_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The one export of this file: the CLI's, the complete folder (the other tests read it)."""
    out = tmp_path_factory.mktemp("models") / "magitiny"
    res = run_cli("export", "--family", "magi", "--from", str(magi_checkpoint), "--out", str(out),
                  "--limits", "replica", "--max-sequence-length", "16", "--json")
    assert res.returncode == 0, res.stderr
    return out, json.loads(res.stdout)


def _run(model: torch.nn.Module, inputs: dict[str, np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return model(*(torch.from_numpy(inputs[k]) for k in TRANSFORMER_INPUTS)).numpy()


def _case(seed: int = 0, **kw: object) -> dict[str, np.ndarray]:
    args = dict(batch=1, context=1, window=2, slice_point=2, length=8, size=(4, 4))
    args.update(kw)
    return _forward_case(np.random.default_rng(seed), 32, *args.values(), chunk_width=6, clean_t=0.9999)  # type: ignore[arg-type]


def test_the_sharded_bf16_checkpoint_loads_every_weight(magi_checkpoint: Path) -> None:
    ckpt = MagiCheckpoint.open(magi_checkpoint)
    names = set(ckpt.state_dict())
    assert "videodit_blocks.layers.1.self_attention.linear_kv_xattn.weight" in names
    assert "y_embedder.null_caption_embedding" in names and "rope.bands" in names
    assert set(ckpt.dit().state_dict()) == names


def test_a_chunk_sees_only_its_kv_range(magi_checkpoint: Path) -> None:
    dit = MagiCheckpoint.open(magi_checkpoint).dit()
    case = _case()
    case["kv_range"][0] = [[0, 1], [1, 2], [0, 3]]  # chunk 1 alone; chunk 2 sees all
    base = _run(dit, case)
    changed = {**case, "hidden_states": case["hidden_states"].copy()}
    changed["hidden_states"][:, :, 0:6] += 1.0  # chunk 0 only
    out = _run(dit, changed)
    assert np.allclose(out[:, :, 6:12], base[:, :, 6:12], atol=1e-6), "chunk 1 attends to itself only"
    assert not np.allclose(out[:, :, 12:18], base[:, :, 12:18], atol=1e-4), "chunk 2 attends to chunk 0"


def test_rope_is_relative_so_slice_point_only_rounds_and_dropout_takes_the_null_caption(magi_checkpoint: Path) -> None:
    dit = MagiCheckpoint.open(magi_checkpoint).dit()
    case = _case()
    base = _run(dit, case)
    # A uniform shift of every frame's RoPE position leaves q.k unchanged: slice_point moves rounding only.
    shifted = _run(dit, {**case, "slice_point": np.array([7])})
    assert np.allclose(shifted, base, atol=1e-4) and not np.array_equal(shifted, base)
    # Positions within the input do matter: the same chunks in another order give another output.
    swapped = {**case, "hidden_states": np.concatenate([case["hidden_states"][:, :, 6:12], case["hidden_states"][:, :, 0:6], case["hidden_states"][:, :, 12:]], axis=2)}
    assert not np.allclose(_run(dit, swapped)[:, :, 12:], base[:, :, 12:], atol=1e-4)
    dropped = {**case, "caption_dropout": np.ones_like(case["caption_dropout"])}
    other_text = {**dropped, "encoder_hidden_states": case["encoder_hidden_states"] * 3}
    assert np.array_equal(_run(dit, dropped), _run(dit, other_text)), "a dropped chunk never sees the prompt"
    assert not np.allclose(_run(dit, dropped), base, atol=1e-4)


def test_batch_items_are_independent_as_the_unconditional_pass_needs(magi_checkpoint: Path) -> None:
    """MAGI's forward_3cfg third pass runs the window's chunks as a batch of single chunks."""
    dit = MagiCheckpoint.open(magi_checkpoint).dit()
    alone = _case(batch=2, context=0, window=1, slice_point=0)
    alone["caption_dropout"][:] = True
    out = _run(dit, alone)
    for b in range(2):
        single = {k: (v[b : b + 1] if k != "slice_point" else v) for k, v in alone.items()}
        assert np.allclose(_run(dit, single), out[b : b + 1], atol=1e-5)


def _io(path: Path) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    graph = onnx.load(str(path), load_external_data=False).graph
    desc = lambda v: (v.name, v.type.tensor_type.elem_type, len(v.type.tensor_type.shape.dim))  # noqa: E731
    return [desc(i) for i in graph.input], [desc(o) for o in graph.output]


def test_export_writes_the_complete_folder_with_the_contract_graphs(magi_exported: tuple[Path, dict]) -> None:
    folder, _ = magi_exported
    for f in ("tokenizer/tokenizer.json", "text_encoder/model.onnx", "transformer/model.onnx", "vae_decoder/model.onnx",
              "transformer/magi_config.json", "vae_decoder/config.json", "videosdgx.json", SOURCE_RECORD_FILE):
        assert (folder / f).is_file(), f
    inputs, outputs = _io(folder / "transformer/model.onnx")
    assert [i[0] for i in inputs] == TRANSFORMER_INPUTS and [o[0] for o in outputs] == ["velocity"]
    types = {name: t for name, t, _ in inputs}
    assert types["caption_dropout"] == onnx.TensorProto.BOOL
    assert types["kv_range"] == types["slice_point"] == types["encoder_attention_mask"] == onnx.TensorProto.INT64
    f32 = onnx.TensorProto.FLOAT
    assert _io(folder / "vae_decoder/model.onnx") == ([("latent_sample", f32, 5)], [("sample", f32, 5)])
    config = json.loads((folder / "transformer/magi_config.json").read_text())
    assert config["runtime_config"]["window_size"] == 4


def test_manifest_source_record_and_parity_of_every_graph(magi_exported: tuple[Path, dict]) -> None:
    folder, result = magi_exported
    manifest = json.loads((folder / "videosdgx.json").read_text())
    assert manifest == result["manifest"] and manifest["family"] == "magi" and manifest["name"] == "magitiny"
    assert manifest["constraints"]["frames"]["step"] == 24 and manifest["constraints"]["frames"]["offset"] == 0
    assert manifest["constraints"]["resolution"]["multiple"] == 16 and manifest["capabilities"]["chunked"] is True
    assert manifest["sampling"]["steps_multiple"] == 4 and manifest["latent"]["temporal_factor"] == 4
    parity = manifest["export"]["parity"]
    assert {d["graph"] for d in parity} == {"text_encoder", "transformer", "vae_decoder"}
    assert all(d["ok"] and d["deviation"] < 1e-4 for d in parity)
    record = json.loads((folder / SOURCE_RECORD_FILE).read_text())
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {SOURCE_RECORD_FILE}
    assert set(record["files"]) == on_disk and record["kind"] == "exported"


def test_the_exported_vae_decodes_one_chunk_of_any_size_as_the_module(magi_checkpoint: Path, magi_exported: tuple[Path, dict]) -> None:
    """A size no parity case used: [1, 16, 6, h, w] -> [1, 3, 24, 8h, 8w], as the worker feeds and reads it."""
    import onnxruntime as ort

    folder, _ = magi_exported
    z = np.random.default_rng(5).standard_normal((1, 16, 6, 3, 7)).astype(np.float32)
    got = ort.InferenceSession(str(folder / "vae_decoder/model.onnx")).run(["sample"], {"latent_sample": z})[0]
    decoder = MagiChunkDecoder(MagiCheckpoint.open(magi_checkpoint).vae_decoder(), 6, 3).eval()
    with torch.no_grad():
        want = decoder(torch.from_numpy(z)).numpy()
    assert got.shape == (1, 3, 24, 24, 56)
    assert np.abs(got - want).max() < 1e-4


@pytest.mark.parametrize("graph", ["transformer", "vae_decoder"])
def test_parity_catches_a_wrong_weight(graph: str, magi_checkpoint: Path, magi_exported: tuple[Path, dict], tmp_path: Path) -> None:
    folder, _ = magi_exported
    model = onnx.load(str(folder / graph / "model.onnx"))
    init = max(model.graph.initializer, key=lambda i: int(np.prod(i.dims)))  # the largest weight matrix
    init.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(init) * 1.5, init.name))
    onnx.save(model, str(tmp_path / "model.onnx"))
    ckpt = MagiCheckpoint.open(magi_checkpoint)
    if graph == "transformer":
        spec = transformer_spec(ckpt.dit(), 6, 0.9999, 16, np.random.default_rng(1))
    else:
        spec = vae_decoder_spec(MagiChunkDecoder(ckpt.vae_decoder(), 6, 3).eval(), 6, np.random.default_rng(1))
    results = check_graph(tmp_path / "model.onnx", spec, TOLERANCE["fp32"])
    assert not any(d.ok for d in results), [d.describe() for d in results]


def test_the_vae_checkpoint_loads_with_upstream_names(magi_checkpoint: Path) -> None:
    from safetensors.torch import load_file

    names = set(load_file(str(magi_checkpoint / "ckpt/vae/diffusion_pytorch_model.safetensors")))
    for name in ("decoder.proj_in.weight", "decoder.cls_token", "decoder.pos_embed", "decoder.blocks.1.attn.qkv.bias",
                 "decoder.blocks.0.mlp.fc2.weight", "decoder.norm.weight", "decoder.last_layer.weight"):
        assert name in names, name
    # ln_in_attn: upstream's norm1 is an Identity (no weights), the attention normalises q, k, v itself.
    assert not any(".norm1." in n for n in names)
    assert {f"decoder.{k}" for k in MagiCheckpoint.open(magi_checkpoint).vae_decoder().state_dict()} == names


def test_a_chunk_is_decoded_as_two_independent_temporal_tiles_of_three_latent_frames(magi_checkpoint: Path) -> None:
    """decode_chunk's tile_sample_min_length = fps // 2 = 12 frames = 3 latent frames, no temporal blending."""
    decoder = MagiChunkDecoder(MagiCheckpoint.open(magi_checkpoint).vae_decoder(), 6, 3).eval()
    z = torch.randn(1, 16, 6, 4, 4)
    changed = z.clone()
    changed[:, :, :3] += 1.0
    with torch.no_grad():
        base, out = decoder(z), decoder(changed)
        half = decoder.decoder(z[:, :, 3:])
    assert torch.equal(out[:, :, 12:], base[:, :, 12:]) and not torch.allclose(out[:, :, :12], base[:, :, :12], atol=1e-3)
    assert torch.allclose(base[:, :, 12:], half, atol=1e-6)


def test_the_vae_position_table_is_resized_except_at_its_trained_size() -> None:
    """At the trained latent size upstream adds the table as is; the always-on resize is the identity there."""
    decoder = tiny_vae_decoder()
    cfg = decoder.cfg
    with torch.no_grad():
        assert torch.equal(decoder._positions(cfg.latent_length, cfg.latent_size, cfg.latent_size), decoder.pos_embed)
        assert decoder._positions(3, 2, 5).shape == (1, 1 + 3 * 2 * 5, cfg.embed_dim)


def test_the_vae_without_ln_in_attn_has_upstream_norm1_and_its_refusals() -> None:
    decoder = tiny_vae_decoder(ddconfig={**TINY_VAE_DDCONFIG, "ln_in_attn": False, "use_final_proj": True})
    names = set(decoder.state_dict())
    assert "blocks.0.norm1.weight" in names and "final_proj.weight" in names and "final_norm.bias" in names
    with torch.no_grad():
        assert decoder(torch.randn(2, 16, 3, 2, 3)).shape == (2, 3, 12, 16, 24)
    with pytest.raises(ExportError, match="conv_last_layer"):
        MagiVaeConfig.from_json({**TINY_VAE_DDCONFIG, "conv_last_layer": False})
    with pytest.raises(ExportError, match="use_rope"):
        MagiVaeConfig.from_json({**TINY_VAE_DDCONFIG, "use_rope": True})
    with pytest.raises(ExportError, match="with_cls_token"):
        MagiVaeConfig.from_json({**TINY_VAE_DDCONFIG, "with_cls_token": False})


def test_refusals_name_what_is_wrong(magi_checkpoint: Path, magi_exported: tuple[Path, dict], tmp_path: Path) -> None:
    folder, _ = magi_exported
    with pytest.raises(ExportError, match="already exists"):
        export_magi(MagiExportOptions(source=magi_checkpoint, out=folder))
    with pytest.raises(ExportError, match="--limits"):
        export_magi(MagiExportOptions(source=magi_checkpoint, out=tmp_path / "m", limits="huge"))
    config = json.loads((magi_checkpoint / "magi_config.json").read_text())
    bad = tmp_path / "fp8"
    bad.mkdir()
    (bad / "magi_config.json").write_text(json.dumps({**config, "engine_config": {"fp8_quant": True}}))
    with pytest.raises(ExportError, match="fp8"):
        MagiCheckpoint.open(bad)
    with pytest.raises(ExportError, match="magi_config.json is missing"):
        MagiCheckpoint.open(tmp_path)
    with pytest.raises(ExportError, match="fp32 only"):
        export_magi_graphs(MagiExportOptions(source=magi_checkpoint, out=tmp_path, dtype="fp16"), tmp_path)
    novae = tmp_path / "novae"
    shutil.copytree(magi_checkpoint, novae, ignore=shutil.ignore_patterns("vae"))
    with pytest.raises(ExportError, match="ckpt/vae/config.json is missing"):
        MagiCheckpoint.open(novae)


# model_config of Sand AI's example/4.5B/4.5B_base_config.json and example/24B/24B_base_config.json.
MAGI_4_5B = {
    "num_layers": 34, "hidden_size": 3072, "ffn_hidden_size": 12288, "num_attention_heads": 24, "num_query_groups": 8,
    "kv_channels": 128, "layernorm_epsilon": 1e-06, "apply_layernorm_1p": True, "x_rescale_factor": 1,
    "half_channel_vae": False, "patch_size": 2, "t_patch_size": 1, "in_channels": 16, "out_channels": 16,
    "cond_hidden_ratio": 0.25, "caption_channels": 4096, "caption_max_length": 800, "xattn_cond_hidden_ratio": 1.0,
    "cond_gating_ratio": 1.0, "gated_linear_unit": False,
}
MAGI_24B = {**MAGI_4_5B, "num_layers": 48, "hidden_size": 6144, "ffn_hidden_size": 16384, "num_attention_heads": 48,
            "x_rescale_factor": 0.1, "half_channel_vae": True, "in_channels": 32, "out_channels": 32, "gated_linear_unit": True}


@pytest.mark.parametrize(("config", "billions"), [(MAGI_4_5B, 4.46), (MAGI_24B, 23.90)])
def test_the_released_configs_build_models_of_the_published_sizes(config: dict, billions: float) -> None:
    """The module tree, with upstream's names and shapes, has MAGI-1's parameter counts (4.5B and 24B)."""
    from videosdgx_export.magi.dit import MagiDiT, MagiModelConfig

    with torch.device("meta"):
        model = MagiDiT(MagiModelConfig.from_json(config))
    assert round(sum(p.numel() for p in model.parameters()) / 1e9, 2) == billions


def test_the_24b_features_run_on_a_16_channel_latent() -> None:
    """24B: gated MLP (silu_and_mul), half_channel_vae (the latent doubled to 32 channels, 16 out), x_rescale 0.1."""
    from videosdgx_export.magi.dit import MagiDiT, MagiModelConfig
    from videosdgx_export.magi.replica import TINY_MODEL_CONFIG

    cfg = {**TINY_MODEL_CONFIG, "gated_linear_unit": True, "half_channel_vae": True, "in_channels": 32, "out_channels": 32, "x_rescale_factor": 0.1}
    torch.manual_seed(0)
    dit = MagiDiT(MagiModelConfig.from_json(cfg)).eval()
    assert dit.videodit_blocks.layers[0].mlp.linear_fc1.out_features == 2 * cfg["ffn_hidden_size"]
    out = _run(dit, _case())
    assert out.shape == _case()["hidden_states"].shape and np.isfinite(out).all()


def test_the_reference_tiled_decode_is_one_decode_up_to_24_latents_and_tiles_above(magi_checkpoint: Path) -> None:
    """magi/reference.py (upstream's TileProcessor at decode_chunk's settings) over the decoder."""
    from videosdgx_export.magi.reference import tiled_decode

    decoder = MagiChunkDecoder(MagiCheckpoint.open(magi_checkpoint).vae_decoder(), 6, 3).eval()
    small = torch.randn(1, 16, 6, 24, 5)
    with torch.no_grad():
        assert torch.allclose(tiled_decode(decoder, small, 8).float(), decoder(small), atol=1e-6)
        large = torch.randn(1, 16, 6, 30, 4)  # two tiles down: rows [0, 32) and [24, 30)
        tiled, whole = tiled_decode(decoder, large, 8).float(), decoder(large)
    assert tiled.shape == whole.shape == (1, 3, 24, 240, 32)
    # The first tile is the whole latent here (30 < 32 rows) and its first 192 px are not blended; the last 48
    # come from the second tile (rows 24-30 decoded alone), blended: the ViT sees its tile, so they differ.
    assert torch.allclose(tiled[:, :, :, :192], whole[:, :, :, :192], atol=1e-6)
    assert not torch.allclose(tiled[:, :, :, 192:], whole[:, :, :, 192:], atol=1e-3)
