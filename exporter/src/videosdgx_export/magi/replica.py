"""A tiny MAGI-1 checkpoint in Sand AI's layout (checkpoint.py) with seeded random weights.

The DiT has MAGI-1's architecture at small sizes (2 layers, hidden 64, grouped-query attention 4/2, the
8-group output projection, 1p layer norms); the T5 encoder is transformers' T5EncoderModel (v1.1 style,
gated-gelu) with a locally made tokenizer; the VAE is MAGI-1's ViT decoder (vae.py) at small sizes, in the
`ckpt/vae` layout (`ViTVAE` config with upstream's `ddconfig` field names; decoder weights only, the export
does not read the encoder's). Nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..replica import build_tokenizer
from .checkpoint import CONFIG_FILE, VAE_DIR, VAE_WEIGHTS, WEIGHT_DIR
from .dit import MagiDiT, MagiModelConfig
from .vae import MagiVaeConfig, MagiVaeDecoder

TEXT_DIM = 32
TINY_MODEL_CONFIG = {
    "model_name": "videodit_ardf", "num_layers": 2, "hidden_size": 64, "ffn_hidden_size": 128,
    "num_attention_heads": 4, "num_query_groups": 2, "kv_channels": 16, "layernorm_epsilon": 1e-06,
    "apply_layernorm_1p": True, "x_rescale_factor": 1, "half_channel_vae": False, "params_dtype": "torch.bfloat16",
    "patch_size": 2, "t_patch_size": 1, "in_channels": 16, "out_channels": 16, "cond_hidden_ratio": 0.25,
    "caption_channels": TEXT_DIM, "caption_max_length": 800, "xattn_cond_hidden_ratio": 1.0,
    "cond_gating_ratio": 1.0, "gated_linear_unit": False,
}
# MAGI-1 4.5B base's runtime_config (example/4.5B/4.5B_base_config.json) with a short job.
RUNTIME_CONFIG = {
    "cfg_number": 3, "cfg_t_range": [0.0, 0.0217, 0.1, 0.3, 0.999], "prev_chunk_scales": [1.5, 1.5, 1.5, 1.0, 1.0],
    "text_scales": [7.5, 7.5, 7.5, 0.0, 0.0], "noise2clean_kvrange": [5, 4, 3, 2], "clean_chunk_kvrange": 1,
    "clean_t": 0.9999, "seed": 1234, "num_frames": 96, "video_size_h": 64, "video_size_w": 64, "num_steps": 8,
    "window_size": 4, "fps": 24, "chunk_width": 6, "scale_factor": 0.18215, "temporal_downsample_factor": 4,
}
# ViTDecoder's keyword arguments (ckpt/vae/config.json's ddconfig): 8x space, 4x time, 16 latent channels as
# MAGI-1's; embed_dim 256 is the least with conv_last_layer that unpatchifies to one channel (256 / (8*8*4)).
TINY_VAE_DDCONFIG = {
    "video_size": 64, "video_length": 16, "patch_size": 8, "patch_length": 4, "in_chans": 3, "z_chans": 16,
    "double_z": True, "embed_dim": 256, "depth": 2, "num_heads": 4, "mlp_ratio": 2.0, "qkv_bias": True,
    "drop_rate": 0.0, "attn_drop_rate": 0.0, "drop_path_rate": 0.0, "with_cls_token": True, "norm_code": False,
    "ln_in_attn": True, "conv_last_layer": True, "use_rope": False, "use_final_proj": False,
}
ENGINE_CONFIG = {"fp8_quant": False, "distill": False, "cp_size": 1, "pp_size": 1}


def tiny_dit(seed: int = 0) -> MagiDiT:
    torch.manual_seed(seed)
    model = MagiDiT(MagiModelConfig.from_json(TINY_MODEL_CONFIG))
    with torch.no_grad():
        # Random init leaves norms and the null caption at constants; nudge every weight so parity sees each.
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
        model.y_embedder.null_caption_embedding.normal_()
    return model.eval()


def tiny_vae_decoder(seed: int = 0, ddconfig: dict | None = None) -> MagiVaeDecoder:
    torch.manual_seed(seed)
    model = MagiVaeDecoder(MagiVaeConfig.from_json(ddconfig or TINY_VAE_DDCONFIG))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model.eval()


def save_tiny_magi_checkpoint(out: Path, seed: int = 0, shards: int = 2) -> Path:
    """Writes magi_config.json, ckpt/magi/tiny_base/inference_weight (sharded), ckpt/t5/t5-v1_1-xxl and ckpt/vae."""
    from safetensors.torch import save_file
    from transformers import T5Config, T5EncoderModel

    out.mkdir(parents=True, exist_ok=True)
    config = {"model_config": TINY_MODEL_CONFIG, "runtime_config": RUNTIME_CONFIG, "engine_config": ENGINE_CONFIG}
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")

    weights = out / "ckpt/magi/tiny_base" / WEIGHT_DIR
    weights.mkdir(parents=True, exist_ok=True)
    state = {k: v.to(torch.bfloat16).contiguous() for k, v in tiny_dit(seed).state_dict().items()}
    names = sorted(state)
    weight_map = {}
    for i in range(shards):
        shard = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = names[i::shards]
        save_file({k: state[k] for k in part}, str(weights / shard))
        weight_map.update({k: shard for k in part})
    (weights / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}, indent=2), encoding="utf-8")

    tokenizer = build_tokenizer()
    torch.manual_seed(seed + 1)
    t5 = T5EncoderModel(T5Config(
        vocab_size=len(tokenizer), d_model=TEXT_DIM, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        feed_forward_proj="gated-gelu", pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )).eval()
    with torch.no_grad():
        for p in t5.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    t5_dir = out / "ckpt/t5/t5-v1_1-xxl"
    t5.save_pretrained(str(t5_dir))
    tokenizer.save_pretrained(str(t5_dir))

    vae_dir = out / VAE_DIR
    vae_dir.mkdir(parents=True, exist_ok=True)
    vae_config = {"_class_name": "ViTVAE", "ddconfig": TINY_VAE_DDCONFIG, "model_type": "vit"}
    (vae_dir / "config.json").write_text(json.dumps(vae_config, indent=2) + "\n", encoding="utf-8")
    vae = {f"decoder.{k}": v.to(torch.bfloat16).contiguous() for k, v in tiny_vae_decoder(seed + 2).state_dict().items()}
    save_file(vae, str(vae_dir / VAE_WEIGHTS))
    return out
