"""The six LTX-2 graphs as the platform runs them (names, dtypes, shapes: shared/src/models/families/ltx2.ts).

Each wrapper calls diffusers' or transformers' own module. Only the transformer is driven differently:
LTX2Pipeline chooses its extra passes with Python values (`isolate_modalities`, the STG block list), which
a graph cannot branch on, so they become tensor inputs that compute the same thing (see TransformerGraph).
The parity check compares every graph with the unmodified module called as the pipeline calls it.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.export import Dim

Inputs = dict[str, np.ndarray]


def gemma_prompt_states(encoder: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """`LTX2Pipeline._get_gemma_prompt_embeds`: every layer's hidden states stacked on a last axis, flattened."""
    out = encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    return torch.stack(out.hidden_states, dim=-1).flatten(2, 3)


class TextEncoderGraph(torch.nn.Module):
    """input_ids, attention_mask int64 [B, L] (left-padded) -> hidden_states [B, L, D x (layers + 1)]."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return gemma_prompt_states(self.encoder, input_ids, attention_mask)


@contextmanager
def _float64_pi() -> Iterator[None]:
    """The RoPE frequencies are `(theta ** linspace(float64) * torch.pi / 2).float()`; torch.onnx folds a Python
    float into a float32 constant, so pi loses its last digits and the top frequencies (~15708) move by one
    float32 step (cos off by 1e-3). As a float64 tensor pi stays exact; with float32 tensors it promotes as
    the Python float does (a 0-d tensor does not raise their dtype)."""
    original = torch.pi
    torch.pi = torch.tensor(original, dtype=torch.float64)  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.pi = original  # type: ignore[assignment]


@contextmanager
def _argsort_by_unique_keys() -> Iterator[None]:
    """The connectors move the real tokens before the registers with a stable argsort of `1 - mask`, which
    ONNX has no operator for. Keys made unique (`key * n + position`) give the same order with any sort."""
    original = torch.argsort

    def argsort(x: torch.Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> torch.Tensor:
        if not stable or descending or x.is_floating_point():
            return original(x, dim=dim, descending=descending, stable=stable)
        n = x.shape[dim]
        shape = [1] * x.ndim
        shape[dim] = n
        position = torch.arange(n, device=x.device, dtype=torch.int64).view(shape)
        return original(x.to(torch.int64) * n + position, dim=dim)

    torch.argsort = argsort
    try:
        yield
    finally:
        torch.argsort = original


class ConnectorsGraph(torch.nn.Module):
    """LTX2TextConnectors on left-padded states -> video and audio prompt states and their mask (int64)."""

    def __init__(self, connectors: torch.nn.Module) -> None:
        super().__init__()
        self.connectors = connectors

    def forward(self, text_encoder_hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with _argsort_by_unique_keys(), _float64_pi():
            return self.connectors(text_encoder_hidden_states, attention_mask, padding_side="left")


def _attn_processor_without_skip() -> Any:
    from diffusers.models.transformers.transformer_ltx2 import LTX2PerturbedAttnProcessor

    class LerpPerturbedAttnProcessor(LTX2PerturbedAttnProcessor):
        """STG by its perturbation mask alone: `lerp(value, attention, 0)` is the value projection, exactly what
        diffusers' all-perturbed shortcut returns, without the branch on a tensor that a graph cannot hold."""

        def __call__(  # the signature is read by LTX2Attention to route keyword arguments
            self,
            attn: Any,
            hidden_states: torch.Tensor,
            encoder_hidden_states: torch.Tensor | None = None,
            attention_mask: torch.Tensor | None = None,
            query_rotary_emb: Any = None,
            key_rotary_emb: Any = None,
            perturbation_mask: torch.Tensor | None = None,
            all_perturbed: bool | None = None,
        ) -> torch.Tensor:
            return super().__call__(
                attn, hidden_states, encoder_hidden_states, attention_mask, query_rotary_emb, key_rotary_emb,
                perturbation_mask=perturbation_mask, all_perturbed=False,
            )

    return LerpPerturbedAttnProcessor()


@contextmanager
def _graph_friendly(transformer: torch.nn.Module, keep: torch.Tensor) -> Iterator[None]:
    """For one traced call: the audio-video cross attentions scaled by `keep` (1, or 0 to isolate the
    modalities: `x + gate * 0` is diffusers' skipped block), and STG's self-attentions without the branch."""
    with ExitStack() as stack:
        for block in transformer.transformer_blocks:
            for attn in (block.audio_to_video_attn, block.video_to_audio_attn):
                original = attn.forward
                attn.forward = lambda *a, _f=original, **k: _f(*a, **k) * keep
                stack.callback(delattr, attn, "forward")
            if block.perturbed_attn:
                for attn in (block.attn1, block.audio_attn1):
                    before = attn.processor
                    attn.processor = _attn_processor_without_skip()
                    stack.callback(setattr, attn, "processor", before)
        yield


