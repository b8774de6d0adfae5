"""MAGI-1's DiT (Sand AI, inference/model/dit) in plain PyTorch, computing one forward of the magi contract.

Why a re-implementation: the upstream module cannot be built or run on a CPU. dit_module.py imports
flashinfer, flash_attn and triton at import time, its rotary embedding asks torch.cuda for a device in
__init__, and its gating is a Triton kernel that asserts CUDA tensors. The math below is the same, op for
op, with the same parameter names, so Sand AI's `inference_weight` safetensors load into it unchanged.

What differs is only how the forward is fed (magi-contract.md): the clean chunks a window attends to
come in as input chunks at clean_t (each attending to itself only) instead of a KV cache, the block-causal
ranges are chunk indices into the input, and `caption_dropout` selects the learned null caption per chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ExportError

# upstream pipeline/video_generate.py _process_null_embeddings: the null caption's first 50 tokens are real.
NULL_CAPTION_TOKENS = 50
# dit_module.py TransformerLayer.attn_linear_proj: "hn=8 is hardcoded to align with TP8 training".
PROJ_GROUPS = 8


@dataclass(frozen=True)
class MagiModelConfig:
    """`model_config` of Sand AI's config json (example/4.5B/4.5B_base_config.json), the fields the DiT reads."""

    num_layers: int
    hidden_size: int
    ffn_hidden_size: int
    num_attention_heads: int
    num_query_groups: int
    kv_channels: int
    layernorm_epsilon: float
    apply_layernorm_1p: bool
    x_rescale_factor: float
    half_channel_vae: bool
    patch_size: int
    t_patch_size: int
    in_channels: int
    out_channels: int
    cond_hidden_ratio: float
    caption_channels: int
    caption_max_length: int
    xattn_cond_hidden_ratio: float
    cond_gating_ratio: float
    gated_linear_unit: bool

    @classmethod
    def from_json(cls, model_config: dict[str, Any]) -> "MagiModelConfig":
        missing = [f.name for f in fields(cls) if f.name not in model_config]
        if missing:
            raise ExportError(f"magi_config.json: model_config lacks {', '.join(missing)}")
        cfg = cls(**{f.name: model_config[f.name] for f in fields(cls)})
        if cfg.cond_gating_ratio != 1.0:
            raise ExportError("magi_config.json: model_config.cond_gating_ratio must be 1.0 (the gate multiplies the hidden state)")
        if (cfg.num_attention_heads * cfg.kv_channels) % PROJ_GROUPS:
            raise ExportError(f"magi_config.json: num_attention_heads x kv_channels must divide by {PROJ_GROUPS} (MAGI's output projection layout)")
        if cfg.num_attention_heads % cfg.num_query_groups:
            raise ExportError("magi_config.json: num_attention_heads must be a multiple of num_query_groups")
        return cfg

    @property
    def cond_size(self) -> int:
        return int(self.hidden_size * self.cond_hidden_ratio)

    @property
    def xattn_size(self) -> int:
        return int(self.hidden_size * self.xattn_cond_hidden_ratio)


class MagiLayerNorm(nn.Module):
    """dit_module.py FusedLayerNorm: weight stored as (gamma - 1) when apply_layernorm_1p."""

    def __init__(self, size: int, cfg: MagiModelConfig) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(size))
        self.bias = nn.Parameter(torch.zeros(size))
        self.eps = cfg.layernorm_epsilon
        self.one_p = cfg.apply_layernorm_1p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight + 1 if self.one_p else self.weight
        return F.layer_norm(x, (x.shape[-1],), weight, self.bias, self.eps)


class TimestepEmbedder(nn.Module):
    def __init__(self, cfg: MagiModelConfig, frequency_embedding_size: int = 256) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, cfg.cond_size), nn.SiLU(), nn.Linear(cfg.cond_size, cfg.cond_size)
        )
        self.frequency_embedding_size = frequency_embedding_size

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.frequency_embedding_size // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(0, half, dtype=torch.float32) / half)
        # Same order of products as upstream (t * freqs * 1000), so float32 rounding matches.
        args = t.float()[..., None] * freqs * 1000
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class CaptionEmbedder(nn.Module):
    def __init__(self, cfg: MagiModelConfig) -> None:
        super().__init__()
        self.y_proj_xattn = nn.Sequential(nn.Linear(cfg.caption_channels, cfg.xattn_size), nn.SiLU())
        self.y_proj_adaln = nn.Sequential(nn.Linear(cfg.caption_channels, cfg.cond_size))
        self.null_caption_embedding = nn.Parameter(torch.zeros(cfg.caption_max_length, cfg.caption_channels))


