"""Frames and sound made by diffusers' own LTX2Pipeline in PyTorch, written for a Node test to compare with ours.

Format (`reference.json` + raw little-endian, row-major tensors beside it):
  {"format": "videosdgx-ltx2-reference/1", "request": {...}, "timesteps": [...], "sigmas": [...],
   "tensors": {NAME: {"file": "NAME.f32" | "NAME.u8", "dtype": "float32" | "uint8", "shape": [...]}}}
Tensors: `latents` and `audio_latents` (the initial noise, packed: [1, S_v, C], [1, S_a, C_a x M/4]),
`step_latents` ([steps, 1, S_v, C], after each step), `frames` ([F, H, W, 3], float in [0, 1],
output_type="np"), `frames_uint8` (`(x * 255).round()`) and `waveform` ([channels, samples], the vocoder's).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ExportError
from ..reference_tensors import ReferenceTensors
from .checkpoint import Ltx2Checkpoint

FORMAT = "videosdgx-ltx2-reference/1"


@dataclass(frozen=True)
class ReferenceRequest:
    prompt: str
    negative_prompt: str
    width: int
    height: int
    frames: int
    fps: float
    steps: int
    guidance: float
    seed: int
    # LTX2Pipeline.__call__'s defaults; the audio's fall back to the video's when 0 or None (its `or`).
    stg_scale: float = 1.0
    modality_scale: float = 3.0
    guidance_rescale: float = 0.7
    audio_guidance_scale: float | None = 7.0
    audio_stg_scale: float | None = 1.0
    audio_modality_scale: float | None = 3.0
    audio_guidance_rescale: float | None = 0.7
    stg_blocks: list[int] = field(default_factory=lambda: [28])
    max_sequence_length: int = 1024
    # Raw little-endian float32 noise, video [C, F_lat, H/32, W/32] then audio [C_a, S_a, M/4] (the platform's
    # seeded draw, in that order), instead of torch's from --seed.
    latents_file: str | None = None


def _initial_latents(pipe: Any, req: ReferenceRequest) -> tuple[torch.Tensor, torch.Tensor]:
    """The packed video and audio noise, from the file or drawn by torch in the pipeline's order."""
    channels = pipe.transformer.config.in_channels
    video_shape = (1, channels, (req.frames - 1) // pipe.vae_temporal_compression_ratio + 1,
                   req.height // pipe.vae_spatial_compression_ratio, req.width // pipe.vae_spatial_compression_ratio)
    per_second = pipe.audio_sampling_rate / pipe.audio_hop_length / float(pipe.audio_vae_temporal_compression_ratio)
    audio_frames = round(req.frames / req.fps * per_second)
    audio_shape = (1, pipe.audio_vae.config.latent_channels, audio_frames, pipe.audio_vae.config.mel_bins // pipe.audio_vae_mel_compression_ratio)
    nv, na = int(np.prod(video_shape)), int(np.prod(audio_shape))
    if req.latents_file is None:
        generator = torch.Generator().manual_seed(req.seed)
        video = torch.randn(video_shape, generator=generator)
        audio = torch.randn(audio_shape, generator=generator)
    else:
        raw = np.fromfile(req.latents_file, dtype="<f4")
        if raw.size < nv + na:
            raise ExportError(f"{req.latents_file} holds {raw.size} float32 values; the video {list(video_shape)} and audio {list(audio_shape)} noise need {nv + na}")
        video = torch.from_numpy(raw[:nv].reshape(video_shape).copy())
        audio = torch.from_numpy(raw[nv:nv + na].reshape(audio_shape).copy())
    return pipe._pack_latents(video), pipe._pack_audio_latents(audio)


def write_reference(source: Path, out: Path, req: ReferenceRequest) -> Path:
    from diffusers import LTX2Pipeline

    Ltx2Checkpoint.open(source)
    if req.frames % 8 != 1 or req.width % 32 or req.height % 32:
        raise ExportError(f"frames must be 8k+1 and the size a multiple of 32 (got {req.frames}, {req.width}x{req.height})")
    pipe = LTX2Pipeline.from_pretrained(str(source), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    latents, audio_latents = _initial_latents(pipe, req)
    # Packed video latents given to the pipeline are used as they are; given audio latents it normalises as if
    # they were a clean latent. Noise it drew itself would not be: hand it over unchanged.
    pipe._normalize_audio_latents = lambda latents, _mean, _std: latents
    steps: list[np.ndarray] = []

    def keep_latents(_pipe: Any, _i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        steps.append(kwargs["latents"].detach().numpy().copy())
        return {}

    with torch.no_grad():
        result = pipe(
            prompt=req.prompt,
            negative_prompt=req.negative_prompt,
            height=req.height,
            width=req.width,
            num_frames=req.frames,
            frame_rate=req.fps,
            num_inference_steps=req.steps,
            guidance_scale=req.guidance,
            stg_scale=req.stg_scale,
            modality_scale=req.modality_scale,
            guidance_rescale=req.guidance_rescale,
            audio_guidance_scale=req.audio_guidance_scale,
            audio_stg_scale=req.audio_stg_scale,
            audio_modality_scale=req.audio_modality_scale,
            audio_guidance_rescale=req.audio_guidance_rescale,
            spatio_temporal_guidance_blocks=req.stg_blocks,
            latents=latents.clone(),
            audio_latents=audio_latents.clone(),
            output_type="np",
            max_sequence_length=req.max_sequence_length,
            callback_on_step_end=keep_latents,
        )
    frames = np.asarray(result.frames[0], dtype=np.float32)
    waveform = result.audio[0].float().numpy()

    tensors = ReferenceTensors(out)
    put = tensors.put

    put("latents", latents.numpy())
    put("audio_latents", audio_latents.numpy())
    put("step_latents", np.stack(steps))
    put("frames", frames)
    put("frames_uint8", (frames * 255).round().astype(np.uint8))
    put("waveform", waveform)
    doc = {
        "format": FORMAT,
        "checkpoint": str(source),
        "request": asdict(req),
        "timesteps": [float(t) for t in pipe.scheduler.timesteps],
        "sigmas": [float(s) for s in pipe.scheduler.sigmas],
        "sample_rate": int(pipe.vocoder.config.output_sampling_rate),
        "tensors": tensors.index,
    }
    (out / "reference.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return out / "reference.json"