@contextmanager
def _squeeze_only_ones() -> Iterator[None]:
    """`x.squeeze(d)` is a no-op in torch when that axis is not 1 (the block squeezes its [B, 1, D] modulation
    at axis 2, D); torch.onnx writes an ONNX Squeeze there, which ONNX Runtime refuses. Skip it at trace time."""
    original = torch.Tensor.squeeze

    def squeeze(self: torch.Tensor, *dims: Any) -> torch.Tensor:
        if len(dims) == 1 and isinstance(dims[0], int) and isinstance(self.shape[dims[0]], int) and self.shape[dims[0]] != 1:
            return self
        return original(self, *dims)

    torch.Tensor.squeeze = squeeze  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.squeeze = original  # type: ignore[method-assign]


def traced(wrapper: torch.nn.Module, spec: "GraphSpec") -> torch.export.ExportedProgram:
    """torch.export with its own defaults, before torch.onnx converts the program. torch.onnx would trace
    with deferred runtime asserts instead of guards, which leaves the transformer's `view(batch, -1, ...)`
    shapes unsimplified (`s53//s47`) so that tracing fails; guards resolve them."""
    from ..errors import ExportError

    wrapper.eval()
    args = tuple(torch.from_numpy(spec.example[name]) for name in spec.input_names)
    try:
        with torch.no_grad():
            return torch.export.export(wrapper, args, dynamic_shapes={n: spec.dynamic.get(n, {}) for n in spec.input_names}, strict=False)
    except Exception as err:
        raise ExportError(f"torch.export could not trace {spec.folder}: {type(err).__name__}: {err}") from None