class LearnableRotaryEmbeddingCat(nn.Module):
    """Only the learned bands are parameters; the embedding is built per forward (dit_model.py Part2)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        n = dim // 8
        self.bands = nn.Parameter(1.0 / (10000.0 ** (torch.arange(0, n, dtype=torch.float32) / n)))

    def embed(self, t_frames: int, first_frame: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """[T H W, 2 * 3 * bands] sin then cos, for frames first_frame .. first_frame + T of a grid T_total long."""
        t = first_frame.float() + torch.arange(t_frames, dtype=torch.float32)
        # build_fourier_pos_embed's ref_feat_shape rescale: x / (f - 1) * (r - 1); in time r = f (a no-op
        # kept for its rounding), in space r = size / sqrt(h w / 256). A size of 1 stays 0 either way.
        # Sizes as float tensors (sums of ones) so the graph keeps them dynamic.
        t_last = torch.clamp(t[-1:], min=1)
        t = t / t_last * t_last
        hf, wf = torch.ones(h).sum(), torch.ones(w).sum()
        scale = torch.sqrt(hf * wf / (16 * 16))
        ys = torch.arange(h, dtype=torch.float32) - (hf - 1) / 2
        xs = torch.arange(w, dtype=torch.float32) - (wf - 1) / 2
        ys = ys / torch.clamp(hf - 1, min=1) * (hf / scale - 1)
        xs = xs / torch.clamp(wf - 1, min=1) * (wf / scale - 1)
        grid = torch.stack(torch.meshgrid(t, ys, xs, indexing="ij"), dim=-1)  # [T, H, W, 3]
        pos = (grid.unsqueeze(-1) * self.bands).reshape(-1, 3 * self.bands.shape[0])
        return torch.cat([pos.sin(), pos.cos()], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """flash_attn's apply_rotary_emb, non-interleaved: halves of the first 2 * cos.shape[-1] dims rotate."""
    r = cos.shape[-1]
    x1, x2, rest = x[..., :r], x[..., r : 2 * r], x[..., 2 * r :]
    cos = cos[:, None, :]
    sin = sin[:, None, :]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos, rest], dim=-1)


class CustomLayerNormLinear(nn.Module):
    def __init__(self, cfg: MagiModelConfig) -> None:
        super().__init__()
        q_size = cfg.kv_channels * cfg.num_attention_heads
        kv_size = cfg.kv_channels * cfg.num_query_groups
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layernorm_epsilon)
        self.q = nn.Linear(cfg.hidden_size, q_size, bias=False)
        self.qx = nn.Linear(cfg.hidden_size, q_size, bias=False)
        self.k = nn.Linear(cfg.hidden_size, kv_size, bias=False)
        self.v = nn.Linear(cfg.hidden_size, kv_size, bias=False)


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """q [B, Sq, h, d], k/v [B, Sk, g, d] (grouped: head i uses group i // (h/g)), allowed [B, Sq, Sk]."""
    rep = q.shape[2] // k.shape[2]
    k = k.repeat_interleave(rep, dim=2)
    v = v.repeat_interleave(rep, dim=2)
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~allowed[:, None], float("-inf"))
    return torch.einsum("bhqk,bkhd->bqhd", torch.softmax(scores, dim=-1), v)


