"""A tiny Wan 2.1 checkpoint built from diffusers' and transformers' own classes with seeded random weights.

Same classes, same layout (`WanPipeline.save_pretrained`) and same tensor names as the published
Wan-AI/Wan2.1-T2V-*-Diffusers repositories; only the sizes differ. Nothing is downloaded: the tokenizer
is a small Unigram model in umT5's style built here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

# Words the replica's tokenizer knows whole; anything else is spelled letter by letter (Unigram).
_WORDS = (
    "a an the of on in at with and to from cat dog bird fish horse robot car boat beach ocean sea river "
    "forest tree mountain city street sky cloud sun moon rain snow fire water light night day sunset "
    "walking running flying swimming red blue green yellow white black bright dark slow fast calm "
    "bright tones overexposed static blurred details subtitles style works paintings images overall gray "
    "worst quality low jpeg compression residue ugly incomplete extra fingers poorly drawn hands faces "
    "deformed disfigured misshapen limbs fused still picture messy background three legs many people "
    "backwards"
).split()
_LETTERS = list("abcdefghijklmnopqrstuvwxyz0123456789,.")
SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")

TEXT_DIM = 32
IMAGE_DIM = 16  # the replica's CLIP width (ViT-H/14: 1280)
MAX_SEQUENCE_LENGTH = 512


def metaspace_unigram(special_tokens: tuple[str, ...], words: list[str], normalizer: Any) -> Any:
    """A Unigram model of `special_tokens`, `words` whole and every letter alone, in Metaspace pieces (both
    replicas' tokenizers); anything unknown is `<unk>`."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import Unigram

    vocab: list[tuple[str, float]] = [(t, 0.0) for t in special_tokens]
    vocab.append(("▁", -8.0))
    vocab += [(f"▁{w}", -2.0) for w in dict.fromkeys(words)]
    vocab += [(c, -9.0) for c in _LETTERS] + [(f"▁{c}", -9.0) for c in _LETTERS]
    tok = Tokenizer(Unigram(vocab, unk_id=special_tokens.index("<unk>"), byte_fallback=False))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return tok


def build_tokenizer():
    """umT5's tokenizer shape: NFKC, Metaspace, Unigram, `</s>` appended, pad 0 / eos 1 / unk 2."""
    from tokenizers import normalizers, processors
    from transformers import T5TokenizerFast

    tok = metaspace_unigram(SPECIAL_TOKENS, _WORDS, normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()]))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        extra_ids=0,
        model_max_length=MAX_SEQUENCE_LENGTH,
    )


def build_components(seed: int = 0, i2v: bool = False) -> dict[str, object]:
    """The WanPipeline components at tiny sizes (with `i2v`, WanImageToVideoPipeline's: a 36-channel
    transformer with image attention, a 2-layer CLIP vision tower at 224 px, CLIP's image processor);
    weights from `seed`, so two builds are identical."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(tokenizer),
            d_model=TEXT_DIM,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=32,
            relative_attention_max_distance=128,
            feed_forward_proj="gated-gelu",
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    ).eval()
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36 if i2v else 16,
        out_channels=16,
        **({"image_dim": IMAGE_DIM, "added_kv_proj_dim": 24} if i2v else {}),
        text_dim=TEXT_DIM,
        freq_dim=32,
        ffn_dim=48,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=64,
    ).eval()
    vae = AutoencoderKLWan(
        base_dim=8,
        z_dim=16,
        dim_mult=[1, 2, 2, 2],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    ).eval()
    image: dict[str, object] = {}
    if i2v:
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

        image = {
            "image_encoder": CLIPVisionModel(
                CLIPVisionConfig(hidden_size=IMAGE_DIM, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=224, patch_size=14)
            ).eval(),
            "image_processor": CLIPImageProcessor(),  # CLIP's defaults: shortest edge 224, crop 224, its mean and std
        }
    # Random init leaves some parameters at exact constants (zeros, ones); nudge every one so the
    # parity check exercises each weight.
    with torch.no_grad():
        for module in (text_encoder, transformer, vae, *([image["image_encoder"]] if i2v else [])):
            for p in module.parameters():
                p.add_(torch.randn_like(p) * 0.02)
    # Wan 2.1's own scheduler_config.json (diffusers' Wan-AI/Wan2.1-T2V-*-Diffusers).
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        flow_shift=3.0,
        num_train_timesteps=1000,
        solver_order=2,
        solver_type="bh2",
        predict_x0=True,
        lower_order_final=True,
        final_sigmas_type="zero",
        timestep_spacing="linspace",
    )
    return {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "transformer": transformer,
        "vae": vae,
        "scheduler": scheduler,
        **image,
    }


def save_tiny_checkpoint(out: Path, seed: int = 0, i2v: bool = False) -> Path:
    """Writes the replica as `WanPipeline.save_pretrained` (or WanImageToVideoPipeline's) lays out a published checkpoint."""
    from diffusers import WanImageToVideoPipeline, WanPipeline

    pipe = (WanImageToVideoPipeline if i2v else WanPipeline)(**build_components(seed, i2v))  # type: ignore[arg-type]
    pipe.save_pretrained(str(out))
    return out
