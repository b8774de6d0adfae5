"""Reads a diffusers Wan 2.1 checkpoint (`WanPipeline` or `WanImageToVideoPipeline.save_pretrained`) and loads its parts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..diffusers_checkpoint import DiffusersCheckpoint, read_json
from ..errors import ExportError

SUPPORTED_PIPELINES = ("WanPipeline", "WanImageToVideoPipeline")
I2V_PIPELINE = "WanImageToVideoPipeline"
# What WanImageToVideoPipeline.save_pretrained adds: CLIP's vision tower and its image processor.
I2V_FILES = ("image_encoder/config.json", "image_processor/preprocessor_config.json")

# Files each component folder must hold before anything is loaded (weights are checked by the loader:
# a checkpoint may be sharded or use .bin files).
REQUIRED_FILES = (
    "model_index.json",
    "transformer/config.json",
    "vae/config.json",
    "text_encoder/config.json",
    "scheduler/scheduler_config.json",
)


@dataclass(frozen=True)
class WanCheckpoint(DiffusersCheckpoint):
    model_index: dict[str, Any]
    transformer_config: dict[str, Any]
    vae_config: dict[str, Any]
    text_encoder_config: dict[str, Any]
    scheduler_config: dict[str, Any]

    @classmethod
    def open(cls, root: Path) -> "WanCheckpoint":
        """Checks the layout and the pipeline class, naming the first thing that is missing or wrong."""
        if not root.is_dir():
            raise ExportError(f"checkpoint folder {root} does not exist or is not a folder")
        for rel in REQUIRED_FILES:
            if not (root / rel).is_file():
                component = rel.split("/")[0]
                what = f"the {component}/ component" if "/" in rel else rel
                raise ExportError(
                    f"{root} is not a diffusers Wan 2.1 checkpoint: {rel} is missing ({what}; "
                    "expected the WanPipeline.save_pretrained layout: model_index.json, transformer/, vae/, "
                    "text_encoder/, tokenizer/, scheduler/)"
                )
        if not (root / "tokenizer").is_dir():
            raise ExportError(f"{root} has no tokenizer/ folder (the umT5 tokenizer)")
        index = read_json(root / "model_index.json")
        pipeline = index.get("_class_name")
        if pipeline not in SUPPORTED_PIPELINES:
            raise ExportError(
                f"{root}/model_index.json names pipeline {pipeline!r}; this exporter handles "
                f"{', '.join(SUPPORTED_PIPELINES)} (Wan 2.1 text to video and image to video)"
            )
        if pipeline == I2V_PIPELINE:
            for rel in I2V_FILES:
                if not (root / rel).is_file():
                    raise ExportError(f"{root} is a WanImageToVideoPipeline checkpoint without {rel}")
        if index.get("transformer_2") not in (None, [None, None]):
            raise ExportError(f"{root} has a transformer_2 (Wan 2.2's two-stage model): not supported")
        return cls(
            root=root,
            model_index=index,
            transformer_config=read_json(root / "transformer/config.json"),
            vae_config=read_json(root / "vae/config.json"),
            text_encoder_config=read_json(root / "text_encoder/config.json"),
            scheduler_config=read_json(root / "scheduler/scheduler_config.json"),
        )

    @property
    def is_i2v(self) -> bool:
        return self.model_index.get("_class_name") == I2V_PIPELINE

    def image_encoder(self, dtype: torch.dtype) -> torch.nn.Module:
        from transformers import CLIPVisionModel

        return self._load("image_encoder", CLIPVisionModel, dtype=dtype, attn_implementation="eager")

    def text_encoder(self, dtype: torch.dtype) -> torch.nn.Module:
        from transformers import UMT5EncoderModel

        # Eager attention: the SDPA path reshapes a non-contiguous tensor that torch.export cannot view.
        return self._load("text_encoder", UMT5EncoderModel, dtype=dtype, attn_implementation="eager")

    def transformer(self, dtype: torch.dtype) -> torch.nn.Module:
        from diffusers import WanTransformer3DModel

        return self._load("transformer", WanTransformer3DModel, dtype=dtype)

    def vae(self) -> torch.nn.Module:
        from diffusers import AutoencoderKLWan

        # Always float32: the causal VAE is run in fp32 by the reference pipeline too.
        return self._load("vae", AutoencoderKLWan, dtype=torch.float32)