class FullyParallelAttention(nn.Module):
    def __init__(self, cfg: MagiModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.linear_qkv = CustomLayerNormLinear(cfg)
        self.linear_kv_xattn = nn.Linear(cfg.xattn_size, 2 * cfg.kv_channels * cfg.num_query_groups, bias=False)
        self.linear_proj = nn.Linear(2 * cfg.kv_channels * cfg.num_attention_heads, cfg.hidden_size, bias=False)
        self.q_layernorm = MagiLayerNorm(cfg.kv_channels, cfg)
        self.q_layernorm_xattn = MagiLayerNorm(cfg.kv_channels, cfg)
        self.k_layernorm = MagiLayerNorm(cfg.kv_channels, cfg)
        self.k_layernorm_xattn = MagiLayerNorm(cfg.kv_channels, cfg)

    def forward(
        self, x: torch.Tensor, rope: torch.Tensor, self_allowed: torch.Tensor, y_xattn: torch.Tensor, cross_allowed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, s, _ = x.shape
        d = self.cfg.kv_channels
        sin, cos = rope.tensor_split(2, -1)
        mixed = self.linear_qkv.layer_norm(x)
        q = apply_rotary(self.q_layernorm(self.linear_qkv.q(mixed).reshape(b, s, -1, d)), cos, sin)
        k = apply_rotary(self.k_layernorm(self.linear_qkv.k(mixed).reshape(b, s, -1, d)), cos, sin)
        v = self.linear_qkv.v(mixed).reshape(b, s, -1, d)
        core = _attention(q, k, v, self_allowed).reshape(b, s, -1)

        qx = self.q_layernorm_xattn(self.linear_qkv.qx(mixed).reshape(b, s, -1, d))
        # [B, K, g, 2d]: each group's key then value (get_xqkv's view + split_tensor_along_last_dim).
        kv = self.linear_kv_xattn(y_xattn).reshape(b, y_xattn.shape[1], -1, 2 * d)
        kx = self.k_layernorm_xattn(kv[..., :d])
        cross = _attention(qx, kx, kv[..., d:], cross_allowed).reshape(b, s, -1)
        return core, cross


class CustomMLP(nn.Module):
    def __init__(self, cfg: MagiModelConfig) -> None:
        super().__init__()
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layernorm_epsilon)
        self.glu = cfg.gated_linear_unit
        self.linear_fc1 = nn.Linear(cfg.hidden_size, cfg.ffn_hidden_size * (2 if self.glu else 1), bias=False)
        self.linear_fc2 = nn.Linear(cfg.ffn_hidden_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear_fc1(self.layer_norm(x))
        if self.glu:  # flashinfer's silu_and_mul (24B): silu of the first half times the second
            a, b = h.chunk(2, dim=-1)
            return self.linear_fc2(F.silu(a) * b)
        return self.linear_fc2(F.gelu(h))


class AdaModulateLayer(nn.Module):
    def __init__(self, cfg: MagiModelConfig) -> None:
        super().__init__()
        self.act = nn.SiLU()
        self.proj = nn.Sequential(nn.Linear(cfg.cond_size, int(cfg.hidden_size * cfg.cond_gating_ratio * 2)))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return self.proj(self.act(c))


class TransformerLayer(nn.Module):
    def __init__(self, cfg: MagiModelConfig) -> None:
        super().__init__()
        self.ada_modulate_layer = AdaModulateLayer(cfg)
        self.self_attention = FullyParallelAttention(cfg)
        self.self_attn_post_norm = MagiLayerNorm(cfg.hidden_size, cfg)
        self.mlp = CustomMLP(cfg)
        self.mlp_post_norm = MagiLayerNorm(cfg.hidden_size, cfg)

    def forward(self, x: torch.Tensor, condition: torch.Tensor, token_chunk: torch.Tensor, rope: torch.Tensor,
                self_allowed: torch.Tensor, y_xattn: torch.Tensor, cross_allowed: torch.Tensor) -> torch.Tensor:
        core, cross = self.self_attention(x, rope, self_allowed, y_xattn, cross_allowed)
        b, s, _ = core.shape
        # attn_linear_proj: "sq b (n hn hd) -> sq b (hn n hd)" with n = 2 (self, cross), hn = 8.
        attn = torch.stack([core, cross], dim=2).reshape(b, s, 2, PROJ_GROUPS, -1).transpose(2, 3).reshape(b, s, -1)
        h = self.self_attention.linear_proj(attn)
        # softcap(., 1) = tanh; each token is gated by its chunk's condition (range_mod_triton).
        gate = torch.tanh(self.ada_modulate_layer(condition))
        gate_msa, gate_mlp = gate.chunk(2, dim=-1)
        gate_msa = torch.gather(gate_msa, 1, token_chunk.expand(b, -1, gate_msa.shape[-1]))
        gate_mlp = torch.gather(gate_mlp, 1, token_chunk.expand(b, -1, gate_mlp.shape[-1]))
        x = self.self_attn_post_norm(h * gate_msa) + x
        return self.mlp_post_norm(self.mlp(x) * gate_mlp) + x


class TransformerBlock(nn.Module):
    def __init__(self, cfg: MagiModelConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(cfg) for _ in range(cfg.num_layers))
        self.final_layernorm = MagiLayerNorm(cfg.hidden_size, cfg)


class FinalLinear(nn.Module):
    def __init__(self, cfg: MagiModelConfig) -> None:
        super().__init__()
        self.linear = nn.Linear(cfg.hidden_size, cfg.patch_size**2 * cfg.t_patch_size * cfg.out_channels, bias=False)


class MagiDiT(nn.Module):
    """VideoDiTModel's parameters and one forward (dit_model.py forward_pre_process .. forward_post_process).

    hidden_states [B, C, n * chunk_width, h, w], timestep [B, n] (0 noise .. 1 clean), encoder_hidden_states
    [B, L, caption_channels] + encoder_attention_mask [B, L], caption_dropout bool [B, n], kv_range int64
    [B, n, 2] (chunk j attends to input chunks [start, end)), slice_point int64 [1] (absolute index of the
    first input chunk: its RoPE frame offset) -> velocity like hidden_states.
    """

    def __init__(self, cfg: MagiModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        p, pt = cfg.patch_size, cfg.t_patch_size
        self.x_embedder = nn.Conv3d(cfg.in_channels, cfg.hidden_size, kernel_size=(pt, p, p), stride=(pt, p, p), bias=False)
        self.t_embedder = TimestepEmbedder(cfg)
        self.y_embedder = CaptionEmbedder(cfg)
        self.rope = LearnableRotaryEmbeddingCat(cfg.hidden_size // cfg.num_attention_heads)
        self.videodit_blocks = TransformerBlock(cfg)
        self.final_linear = FinalLinear(cfg)

    def forward(self, hidden_states: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                encoder_attention_mask: torch.Tensor, caption_dropout: torch.Tensor, kv_range: torch.Tensor,
                slice_point: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        x = hidden_states.float() * cfg.x_rescale_factor
        if cfg.half_channel_vae:
            x = torch.cat([x, x], dim=1)
        x = self.x_embedder(x)
        b, _, t, h, w = x.shape
        n = timestep.shape[1]
        frames_per_chunk = t // n
        x = x.flatten(2).transpose(1, 2)  # [B, T H W, D], time-major as upstream's (T H W)
        tokens_per_chunk = frames_per_chunk * h * w
        token_chunk = (torch.arange(t * h * w) // tokens_per_chunk)[None, :, None]  # condition_map

        rope = self.rope.embed(t, slice_point[0] * frames_per_chunk, h, w)

        drop = caption_dropout.bool()
        null = self.y_embedder.null_caption_embedding
        # y_adaln: caption_drop_single_token picks null row -1 (dropped) or -2 (kept); the real caption
        # never reaches adaLN at inference.
        adaln_in = torch.where(drop[..., None], null[-1], null[-2])
        condition = self.t_embedder(timestep) + self.y_embedder.y_proj_adaln(adaln_in)  # [B, n, cond]

        # Cross-attention keys: the prompt's tokens, then the null caption's 50; a kept chunk sees the
        # prompt's masked tokens, a dropped one the null caption's (the packed varlen attention, as masks).
        prompt = self.y_embedder.y_proj_xattn(encoder_hidden_states.float())
        null_keys = self.y_embedder.y_proj_xattn(null[:NULL_CAPTION_TOKENS]).expand(b, -1, -1)
        y_xattn = torch.cat([prompt, null_keys], dim=1)
        prompt_mask = encoder_attention_mask.bool()[:, None, :] & ~drop[..., None]  # [B, n, L]
        null_mask = drop[..., None].expand(-1, -1, NULL_CAPTION_TOKENS)
        chunk_keys = torch.cat([prompt_mask, null_mask], dim=-1)  # [B, n, L + 50]
        cross_allowed = torch.gather(chunk_keys, 1, token_chunk.expand(b, -1, chunk_keys.shape[-1]))

        # Block-causal self-attention: a token of chunk j sees the tokens of chunks [start_j, end_j).
        chunk_ids = torch.arange(n)
        chunk_allowed = (chunk_ids[None, None, :] >= kv_range[..., :1]) & (chunk_ids[None, None, :] < kv_range[..., 1:])
        tok = token_chunk[0, :, 0]
        self_allowed = chunk_allowed[:, tok][:, :, tok]  # [B, S, S]

        for layer in self.videodit_blocks.layers:
            x = layer(x, condition, token_chunk, rope, self_allowed, y_xattn, cross_allowed)
        x = self.final_linear.linear(self.videodit_blocks.final_layernorm(x))

        p, pt, c = cfg.patch_size, cfg.t_patch_size, x.shape[-1] // (cfg.patch_size**2 * cfg.t_patch_size)
        # unpatchify: "(T H W) N (pT pH pW C) -> N C (T pT) (H pH) (W pW)"
        x = x.reshape(b, t, h, w, pt, p, p, c).permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(b, c, t * pt, h * p, w * p)
        if cfg.half_channel_vae:
            x = x[:, :16]
        return x / cfg.x_rescale_factor
