"""Reads a diffusers LTX-2 checkpoint (the `LTX2Pipeline.save_pretrained` layout) and loads its parts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..diffusers_checkpoint import DiffusersCheckpoint, read_json
from ..errors import ExportError

SUPPORTED_PIPELINES = ("LTX2Pipeline",)
COMPONENTS = ("scheduler", "tokenizer", "text_encoder", "connectors", "transformer", "vae", "audio_vae", "vocoder")
CONFIGS = {
    "scheduler": "scheduler/scheduler_config.json",
    "text_encoder": "text_encoder/config.json",
    "connectors": "connectors/config.json",
    "transformer": "transformer/config.json",
    "vae": "vae/config.json",
    "audio_vae": "audio_vae/config.json",
    "vocoder": "vocoder/config.json",
}


@dataclass(frozen=True)
class Ltx2Checkpoint(DiffusersCheckpoint):
    model_index: dict[str, Any]
    configs: dict[str, dict[str, Any]]

    @classmethod
    def open(cls, root: Path) -> "Ltx2Checkpoint":
        """Checks the layout and the pipeline class, naming the first thing that is missing or wrong."""
        if not root.is_dir():
            raise ExportError(f"checkpoint folder {root} does not exist or is not a folder")
        layout = "expected the LTX2Pipeline.save_pretrained layout: model_index.json, " + ", ".join(f"{c}/" for c in COMPONENTS)
        if not (root / "model_index.json").is_file():
            raise ExportError(f"{root} is not a diffusers LTX-2 checkpoint: model_index.json is missing ({layout})")
        for component, rel in CONFIGS.items():
            if not (root / rel).is_file():
                raise ExportError(f"{root} is not a diffusers LTX-2 checkpoint: {rel} is missing (the {component}/ component; {layout})")
        if not (root / "tokenizer").is_dir():
            raise ExportError(f"{root} has no tokenizer/ folder (the Gemma 3 tokenizer)")
        index = read_json(root / "model_index.json")
        pipeline = index.get("_class_name")
        if pipeline not in SUPPORTED_PIPELINES:
            raise ExportError(
                f"{root}/model_index.json names pipeline {pipeline!r}; this exporter handles {', '.join(SUPPORTED_PIPELINES)} "
                "(text to video with sound; image conditioning and the two-stage upsampler are not supported yet)"
            )
        configs = {component: read_json(root / rel) for component, rel in CONFIGS.items()}
        if configs["vocoder"].get("_class_name") not in (None, "LTX2Vocoder"):
            raise ExportError(f"{root}/vocoder is a {configs['vocoder'].get('_class_name')}; only LTX2Vocoder is supported")
        return cls(root=root, model_index=index, configs=configs)

    def text_encoder(self, dtype: torch.dtype) -> torch.nn.Module:
        from transformers import Gemma3ForConditionalGeneration

        # Eager attention: the masks of the SDPA path are built in a way torch.export cannot follow.
        return self._load("text_encoder", Gemma3ForConditionalGeneration, dtype=dtype, attn_implementation="eager")

    def connectors(self, dtype: torch.dtype) -> torch.nn.Module:
        from diffusers.pipelines.ltx2 import LTX2TextConnectors

        return self._load("connectors", LTX2TextConnectors, dtype=dtype)

    def transformer(self, dtype: torch.dtype) -> torch.nn.Module:
        from diffusers import LTX2VideoTransformer3DModel

        return self._load("transformer", LTX2VideoTransformer3DModel, dtype=dtype)

    def vae(self) -> torch.nn.Module:
        from diffusers import AutoencoderKLLTX2Video

        return self._load("vae", AutoencoderKLLTX2Video, dtype=torch.float32)

    def audio_vae(self) -> torch.nn.Module:
        from diffusers import AutoencoderKLLTX2Audio

        return self._load("audio_vae", AutoencoderKLLTX2Audio, dtype=torch.float32)

    def vocoder(self) -> torch.nn.Module:
        from diffusers.pipelines.ltx2 import LTX2Vocoder

        return self._load("vocoder", LTX2Vocoder, dtype=torch.float32)
