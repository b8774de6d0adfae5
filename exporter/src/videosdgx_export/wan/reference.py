"""Frames made by diffusers' own WanPipeline in PyTorch, written for a Node test to compare with ours.

Format (`reference.json` + raw little-endian, row-major tensors beside it):
  {"format": "videosdgx-wan-reference/1", "request": {...}, "timesteps": [...],
   "prompt_token_ids": [...], "negative_prompt_token_ids": [...],
   "tensors": {NAME: {"file": "NAME.f32" | "NAME.u8", "dtype": "float32" | "uint8", "shape": [...]}}}
Tensors: `latents` (the initial noise, [1, 16, F_lat, H/8, W/8]), `prompt_embeds` and
`negative_prompt_embeds` ([1, L, D], cut and zero-padded as the pipeline does), `step_latents`
([steps, 1, 16, F_lat, H/8, W/8], the latents after each scheduler step), `frames` ([F, H, W, 3], float
in [0, 1], output_type="np") and `frames_uint8` (the same, `(x * 255).round()` as diffusers makes images).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ExportError
from ..reference_tensors import ReferenceTensors
from .checkpoint import WanCheckpoint

FORMAT = "videosdgx-wan-reference/1"

# The negative prompt of diffusers' WanPipeline example (the Wan authors' default).
WAN_NEGATIVE_PROMPT = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, static, "
    "overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, extra fingers, poorly "
    "drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, fused fingers, still picture, messy "
    "background, three legs, many people in the background, walking backwards"
)


@dataclass(frozen=True)
class ReferenceRequest:
    prompt: str
    negative_prompt: str | None
    width: int
    height: int
    frames: int
    steps: int
    guidance: float
    seed: int
    max_sequence_length: int = 512
    # Raw little-endian float32 initial latents (e.g. the platform's own seeded noise) instead of torch's.
    latents_file: str | None = None
    # The first frame (an image file) for a WanImageToVideoPipeline checkpoint.
    image: str | None = None


def _token_ids(tokenizer: Any, text: str, max_len: int) -> list[int]:
    enc = tokenizer(text, padding="max_length", max_length=max_len, truncation=True, add_special_tokens=True)
    return [int(t) for t, m in zip(enc["input_ids"], enc["attention_mask"]) if m]


def write_reference(source: Path, out: Path, req: ReferenceRequest) -> Path:
    from diffusers import WanImageToVideoPipeline, WanPipeline

    ckpt = WanCheckpoint.open(source)
    if req.frames % 4 != 1 or req.width % 16 or req.height % 16:
        raise ExportError(f"frames must be 4k+1 and the size a multiple of 16 (got {req.frames}, {req.width}x{req.height})")
    if ckpt.is_i2v != (req.image is not None):
        raise ExportError("--image is needed for, and only for, a WanImageToVideoPipeline checkpoint")
    image_args: dict[str, Any] = {}
    if req.image is not None:
        from diffusers.pipelines.wan import pipeline_wan, pipeline_wan_i2v
        from PIL import Image

        # diffusers 0.42.1's I2V `basic_clean` calls ftfy even when it is not installed (the T2V one checks,
        # and the platform does not port ftfy): the T2V cleaning, which without ftfy is the same text.
        pipeline_wan_i2v.basic_clean = pipeline_wan.basic_clean

        image_args["image"] = Image.open(req.image).convert("RGB")
    pipe = (WanImageToVideoPipeline if ckpt.is_i2v else WanPipeline).from_pretrained(str(source), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    negative = WAN_NEGATIVE_PROMPT if req.negative_prompt is None else req.negative_prompt
    f_lat = (req.frames - 1) // pipe.vae_scale_factor_temporal + 1
    # The noise has the VAE's channels (an I2V transformer takes 20 more, the condition, beside them).
    shape = (1, pipe.vae.config.z_dim, f_lat, req.height // 8, req.width // 8)
    if req.latents_file is None:
        latents = torch.randn(shape, generator=torch.Generator().manual_seed(req.seed), dtype=torch.float32)
    else:
        raw = np.fromfile(req.latents_file, dtype="<f4")
        if raw.size != int(np.prod(shape)):
            raise ExportError(f"{req.latents_file} holds {raw.size} float32 values; the latents {list(shape)} need {int(np.prod(shape))}")
        latents = torch.from_numpy(raw.reshape(shape).copy())

    prompt_embeds, negative_embeds = pipe.encode_prompt(
        req.prompt, negative, do_classifier_free_guidance=True, max_sequence_length=req.max_sequence_length
    )
    steps: list[np.ndarray] = []

    def keep_latents(_pipe: Any, _i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        steps.append(kwargs["latents"].detach().numpy().copy())
        return {}

    with torch.no_grad():
        frames = pipe(
            prompt=req.prompt,
            negative_prompt=negative,
            height=req.height,
            width=req.width,
            num_frames=req.frames,
            num_inference_steps=req.steps,
            guidance_scale=req.guidance,
            latents=latents.clone(),
            output_type="np",
            max_sequence_length=req.max_sequence_length,
            callback_on_step_end=keep_latents,
            **image_args,
        ).frames[0]

    tensors = ReferenceTensors(out)
    put = tensors.put

    put("latents", latents.numpy())
    put("prompt_embeds", prompt_embeds.detach().numpy())
    put("negative_prompt_embeds", negative_embeds.detach().numpy())
    put("step_latents", np.stack(steps))
    put("frames", frames)
    put("frames_uint8", (frames * 255).round().astype(np.uint8))
    doc = {
        "format": FORMAT,
        "checkpoint": str(source),
        "request": {**asdict(req), "negative_prompt": negative},
        "scheduler": pipe.scheduler.config["_class_name"],
        "timesteps": [float(t) for t in pipe.scheduler.timesteps],
        "prompt_token_ids": _token_ids(pipe.tokenizer, req.prompt, req.max_sequence_length),
        "negative_prompt_token_ids": _token_ids(pipe.tokenizer, negative, req.max_sequence_length),
        "tensors": tensors.index,
    }
    (out / "reference.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return out / "reference.json"
