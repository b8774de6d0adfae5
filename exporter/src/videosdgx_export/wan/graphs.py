"""The three Wan graphs as the platform runs them (names and shapes: /work/notes/wan-contract.md).

Each wrapper calls diffusers' or transformers' own module; only the VAE decoder changes how the module
is driven (see WholeSequenceDecoder), and the parity check compares it with diffusers' own `decode`.
"""

from __future__ import annotations

import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.export import Dim

from ..errors import ExportError

Inputs = dict[str, np.ndarray]


class TextEncoderGraph(torch.nn.Module):
    """input_ids, attention_mask int64 [B, L] -> last_hidden_state [B, L, D_text]."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class TransformerGraph(torch.nn.Module):
    """hidden_states [B, 16, F, H/8, W/8], timestep float32 [B], encoder_hidden_states [B, L, D] -> out_sample."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(
        self, hidden_states: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor
    ) -> torch.Tensor:
        return self.transformer(
            hidden_states=hidden_states,
            timestep=timestep,
            encoder_hidden_states=encoder_hidden_states,
            return_dict=False,
        )[0]


class ImageToVideoTransformerGraph(torch.nn.Module):
    """Wan 2.1 I2V: hidden_states [B, 36, F, H/8, W/8] (noise, mask, condition), timestep, encoder_hidden_states,
    encoder_hidden_states_image [B, 257, D_image] -> out_sample [B, 16, F, H/8, W/8]."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        encoder_hidden_states_image: torch.Tensor,
    ) -> torch.Tensor:
        return self.transformer(
            hidden_states=hidden_states,
            timestep=timestep,
            encoder_hidden_states=encoder_hidden_states,
            encoder_hidden_states_image=encoder_hidden_states_image,
            return_dict=False,
        )[0]


class ImageEncoderGraph(torch.nn.Module):
    """pixel_values [B, 3, 224, 224] (CLIP-normalised) -> image_embeds: CLIPVisionModel's hidden_states[-2],
    what WanImageToVideoPipeline.encode_image gives the transformer."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.encoder(pixel_values=pixel_values, output_hidden_states=True).hidden_states[-2]