class TransformerGraph(torch.nn.Module):
    """LTX2VideoTransformer3DModel with the contract's 17 inputs -> (sample, audio_sample) velocities.

    `isolate_modalities` bool [1] is the modality-isolation pass; `perturbation_mask` float [B] is 0 where
    the STG blocks (fixed at export, `stg_blocks`) are perturbed and 1 elsewhere, diffusers' own mask. The
    grid sizes and fps are inputs of the contract, but with the coords given (as the pipeline gives them)
    the model does not read them.
    """

    def __init__(self, transformer: torch.nn.Module, stg_blocks: list[int]) -> None:
        super().__init__()
        self.transformer = transformer
        self.stg_blocks = list(stg_blocks)

    def forward(
        self,
        hidden_states: torch.Tensor,
        audio_hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        audio_encoder_hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        sigma: torch.Tensor,
        encoder_attention_mask: torch.Tensor,
        audio_encoder_attention_mask: torch.Tensor,
        num_frames: torch.Tensor,
        height: torch.Tensor,
        width: torch.Tensor,
        fps: torch.Tensor,
        audio_num_frames: torch.Tensor,
        video_coords: torch.Tensor,
        audio_coords: torch.Tensor,
        isolate_modalities: torch.Tensor,
        perturbation_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keep = 1.0 - isolate_modalities.to(hidden_states.dtype)
        with _graph_friendly(self.transformer, keep), _float64_pi(), _squeeze_only_ones():
            return self.transformer(
                hidden_states=hidden_states,
                audio_hidden_states=audio_hidden_states,
                encoder_hidden_states=encoder_hidden_states,
                audio_encoder_hidden_states=audio_encoder_hidden_states,
                timestep=timestep,
                sigma=sigma,
                encoder_attention_mask=encoder_attention_mask,
                audio_encoder_attention_mask=audio_encoder_attention_mask,
                video_coords=video_coords,
                audio_coords=audio_coords,
                isolate_modalities=False,
                spatio_temporal_guidance_blocks=self.stg_blocks,
                perturbation_mask=perturbation_mask.to(hidden_states.dtype),
                use_cross_timestep=True,
                return_dict=False,
            )


class VaeDecoderGraph(torch.nn.Module):
    """AutoencoderKLLTX2Video decode: latent_sample [B, C, F_lat, h, w], timestep [B] -> frames in [-1, 1]."""

    def __init__(self, vae: torch.nn.Module) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        temb = timestep if self.vae.config.timestep_conditioning else None
        frames = self.vae.decode(latent_sample, temb, return_dict=False)[0]
        return torch.clamp(frames, min=-1.0, max=1.0)


class AudioVaeDecoderGraph(torch.nn.Module):
    """AutoencoderKLLTX2Audio decode: latent_sample [B, C_a, S_a, M/4] -> mel [B, 2, 4 S_a - 3, M]."""

    def __init__(self, audio_vae: torch.nn.Module) -> None:
        super().__init__()
        self.audio_vae = audio_vae

    def forward(self, latent_sample: torch.Tensor) -> torch.Tensor:
        return self.audio_vae.decode(latent_sample, return_dict=False)[0]


class VocoderGraph(torch.nn.Module):
    """LTX2Vocoder: mel [B, 2, T, M] -> waveform [B, channels, samples]."""

    def __init__(self, vocoder: torch.nn.Module) -> None:
        super().__init__()
        self.vocoder = vocoder

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.vocoder(hidden_states)


@dataclass
class GraphSpec:
    """What export and parity need to know about one graph (several outputs, unlike Wan's)."""

    folder: str
    input_names: list[str]
    output_names: list[str]
    example: Inputs
    dynamic: dict[str, dict[int, Any]]
    parity_cases: list[Inputs]
    reference: Callable[[Inputs], list[np.ndarray]] = field(repr=False)


def _batch() -> Any:
    return Dim("batch", min=1, max=64)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def _left_padded(rng: np.random.Generator, batch: int, length: int, vocab: int) -> Inputs:
    """Token ids and masks as the Gemma tokenizer left-pads them (pad id 0), prompts of different lengths."""
    ids = rng.integers(4, vocab, size=(batch, length), dtype=np.int64)
    mask = np.zeros((batch, length), dtype=np.int64)
    for row in range(batch):
        n = int(rng.integers(2, length + 1)) if row else length
        mask[row, length - n:] = 1
        ids[row, : length - n] = 0
        ids[row, length - n] = 2  # <bos>
    return {"input_ids": ids, "attention_mask": mask}


def text_encoder_spec(reference: torch.nn.Module, vocab: int, max_len: int, rng: np.random.Generator, dtype: np.dtype) -> GraphSpec:
    def run(inputs: Inputs) -> list[np.ndarray]:
        with torch.no_grad():
            out = gemma_prompt_states(reference, _t(inputs["input_ids"]), _t(inputs["attention_mask"]))
        return [out.float().numpy()]

    seq = Dim("sequence", min=2, max=max(4096, max_len))
    return GraphSpec(
        folder="text_encoder",
        input_names=["input_ids", "attention_mask"],
        output_names=["hidden_states"],
        example=_left_padded(rng, 2, 16, vocab),
        dynamic={"input_ids": {0: _batch(), 1: seq}, "attention_mask": {0: _batch(), 1: seq}},
        parity_cases=[_left_padded(rng, 2, max_len, vocab), _left_padded(rng, 1, 7, vocab)],
        reference=run,
    )


def connectors_spec(reference: torch.nn.Module, max_len: int, rng: np.random.Generator, dtype: np.dtype) -> GraphSpec:
    cfg = reference.config
    features = int(cfg.caption_channels) * int(cfg.text_proj_in_factor)
    registers = int(cfg.video_connector_num_learnable_registers or 1)

    def case(batch: int, length: int) -> Inputs:
        mask = _left_padded(rng, batch, length, 8)["attention_mask"]
        states = rng.standard_normal((batch, length, features)).astype(dtype)
        return {"text_encoder_hidden_states": states, "attention_mask": mask}

    def run(inputs: Inputs) -> list[np.ndarray]:
        with torch.no_grad():
            v, a, m = reference(_t(inputs["text_encoder_hidden_states"].astype(np.float32)), _t(inputs["attention_mask"]), padding_side="left")
        return [v.float().numpy(), a.float().numpy(), m.numpy()]

    # The learnable registers tile the context: its length is a multiple of their count.
    seq = registers * Dim("register_blocks", min=1, max=max(4096, max_len) // registers)
    return GraphSpec(
        folder="connectors",
        input_names=["text_encoder_hidden_states", "attention_mask"],
        output_names=["video_text_embedding", "audio_text_embedding", "connector_attention_mask"],
        example=case(2, 2 * registers),
        dynamic={"text_encoder_hidden_states": {0: _batch(), 1: seq}, "attention_mask": {0: _batch(), 1: seq}},
        parity_cases=[case(2, max_len), case(1, registers)],
        reference=run,
    )


def _video_coords(transformer: torch.nn.Module, batch: int, frames: int, h: int, w: int, fps: float) -> np.ndarray:
    return transformer.rope.prepare_video_coords(batch, frames, h, w, torch.device("cpu"), fps=fps).float().numpy()


def _audio_coords(transformer: torch.nn.Module, batch: int, frames: int) -> np.ndarray:
    return transformer.audio_rope.prepare_audio_coords(batch, frames, torch.device("cpu")).float().numpy()


def transformer_spec(
    reference: torch.nn.Module, stg_blocks: list[int], text_dims: tuple[int, int], max_len: int, rng: np.random.Generator, dtype: np.dtype
) -> GraphSpec:
    cfg = reference.config
    channels, audio_features = int(cfg.in_channels), int(cfg.audio_in_channels)
    video_dim, audio_dim = text_dims

    def case(batch: int, frames: int, h: int, w: int, audio_frames: int, length: int, isolate: bool, perturb: list[float]) -> Inputs:
        sigma = rng.uniform(0.05, 1.0, size=(batch,)).astype(np.float32)
        mask = _left_padded(rng, batch, length, 8)["attention_mask"]
        fps = 24.0
        return {
            "hidden_states": rng.standard_normal((batch, frames * h * w, channels)).astype(dtype),
            "audio_hidden_states": rng.standard_normal((batch, audio_frames, audio_features)).astype(dtype),
            "encoder_hidden_states": rng.standard_normal((batch, length, video_dim)).astype(dtype),
            "audio_encoder_hidden_states": rng.standard_normal((batch, length, audio_dim)).astype(dtype),
            "timestep": sigma * 1000,
            "sigma": sigma * 1000,  # the pipeline passes the timestep as `sigma` too
            "encoder_attention_mask": mask,
            "audio_encoder_attention_mask": mask,
            "num_frames": np.array([frames], dtype=np.int64),
            "height": np.array([h], dtype=np.int64),
            "width": np.array([w], dtype=np.int64),
            "fps": np.array([fps], dtype=np.float32),
            "audio_num_frames": np.array([audio_frames], dtype=np.int64),
            "video_coords": _video_coords(reference, batch, frames, h, w, fps),
            "audio_coords": _audio_coords(reference, batch, audio_frames),
            "isolate_modalities": np.array([isolate]),
            "perturbation_mask": np.array(perturb, dtype=np.float32),
        }

    def run(inputs: Inputs) -> list[np.ndarray]:
        """As LTX2Pipeline calls the model: STG by its block list (all perturbed), isolation by the flag."""
        perturb = inputs["perturbation_mask"]
        with torch.no_grad():
            v, a = reference(
                hidden_states=_t(inputs["hidden_states"].astype(np.float32)),
                audio_hidden_states=_t(inputs["audio_hidden_states"].astype(np.float32)),
                encoder_hidden_states=_t(inputs["encoder_hidden_states"].astype(np.float32)),
                audio_encoder_hidden_states=_t(inputs["audio_encoder_hidden_states"].astype(np.float32)),
                timestep=_t(inputs["timestep"]),
                sigma=_t(inputs["sigma"]),
                encoder_attention_mask=_t(inputs["encoder_attention_mask"]),
                audio_encoder_attention_mask=_t(inputs["audio_encoder_attention_mask"]),
                num_frames=int(inputs["num_frames"][0]),
                height=int(inputs["height"][0]),
                width=int(inputs["width"][0]),
                fps=float(inputs["fps"][0]),
                audio_num_frames=int(inputs["audio_num_frames"][0]),
                video_coords=_t(inputs["video_coords"]),
                audio_coords=_t(inputs["audio_coords"]),
                isolate_modalities=bool(inputs["isolate_modalities"][0]),
                spatio_temporal_guidance_blocks=stg_blocks if not perturb.all() else None,
                perturbation_mask=None if perturb.all() or not perturb.any() else _t(perturb),
                use_cross_timestep=True,
                return_dict=False,
            )
        return [v.float().numpy(), a.float().numpy()]

    b = _batch()
    tokens, audio_tokens = Dim("video_tokens", min=1, max=1 << 20), Dim("audio_tokens", min=1, max=1 << 16)
    seq = Dim("sequence", min=1, max=max(4096, max_len))
    return GraphSpec(
        folder="transformer",
        input_names=[
            "hidden_states", "audio_hidden_states", "encoder_hidden_states", "audio_encoder_hidden_states",
            "timestep", "sigma", "encoder_attention_mask", "audio_encoder_attention_mask", "num_frames", "height",
            "width", "fps", "audio_num_frames", "video_coords", "audio_coords", "isolate_modalities", "perturbation_mask",
        ],
        output_names=["sample", "audio_sample"],
        example=case(2, 2, 2, 3, 5, 8, False, [1.0, 0.0]),
        dynamic={
            "hidden_states": {0: b, 1: tokens},
            "audio_hidden_states": {0: b, 1: audio_tokens},
            "encoder_hidden_states": {0: b, 1: seq},
            "audio_encoder_hidden_states": {0: b, 1: seq},
            "timestep": {0: b},
            "sigma": {0: b},
            "encoder_attention_mask": {0: b, 1: seq},
            "audio_encoder_attention_mask": {0: b, 1: seq},
            "video_coords": {0: b, 2: tokens},
            "audio_coords": {0: b, 2: audio_tokens},
            "perturbation_mask": {0: b},
        },
        # The pipeline's three kinds of pass: the CFG batch, STG (all perturbed) and modality isolation.
        parity_cases=[
            case(2, 2, 2, 2, 9, max_len, False, [1.0, 1.0]),
            case(1, 3, 1, 2, 7, 11, False, [0.0]),
            case(1, 2, 2, 2, 9, max_len, True, [1.0]),
        ],
        reference=run,
    )


def vae_decoder_spec(reference: torch.nn.Module, rng: np.random.Generator) -> GraphSpec:
    channels = int(reference.config.latent_channels)
    mean = reference.latents_mean.numpy().reshape(1, channels, 1, 1, 1)
    std = reference.latents_std.numpy().reshape(1, channels, 1, 1, 1)
    conditioned = bool(reference.config.timestep_conditioning)

    def case(batch: int, frames: int, h: int, w: int) -> Inputs:
        # What the platform feeds: sampler latents (about unit variance) de-normalised per channel.
        z = rng.standard_normal((batch, channels, frames, h, w)).astype(np.float32)
        return {"latent_sample": (z * std + mean).astype(np.float32), "timestep": np.full((batch,), 0.05, dtype=np.float32)}

    def run(inputs: Inputs) -> list[np.ndarray]:
        temb = _t(inputs["timestep"]) if conditioned else None
        with torch.no_grad():
            out = reference.decode(_t(inputs["latent_sample"]), temb, return_dict=False)[0]
        return [out.clamp(-1, 1).float().numpy()]

    return GraphSpec(
        folder="vae_decoder",
        input_names=["latent_sample", "timestep"],
        output_names=["sample"],
        example=case(1, 2, 2, 3),
        dynamic={
            "latent_sample": {
                0: Dim("batch", min=1, max=16),
                2: Dim("latent_frames", min=1, max=1024),
                3: Dim("latent_height", min=1, max=1024),
                4: Dim("latent_width", min=1, max=1024),
            },
            "timestep": {0: Dim("batch", min=1, max=16)},
        },
        parity_cases=[case(1, 2, 2, 2), case(1, 3, 2, 3)],
        reference=run,
    )


def audio_vae_decoder_spec(reference: torch.nn.Module, rng: np.random.Generator) -> GraphSpec:
    channels, bins = int(reference.config.latent_channels), int(reference.config.mel_bins) // 4

    def case(frames: int) -> Inputs:
        return {"latent_sample": rng.standard_normal((1, channels, frames, bins)).astype(np.float32)}

    def run(inputs: Inputs) -> list[np.ndarray]:
        with torch.no_grad():
            return [reference.decode(_t(inputs["latent_sample"]), return_dict=False)[0].float().numpy()]

    return GraphSpec(
        folder="audio_vae_decoder",
        input_names=["latent_sample"],
        output_names=["sample"],
        example=case(6),
        dynamic={"latent_sample": {0: Dim("batch", min=1, max=16), 2: Dim("audio_latent_frames", min=2, max=1 << 16)}},
        parity_cases=[case(9), case(4)],
        reference=run,
    )


def vocoder_spec(reference: torch.nn.Module, mel_bins: int, rng: np.random.Generator) -> GraphSpec:
    channels = int(reference.config.in_channels) // mel_bins

    def case(frames: int) -> Inputs:
        return {"hidden_states": rng.standard_normal((1, channels, frames, mel_bins)).astype(np.float32)}

    def run(inputs: Inputs) -> list[np.ndarray]:
        with torch.no_grad():
            return [reference(_t(inputs["hidden_states"])).float().numpy()]

    return GraphSpec(
        folder="vocoder",
        input_names=["hidden_states"],
        output_names=["waveform"],
        example=case(13),
        dynamic={"hidden_states": {0: Dim("batch", min=1, max=16), 2: Dim("mel_frames", min=1, max=1 << 20)}},
        parity_cases=[case(33), case(5)],
        reference=run,
    )
