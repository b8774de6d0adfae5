"""A tiny LTX-2 checkpoint built from diffusers' and transformers' own classes with seeded random weights.

Same classes and layout (`LTX2Pipeline.save_pretrained`: scheduler, tokenizer, text_encoder (Gemma 3),
connectors, transformer, vae, audio_vae, vocoder) as the published Lightricks/LTX-2 diffusers repository;
only the sizes differ. Nothing is downloaded: the tokenizer is a small Gemma-style one built here.

The sizes keep LTX-2's shape rules: 32x spatial and 8x temporal video compression, patch size 1, audio
latents of 4 mel frames and 4 mel bins a cell, a 24 kHz vocoder (240 samples a mel frame), connector
registers that divide the text context, and the audio VAE's statistics one per packed audio feature.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..replica import metaspace_unigram

# Words the replica's tokenizer knows whole; anything else is spelled letter by letter (metaspace_unigram).
_WORDS = (
    "a an the of on in at with and to from cat dog bird fish horse robot car boat beach ocean sea river "
    "forest tree mountain city street sky cloud sun moon rain snow fire water light night day sunset "
    "walking running flying swimming singing playing piano guitar drum music sound loud quiet "
    "red blue green yellow white black bright dark slow fast calm blurry low quality"
).split()
# Gemma's ids: pad 0, eos 1, bos 2, unk 3.
SPECIAL_TOKENS = ("<pad>", "<eos>", "<bos>", "<unk>")

MAX_SEQUENCE_LENGTH = 32
TEXT_DIM = 16
TEXT_LAYERS = 2
CONNECTOR_REGISTERS = 8  # must divide MAX_SEQUENCE_LENGTH (LTX2ConnectorTransformer1d)
LATENT_CHANNELS = 8
AUDIO_LATENT_CHANNELS = 4
MEL_BINS = 16
AUDIO_FEATURES = AUDIO_LATENT_CHANNELS * MEL_BINS // 4
# The replica's transformer has two blocks; STG perturbs the last (LTX-2's own default is block 28 of 48).
STG_BLOCKS = [1]

# Lightricks/LTX-2's scheduler/scheduler_config.json (FlowMatchEulerDiscrete with dynamic shifting).
SCHEDULER_CONFIG = {
    "base_image_seq_len": 1024,
    "base_shift": 0.95,
    "invert_sigmas": False,
    "max_image_seq_len": 4096,
    "max_shift": 2.05,
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "shift_terminal": 0.1,
    "stochastic_sampling": False,
    "time_shift_type": "exponential",
    "use_beta_sigmas": False,
    "use_dynamic_shifting": True,
    "use_exponential_sigmas": False,
    "use_karras_sigmas": False,
}


def build_tokenizer():
    """Gemma's tokenizer shape: Metaspace pieces, `<bos>` prepended, pad 0, padding on the left."""
    from tokenizers import normalizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = metaspace_unigram(SPECIAL_TOKENS, _WORDS, normalizers.Lowercase())
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", 2)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
        padding_side="left",
        model_max_length=MAX_SEQUENCE_LENGTH,
    )


def _text_encoder(vocab_size: int) -> torch.nn.Module:
    """Gemma3ForConditionalGeneration (LTX-2's text encoder is gemma-3-12b-it) with a one-layer vision tower."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3TextConfig, SiglipVisionConfig

    text = Gemma3TextConfig(
        vocab_size=vocab_size,
        hidden_size=TEXT_DIM,
        intermediate_size=32,
        num_hidden_layers=TEXT_LAYERS,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        sliding_window=8,  # shorter than the context, so the sliding-window layers differ from the global ones
        max_position_embeddings=256,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    vision = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14)
    return Gemma3ForConditionalGeneration(Gemma3Config(text_config=text.to_dict(), vision_config=vision.to_dict(), mm_tokens_per_image=1))


def build_components(seed: int = 0) -> dict[str, object]:
    """The LTX2Pipeline components at tiny sizes; weights from `seed`, so two builds are identical."""
    from diffusers import AutoencoderKLLTX2Audio, AutoencoderKLLTX2Video, FlowMatchEulerDiscreteScheduler, LTX2VideoTransformer3DModel
    from diffusers.pipelines.ltx2 import LTX2TextConnectors, LTX2Vocoder

    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    text_encoder = _text_encoder(len(tokenizer)).eval()
    connectors = LTX2TextConnectors(
        caption_channels=TEXT_DIM,
        text_proj_in_factor=TEXT_LAYERS + 1,
        video_connector_num_attention_heads=2,
        video_connector_attention_head_dim=TEXT_DIM // 2,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=CONNECTOR_REGISTERS,
        audio_connector_num_attention_heads=2,
        audio_connector_attention_head_dim=TEXT_DIM // 2,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=CONNECTOR_REGISTERS,
        connector_rope_base_seq_len=MAX_SEQUENCE_LENGTH,
    ).eval()
    transformer = LTX2VideoTransformer3DModel(
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        audio_in_channels=AUDIO_FEATURES,
        audio_out_channels=AUDIO_FEATURES,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=2,
        caption_channels=TEXT_DIM,
        # The LTX-2.3 attention (perturbation mask, per-head gates): the one STG acts on in diffusers.
        perturbed_attn=True,
    ).eval()
    vae = AutoencoderKLLTX2Video(
        latent_channels=LATENT_CHANNELS,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_block_out_channels=(8, 16, 32),
        decoder_layers_per_block=(1, 1, 1, 1),
        spatial_compression_ratio=32,
        temporal_compression_ratio=8,
    ).eval()
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=AUDIO_FEATURES,  # its latents_mean/std buffers have base_channels values, one per packed feature
        latent_channels=AUDIO_LATENT_CHANNELS,
        ch_mult=(1, 2, 4),
        num_res_blocks=1,
        mel_bins=MEL_BINS,
    ).eval()
    vocoder = LTX2Vocoder(in_channels=2 * MEL_BINS, hidden_channels=32).eval()
    # Random init leaves parameters and buffers at constants (zeros, ones: the latents' mean and std among
    # them); nudge each so the parity checks exercise every weight and the denormalisation matters.
    with torch.no_grad():
        for module in (text_encoder, connectors, transformer, vae, audio_vae, vocoder):
            for p in module.parameters():
                p.add_(torch.randn_like(p) * 0.02)
        for m in (vae, audio_vae):
            m.latents_mean.copy_(0.2 * torch.randn_like(m.latents_mean))
            m.latents_std.copy_(1.0 + 0.2 * torch.rand_like(m.latents_std))
    scheduler = FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG)
    return {
        "scheduler": scheduler,
        "vae": vae,
        "audio_vae": audio_vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "connectors": connectors,
        "transformer": transformer,
        "vocoder": vocoder,
    }


def save_tiny_checkpoint(out: Path, seed: int = 0) -> Path:
    """Writes the replica as `LTX2Pipeline.save_pretrained` lays out a published checkpoint."""
    from diffusers import LTX2Pipeline

    pipe = LTX2Pipeline(**build_components(seed))  # type: ignore[arg-type]
    pipe.save_pretrained(str(out))
    return out
