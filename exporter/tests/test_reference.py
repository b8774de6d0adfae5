"""diffusers' WanPipeline reference, and the exported folder reproducing it (ONNX graphs + diffusers' UniPC).

The Python run below is the same computation the Node `wan` family makes from the folder; it shows that
the folder alone (graphs, tokenizer, scheduler config, VAE config) carries everything the pipeline needs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from diffusers import UniPCMultistepScheduler
from transformers import AutoTokenizer

from videosdgx_export.wan.export import ExportResult
from videosdgx_export.wan.reference import FORMAT, WAN_NEGATIVE_PROMPT, ReferenceRequest, write_reference

REQUEST = ReferenceRequest(
    prompt="a red cat walking on the beach at sunset", negative_prompt=None,
    width=64, height=48, frames=9, steps=4, guidance=5.0, seed=42,
)
# Frames in [0, 1]: a quarter of one uint8 level. Both runs do the same float32 arithmetic, except the
# graphs' fused kernels, which differ by about 1e-6 per call (test_folder_contract).
FRAME_TOLERANCE = 1 / 1020


@pytest.fixture(scope="module")
def reference(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray | dict]:
    doc_path = write_reference(checkpoint, tmp_path_factory.mktemp("ref"), REQUEST)
    doc = json.loads(doc_path.read_text())
    arrays: dict[str, np.ndarray | dict] = {"doc": doc}
    for name, t in doc["tensors"].items():
        dtype = np.uint8 if t["dtype"] == "uint8" else np.dtype("<f4")
        arrays[name] = np.fromfile(doc_path.parent / t["file"], dtype=dtype).reshape(t["shape"])
    return arrays


def test_reference_file_describes_the_run(reference: dict) -> None:
    doc = reference["doc"]
    assert doc["format"] == FORMAT and doc["scheduler"] == "UniPCMultistepScheduler"
    assert doc["request"]["negative_prompt"] == WAN_NEGATIVE_PROMPT
    assert len(doc["timesteps"]) == REQUEST.steps and doc["timesteps"][0] > doc["timesteps"][-1]
    assert reference["latents"].shape == (1, 16, 3, 6, 8)
    assert reference["step_latents"].shape == (4, 1, 16, 3, 6, 8)
    assert reference["prompt_embeds"].shape == (1, 512, 32)
    n = len(doc["prompt_token_ids"])
    assert np.all(reference["prompt_embeds"][0, n:] == 0) and np.any(reference["prompt_embeds"][0, :n] != 0)
    frames = reference["frames"]
    assert frames.shape == (9, 48, 64, 3) and 0 <= frames.min() and frames.max() <= 1 and frames.std() > 0.01
    assert np.array_equal(reference["frames_uint8"], (frames * 255).round().astype(np.uint8))


def encode(session: ort.InferenceSession, tokenizer: object, text: str, max_len: int) -> np.ndarray:
    enc = tokenizer(text, padding="max_length", max_length=max_len, truncation=True, return_tensors="np")  # type: ignore[operator]
    ids, mask = enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)
    (states,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
    states = states.astype(np.float32)
    states[:, int(mask.sum()):] = 0  # cut to the prompt's length, zero-padded (the pipeline's rule)
    return states


def test_exported_folder_reproduces_the_pipeline(exported: ExportResult, reference: dict) -> None:
    folder, doc = exported.out, reference["doc"]
    sessions = {g: ort.InferenceSession(str(folder / g / "model.onnx")) for g in ("text_encoder", "transformer", "vae_decoder")}
    tokenizer = AutoTokenizer.from_pretrained(str(folder / "tokenizer"))
    cond = encode(sessions["text_encoder"], tokenizer, REQUEST.prompt, 512)
    uncond = encode(sessions["text_encoder"], tokenizer, doc["request"]["negative_prompt"], 512)
    np.testing.assert_allclose(cond, reference["prompt_embeds"], atol=1e-5)
    np.testing.assert_allclose(uncond, reference["negative_prompt_embeds"], atol=1e-5)

    scheduler = UniPCMultistepScheduler.from_pretrained(str(folder / "scheduler"))
    scheduler.set_timesteps(REQUEST.steps)
    assert [float(t) for t in scheduler.timesteps] == doc["timesteps"]
    latents = torch.from_numpy(reference["latents"].copy())
    for i, t in enumerate(scheduler.timesteps):
        def velocity(states: np.ndarray) -> np.ndarray:
            feed = {"hidden_states": latents.numpy(), "timestep": np.array([float(t)], np.float32), "encoder_hidden_states": states}
            return sessions["transformer"].run(None, feed)[0]
        v_cond, v_uncond = velocity(cond), velocity(uncond)
        v = v_uncond + REQUEST.guidance * (v_cond - v_uncond)
        latents = scheduler.step(torch.from_numpy(v), t, latents, return_dict=False)[0]
        np.testing.assert_allclose(latents.numpy(), reference["step_latents"][i], atol=1e-4)

    vae = json.loads((folder / "vae_decoder/config.json").read_text())
    mean = np.array(vae["latents_mean"], np.float32).reshape(1, 16, 1, 1, 1)
    std = np.array(vae["latents_std"], np.float32).reshape(1, 16, 1, 1, 1)
    (video,) = sessions["vae_decoder"].run(None, {"latent_sample": latents.numpy() / (1 / std) + mean})
    frames = np.clip(video[0].transpose(1, 2, 3, 0) / 2 + 0.5, 0, 1)  # [F, H, W, 3], as VideoProcessor
    deviation = float(np.abs(frames - reference["frames"]).max())
    assert deviation < FRAME_TOLERANCE, deviation


def test_reference_takes_given_latents(checkpoint: Path, reference: dict, tmp_path: Path) -> None:
    """The Node side passes its own seeded noise, so both pipelines start from the same latents."""
    from videosdgx_export.errors import ExportError

    given = (reference["latents"] * 0.5).astype("<f4")
    given.tofile(tmp_path / "noise.f32")
    doc_path = write_reference(checkpoint, tmp_path / "ref", REQUEST.__class__(**{**REQUEST.__dict__, "latents_file": str(tmp_path / "noise.f32")}))
    doc = json.loads(doc_path.read_text())
    assert np.array_equal(np.fromfile(doc_path.parent / "latents.f32", dtype="<f4").reshape(given.shape), given)
    frames = np.fromfile(doc_path.parent / "frames.f32", dtype="<f4").reshape(doc["tensors"]["frames"]["shape"])
    assert np.abs(frames - reference["frames"]).max() > 0.01  # other latents, another video
    given.reshape(-1)[:5].tofile(tmp_path / "short.f32")
    with pytest.raises(ExportError, match="short.f32 holds"):
        write_reference(checkpoint, tmp_path / "ref2", REQUEST.__class__(**{**REQUEST.__dict__, "latents_file": str(tmp_path / "short.f32")}))
