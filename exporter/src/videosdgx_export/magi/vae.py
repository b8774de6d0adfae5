"""MAGI-1's VAE decoder in plain PyTorch, op for op as Sand AI's `inference/model/vae/vae_module.py` `ViTDecoder`.

Upstream imports flash_attn at module load and runs attention with `flash_attn_qkvpacked_func` in bf16;
here it is `F.scaled_dot_product_attention` in fp32 (same default scale, head_dim^-0.5; no mask, no dropout
at inference). The parameter names are upstream's, so `ckpt/vae/diffusion_pytorch_model.safetensors`
(the `ViTVAE` of vae_model.py: `encoder.*`, `decoder.*`) loads with its `decoder.` prefix stripped.

`ddconfig` is `ViTDecoder`'s keyword arguments as `ckpt/vae/config.json` gives them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ExportError


@dataclass(frozen=True)
class MagiVaeConfig:
    """ViTDecoder's arguments that matter at inference (names and defaults as upstream's __init__)."""

    video_size: int = 256
    video_length: int = 16
    patch_size: int = 8
    patch_length: int = 4
    z_chans: int = 4
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = False
    with_cls_token: bool = True
    ln_in_attn: bool = False
    conv_last_layer: bool = False
    use_rope: bool = False
    use_final_proj: bool = False

    @classmethod
    def from_json(cls, ddconfig: dict[str, Any]) -> "MagiVaeConfig":
        known = {f.name for f in fields(cls)}
        cfg = cls(**{k: v for k, v in ddconfig.items() if k in known})
        # Upstream asserts conv_last_layer; its RoPE path (flash_attn_func with bf16 writes) no release uses.
        if not cfg.conv_last_layer:
            raise ExportError("ckpt/vae/config.json: ddconfig.conv_last_layer must be true (ViTDecoder supports only that)")
        if cfg.use_rope:
            raise ExportError("ckpt/vae/config.json: ddconfig.use_rope is not supported (no released MAGI-1 VAE uses it)")
        # Upstream's resize of the position table always takes row 0 as the cls token's: without one it breaks.
        if not cfg.with_cls_token:
            raise ExportError("ckpt/vae/config.json: ddconfig.with_cls_token false is not supported (upstream's position-table "
                              "resize assumes the cls token's row)")
        return cfg

    @property
    def latent_size(self) -> int:
        return self.video_size // self.patch_size

    @property
    def latent_length(self) -> int:
        return self.video_length // self.patch_length

    @property
    def unpatch_channels(self) -> int:
        return 4 if self.use_final_proj else self.embed_dim // (self.patch_size * self.patch_size * self.patch_length)


def _manual_layer_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Upstream's ManualLayerNorm: (x - mean) / (std + eps), biased std, no affine (not LayerNorm's sqrt(var + eps))."""
    mean = x.mean(dim=-1, keepdim=True)
    std = x.std(dim=-1, keepdim=True, unbiased=False)
    return (x - mean) / (std + eps)