@contextmanager
def _whole_sequence_resampling(part: torch.nn.Module, mode: str, forward: Callable[..., torch.Tensor]) -> Iterator[None]:
    """Inside the block, every WanResample(`mode`) of the VAE's encoder or decoder `part` runs `forward`."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import WanResample

    patched = [m for m in part.modules() if isinstance(m, WanResample) and m.mode == mode]
    for module in patched:
        module.forward = types.MethodType(forward, module)
    try:
        yield
    finally:  # the same VAE then runs the diffusers way again (it is the parity reference)
        for module in patched:
            del module.forward


def _downsample3d_whole_sequence(self: Any, x: torch.Tensor, feat_cache: Any = None, feat_idx: Any = None) -> torch.Tensor:
    """WanResample('downsample3d') over all frames at once, equal to diffusers' chunked cached encode.

    The cached encode sees frame 0 alone (kept, not convolved in time), then chunks whose time conv
    (kernel 3, stride 2, no padding) runs on the previous chunk's last frame followed by the chunk: the
    windows (0, 1, 2), (2, 3, 4), ... of the whole sequence, after frame 0 kept as it is.
    """
    b, c, t, h, w = x.shape
    x = self.resample(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w))
    x = x.view(b, t, x.size(1), x.size(2), x.size(3)).permute(0, 2, 1, 3, 4)
    return torch.cat([x[:, :, :1], self.time_conv(x)], dim=2)


class WholeSequenceEncoder(torch.nn.Module):
    """AutoencoderKLWan encode with a dynamic frame count: sample [B, 3, F, H, W] -> latent_sample, the mode.

    diffusers encodes frame 0, then 4 frames at a time with a cache of each causal conv's last frames; as
    for the decoder, causal convs over the whole sequence (zero history) compute the same, and only the
    temporal downsampling is driven differently (`_downsample3d_whole_sequence`). The output is the
    posterior's mode (`retrieve_latents(..., sample_mode="argmax")`, as WanImageToVideoPipeline takes it),
    not normalised. Needs F = 4k+1 >= 5.
    """

    def __init__(self, vae: torch.nn.Module) -> None:
        super().__init__()
        if vae.config.patch_size is not None or vae.config.is_residual:
            raise ExportError("only the Wan 2.1 VAE (no patch_size, not residual) is supported")
        self.vae = vae

    def forward(self, sample: torch.Tensor) -> torch.Tensor:
        with _whole_sequence_resampling(self.vae.encoder, "downsample3d", _downsample3d_whole_sequence):
            x = self.vae.encoder(sample)
        moments = self.vae.quant_conv(x)
        return moments[:, : self.vae.config.z_dim]


def _upsample3d_whole_sequence(self: Any, x: torch.Tensor, feat_cache: Any = None, feat_idx: Any = None) -> torch.Tensor:
    """WanResample('upsample3d') over all frames at once, equal to diffusers' frame-by-frame cached decode.

    In the cached decode the first latent frame skips the temporal conv (its cache slot is "Rep") and is
    not doubled; every later frame goes through the causal time conv with the frames after the first as
    history (zeros before them) and becomes two frames.
    """
    b, c, t, h, w = x.shape
    first, rest = x[:, :, :1], x[:, :, 1:]
    doubled = self.time_conv(rest).reshape(b, 2, c, t - 1, h, w)
    doubled = torch.stack((doubled[:, 0], doubled[:, 1]), 3).reshape(b, c, 2 * (t - 1), h, w)
    x = torch.cat([first, doubled], dim=2)
    t = x.shape[2]
    x = self.resample(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w))
    return x.view(b, t, x.size(1), x.size(2), x.size(3)).permute(0, 2, 1, 3, 4)


class WholeSequenceDecoder(torch.nn.Module):
    """AutoencoderKLWan decode with a dynamic frame count: latent_sample [B, 16, F_lat, h, w] -> sample.

    diffusers decodes one latent frame at a time with a Python cache of each causal conv's last two input
    frames, a loop torch.export would unroll to one fixed frame count. A causal conv over the whole
    sequence (zero history) computes the same thing, so the decoder runs on all frames at once with
    diffusers' own modules (feat_cache=None); only the temporal upsampling, which skips its conv without
    a cache, is driven by `_upsample3d_whole_sequence`. Needs F_lat >= 2 (the time conv needs input).
    """

    def __init__(self, vae: torch.nn.Module) -> None:
        super().__init__()
        if vae.config.patch_size is not None or vae.config.is_residual:
            raise ExportError("only the Wan 2.1 VAE (no patch_size, not residual) is supported")
        self.vae = vae

    def forward(self, latent_sample: torch.Tensor) -> torch.Tensor:
        x = self.vae.post_quant_conv(latent_sample)
        with _whole_sequence_resampling(self.vae.decoder, "upsample3d", _upsample3d_whole_sequence):
            x = self.vae.decoder(x)
        return torch.clamp(x, min=-1.0, max=1.0)


@dataclass
class GraphSpec:
    """What export and parity need to know about one graph."""

    folder: str
    input_names: list[str]
    output_name: str
    example: Inputs  # traced with these; every axis in `dynamic` may differ at run time
    dynamic: dict[str, dict[int, Any]]
    parity_cases: list[Inputs]  # random inputs of several shapes, run by ONNX Runtime and PyTorch
    reference: Callable[[Inputs], np.ndarray] = field(repr=False)  # the diffusers/transformers computation


def _batch() -> Any:
    return Dim("batch", min=1, max=64)


def text_encoder_spec(reference_encoder: torch.nn.Module, vocab_size: int, max_len: int, rng: np.random.Generator) -> GraphSpec:
    def case(batch: int, length: int) -> Inputs:
        ids = rng.integers(3, vocab_size, size=(batch, length), dtype=np.int64)
        mask = np.zeros((batch, length), dtype=np.int64)
        for row in range(batch):  # prompts of different lengths, padded with id 0 as the tokenizer pads
            n = int(rng.integers(1, length + 1)) if row else length
            mask[row, :n] = 1
            ids[row, n:] = 0
        return {"input_ids": ids, "attention_mask": mask}

    def reference(inputs: Inputs) -> np.ndarray:
        with torch.no_grad():
            out = reference_encoder(
                input_ids=torch.from_numpy(inputs["input_ids"]),
                attention_mask=torch.from_numpy(inputs["attention_mask"]),
            ).last_hidden_state
        return out.float().numpy()

    seq = Dim("sequence", min=2, max=max(4096, max_len))
    return GraphSpec(
        folder="text_encoder",
        input_names=["input_ids", "attention_mask"],
        output_name="last_hidden_state",
        example=case(2, 16),
        dynamic={"input_ids": {0: _batch(), 1: seq}, "attention_mask": {0: _batch(), 1: seq}},
        parity_cases=[case(2, max_len), case(1, 7)],
        reference=reference,
    )


IMAGE_TOKENS = 257  # CLIP ViT-H/14 at 224: 16 x 16 patches and the class token
# diffusers' Wan attention splits [image states, text states] at `length - 512`: an I2V transformer only
# works with exactly 512 text states (transformer_wan.py, "hardcoded for now").
I2V_TEXT_LENGTH = 512


def transformer_spec(
    reference_transformer: torch.nn.Module, graph_dtype: np.dtype, text_dim: int, max_len: int, rng: np.random.Generator
) -> GraphSpec:
    in_channels = int(reference_transformer.config.in_channels)
    p_t, p_h, p_w = reference_transformer.config.patch_size
    image_dim = reference_transformer.config.image_dim  # set for Wan 2.1 I2V: its transformer takes CLIP's states
    if image_dim is not None and max_len != I2V_TEXT_LENGTH:
        raise ExportError(f"an image-to-video transformer takes exactly {I2V_TEXT_LENGTH} text states; --max-sequence-length {max_len} cannot be exported")
    # The text length is fixed for I2V (the graph keeps it static), free for T2V.
    text_len = (lambda n: I2V_TEXT_LENGTH) if image_dim is not None else (lambda n: n)

    def case(batch: int, frames: int, h: int, w: int, length: int) -> Inputs:
        inputs = {
            "hidden_states": rng.standard_normal((batch, in_channels, frames, h, w)).astype(graph_dtype),
            # The scheduler's integer timesteps, fed as float32.
            "timestep": rng.integers(0, 1000, size=(batch,)).astype(np.float32),
            "encoder_hidden_states": (0.5 * rng.standard_normal((batch, text_len(length), text_dim))).astype(graph_dtype),
        }
        if image_dim is not None:
            inputs["encoder_hidden_states_image"] = rng.standard_normal((batch, IMAGE_TOKENS, image_dim)).astype(graph_dtype)
        return inputs

    def reference(inputs: Inputs) -> np.ndarray:
        image = inputs.get("encoder_hidden_states_image")
        with torch.no_grad():
            out = reference_transformer(
                hidden_states=torch.from_numpy(inputs["hidden_states"].astype(np.float32)),
                timestep=torch.from_numpy(inputs["timestep"]),
                encoder_hidden_states=torch.from_numpy(inputs["encoder_hidden_states"].astype(np.float32)),
                **({} if image is None else {"encoder_hidden_states_image": torch.from_numpy(image.astype(np.float32))}),
                return_dict=False,
            )[0]
        return out.float().numpy()

    frames = Dim("latent_frames", min=1, max=1024)
    half_h, half_w = Dim("latent_height_patches", min=1, max=1024), Dim("latent_width_patches", min=1, max=1024)
    b = _batch()
    image_inputs = [] if image_dim is None else ["encoder_hidden_states_image"]
    return GraphSpec(
        folder="transformer",
        input_names=["hidden_states", "timestep", "encoder_hidden_states", *image_inputs],
        output_name="out_sample",
        example=case(2, 3 * p_t, 4 * p_h, 6 * p_w, 20),
        dynamic={
            "hidden_states": {0: b, 2: frames * p_t if p_t > 1 else frames, 3: p_h * half_h, 4: p_w * half_w},
            "timestep": {0: b},
            "encoder_hidden_states": {0: b} if image_dim is not None else {0: b, 1: Dim("sequence", min=1, max=max(4096, max_len))},
            **{name: {0: b} for name in image_inputs},
        },
        parity_cases=[case(2, 2 * p_t, 4 * p_h, 4 * p_w, max_len), case(1, 3 * p_t, 2 * p_h, 3 * p_w, 9)],
        reference=reference,
    )


def vae_decoder_spec(reference_vae: torch.nn.Module, rng: np.random.Generator) -> GraphSpec:
    z_dim = int(reference_vae.config.z_dim)
    mean = np.asarray(reference_vae.config.latents_mean, dtype=np.float32).reshape(1, z_dim, 1, 1, 1)
    std = np.asarray(reference_vae.config.latents_std, dtype=np.float32).reshape(1, z_dim, 1, 1, 1)

    def case(batch: int, frames: int, h: int, w: int) -> Inputs:
        # What the platform feeds: sampler latents (about unit variance) de-normalised per channel.
        z = rng.standard_normal((batch, z_dim, frames, h, w)).astype(np.float32)
        return {"latent_sample": (z * std + mean).astype(np.float32)}

    def reference(inputs: Inputs) -> np.ndarray:
        with torch.no_grad():  # diffusers' own frame-by-frame decode
            out = reference_vae.decode(torch.from_numpy(inputs["latent_sample"]), return_dict=False)[0]
        return out.float().numpy()

    return GraphSpec(
        folder="vae_decoder",
        input_names=["latent_sample"],
        output_name="sample",
        example=case(1, 3, 4, 6),
        dynamic={
            "latent_sample": {
                0: Dim("batch", min=1, max=16),
                2: Dim("latent_frames", min=2, max=1024),
                3: Dim("latent_height", min=1, max=1024),
                4: Dim("latent_width", min=1, max=1024),
            }
        },
        parity_cases=[case(1, 2, 8, 8), case(2, 3, 4, 6)],
        reference=reference,
    )


def image_encoder_spec(reference_encoder: torch.nn.Module, graph_dtype: np.dtype, rng: np.random.Generator) -> GraphSpec:
    size = int(reference_encoder.config.image_size)

    def case(batch: int) -> Inputs:
        return {"pixel_values": rng.standard_normal((batch, 3, size, size)).astype(graph_dtype)}

    def reference(inputs: Inputs) -> np.ndarray:
        with torch.no_grad():
            out = reference_encoder(pixel_values=torch.from_numpy(inputs["pixel_values"].astype(np.float32)), output_hidden_states=True)
        return out.hidden_states[-2].float().numpy()

    return GraphSpec(
        folder="image_encoder",
        input_names=["pixel_values"],
        output_name="image_embeds",
        example=case(2),
        dynamic={"pixel_values": {0: _batch()}},
        parity_cases=[case(1), case(2)],
        reference=reference,
    )


def vae_encoder_spec(reference_vae: torch.nn.Module, rng: np.random.Generator) -> GraphSpec:
    def case(batch: int, frames: int, h: int, w: int) -> Inputs:
        video = rng.uniform(-1, 1, size=(batch, 3, frames, h, w)).astype(np.float32)
        video[:, :, 1:] *= 0.5
        return {"sample": video}

    def reference(inputs: Inputs) -> np.ndarray:
        with torch.no_grad():  # diffusers' own chunked encode, the mode as WanImageToVideoPipeline takes it
            out = reference_vae.encode(torch.from_numpy(inputs["sample"])).latent_dist.mode()
        return out.float().numpy()

    chunks = Dim("latent_chunks", min=1, max=1024)
    cells_h, cells_w = Dim("latent_height", min=1, max=1024), Dim("latent_width", min=1, max=1024)
    return GraphSpec(
        folder="vae_encoder",
        input_names=["sample"],
        output_name="latent_sample",
        example=case(1, 9, 32, 48),
        dynamic={"sample": {0: Dim("batch", min=1, max=16), 2: 4 * chunks + 1, 3: 8 * cells_h, 4: 8 * cells_w}},
        parity_cases=[case(1, 5, 64, 64), case(1, 13, 32, 48)],
        reference=reference,
    )