class Attention(nn.Module):
    def __init__(self, cfg: MagiVaeConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.ln_in_attn = cfg.ln_in_attn
        self.qkv = nn.Linear(cfg.embed_dim, cfg.embed_dim * 3, bias=cfg.qkv_bias)
        self.proj = nn.Linear(cfg.embed_dim, cfg.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        if self.ln_in_attn:  # upstream normalises q, k and v alike, per head
            qkv = _manual_layer_norm(qkv)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, N, head_dim]
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg: MagiVaeConfig) -> None:
        super().__init__()
        # With ln_in_attn upstream drops norm1 (Identity) and normalises inside the attention instead.
        self.norm1 = nn.Identity() if cfg.ln_in_attn else nn.LayerNorm(cfg.embed_dim)
        self.attn = Attention(cfg)
        self.norm2 = nn.LayerNorm(cfg.embed_dim)
        self.mlp = Mlp(cfg.embed_dim, int(cfg.embed_dim * cfg.mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MagiVaeDecoder(nn.Module):
    """latent [B, z_chans, T, h, w] -> video [B, 3, T * patch_length, h * patch_size, w * patch_size]."""

    def __init__(self, cfg: MagiVaeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.embed_dim
        self.proj_in = nn.Linear(cfg.z_chans, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        tokens = cfg.latent_length * cfg.latent_size * cfg.latent_size + 1
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, d))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(d)
        patch_volume = cfg.patch_size * cfg.patch_size * cfg.patch_length
        if cfg.use_final_proj:
            self.final_proj = nn.Linear(d, cfg.unpatch_channels * patch_volume)
            self.final_norm = nn.LayerNorm(cfg.unpatch_channels * patch_volume)
        self.last_layer = nn.Conv3d(cfg.unpatch_channels, 3, kernel_size=3, stride=1, padding=1)

    def _positions(self, t: int, h: int, w: int) -> torch.Tensor:
        """The learned table resized trilinearly to the latent (upstream resize_pos_embed). Upstream skips
        the resize at the trained size; a resize to the same size with align_corners=False is the identity
        (weights exactly 1 and 0), so resizing always keeps one graph for every size."""
        cfg = self.cfg
        table = self.pos_embed[:, 1:, :].reshape(1, cfg.latent_length, cfg.latent_size, cfg.latent_size, -1)
        table = F.interpolate(table.permute(0, 4, 1, 2, 3), size=(t, h, w), mode="trilinear", align_corners=False)
        table = table.permute(0, 2, 3, 4, 1).reshape(1, t * h * w, -1)
        return torch.cat([self.pos_embed[:, :1, :], table], dim=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        b, c, t, h, w = z.shape
        x = self.proj_in(z.permute(0, 2, 3, 4, 1).reshape(b, t * h * w, c))
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        x = x + self._positions(t, h, w)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)[:, 1:]  # the cls token dropped
        if cfg.use_final_proj:
            x = self.final_norm(self.final_proj(x))
        p, pt, u = cfg.patch_size, cfg.patch_length, cfg.unpatch_channels
        # B (lT lH lW) (pT pH pW C) -> B C (lT pT) (lH pH) (lW pW)
        x = x.reshape(b, t, h, w, pt, p, p, u).permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(b, u, t * pt, h * p, w * p)
        return self.last_layer(x)


class MagiChunkDecoder(nn.Module):
    """One clean chunk -> its frames, as MAGI's decode_chunk runs the VAE (pipeline/video_process.py).

    `VaeHelper.decode` tiles in time with `tile_sample_min_length = fps // 2` frames (12 at 24 fps), that is
    12 // patch_length = 3 latent frames, no temporal overlap, and concatenates the tiles: a 6-frame chunk is
    decoded as two independent halves. The halves go through the decoder as a batch of 2 (attention is per
    batch item), which is the same computation. The division by scale_factor is the runtime's.
    """

    def __init__(self, decoder: MagiVaeDecoder, chunk_width: int, temporal_tile: int) -> None:
        super().__init__()
        if temporal_tile < 1 or chunk_width % temporal_tile:
            raise ExportError(f"the VAE's temporal tile ({temporal_tile} latent frames) must divide chunk_width {chunk_width}")
        self.decoder = decoder
        self.tiles = chunk_width // temporal_tile
        self.tile = temporal_tile

    def forward(self, latent_sample: torch.Tensor) -> torch.Tensor:
        _, c, _, h, w = latent_sample.shape
        tiles = latent_sample.reshape(c, self.tiles, self.tile, h, w).transpose(0, 1)  # [tiles, C, tile, h, w]
        frames = self.decoder(tiles)  # [tiles, 3, tile * pT, H, W]
        _, rgb, f, hh, ww = frames.shape
        return frames.transpose(0, 1).reshape(1, rgb, self.tiles * f, hh, ww)


def temporal_tile(runtime_config: dict[str, Any], vae: MagiVaeConfig) -> int:
    """Latent frames per temporal tile: (fps // 2) // patch_length (video_process.py 292/377, TileProcessor)."""
    return (int(runtime_config.get("fps", 24)) // 2) // vae.patch_length
