"""Sand AI's MAGI-1 checkpoint layout (the Hub repo sand-ai/MAGI-1), read without the upstream package.

    <root>/magi_config.json                         Sand AI's config (example/<size>/<size>_base_config.json)
    <root>/ckpt/magi/<variant>/inference_weight/    DiT: model.safetensors, or model.safetensors.index.json + shards
    <root>/ckpt/t5/t5-v1_1-xxl/                     T5 v1.1 XXL encoder + tokenizer (transformers layout)
    <root>/ckpt/vae/                                the ViT VAE: config.json (`ViTVAE`, `ddconfig`) and
                                                    diffusion_pytorch_model.safetensors (diffusers' ModelMixin names)

Upstream reads the DiT as infra/checkpoint/checkpointing.py does (load_state_dict: `inference_weight`,
`.fp8` and `.distill` suffixes for the quantised and distilled variants; shards may be zstd-compressed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import ExportError
from .dit import MagiDiT, MagiModelConfig
from .vae import MagiVaeConfig, MagiVaeDecoder

CONFIG_FILE = "magi_config.json"
WEIGHT_DIR = "inference_weight"
T5_DIRS = ("ckpt/t5/t5-v1_1-xxl", "ckpt/t5")
VAE_DIR = "ckpt/vae"
# What vae_model.py's AutoModel.from_pretrained reads (diffusers' ModelMixin file name).
VAE_WEIGHTS = "diffusion_pytorch_model.safetensors"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{path} is missing") from None
    except json.JSONDecodeError as err:
        raise ExportError(f"{path} is not valid JSON: {err}") from None


@dataclass
class MagiCheckpoint:
    root: Path
    config: dict[str, Any]
    model_config: MagiModelConfig
    weight_dir: Path
    t5_dir: Path
    vae_config: MagiVaeConfig

    @classmethod
    def open(cls, root: Path) -> "MagiCheckpoint":
        if not root.is_dir():
            raise ExportError(f"{root} is not a folder")
        config_path = root / CONFIG_FILE
        if not config_path.is_file():
            raise ExportError(
                f"{config_path} is missing: the Hub repo has no config; copy Sand AI's "
                "example/4.5B/4.5B_base_config.json (or 24B) from github.com/SandAI-org/MAGI-1 there"
            )
        config = _read_json(config_path)
        if not isinstance(config, dict) or not isinstance(config.get("model_config"), dict):
            raise ExportError(f"{config_path}: no model_config object")
        engine = config.get("engine_config", {}) or {}
        if engine.get("fp8_quant"):
            raise ExportError(f"{config_path}: engine_config.fp8_quant: the fp8 checkpoints hold float8_e4m3fn weights with "
                              "per-tensor scales for flashinfer's bmm_fp8; export the bf16 base checkpoint instead")
        if engine.get("distill"):
            raise ExportError(f"{config_path}: engine_config.distill: the distilled checkpoints guide with cfg_number 1 "
                              "and a step-size embedding, which the magi contract does not carry; export a base checkpoint")
        model_config = MagiModelConfig.from_json(config["model_config"])
        weight_dirs = sorted(root.glob(f"ckpt/magi/*/{WEIGHT_DIR}"))
        if not weight_dirs:
            raise ExportError(f"{root}: no ckpt/magi/<variant>/{WEIGHT_DIR}/ folder (Sand AI's layout)")
        if len(weight_dirs) > 1:
            found = ", ".join(str(d.relative_to(root)) for d in weight_dirs)
            raise ExportError(f"{root}: more than one DiT checkpoint ({found}); keep the one to export")
        t5 = next((root / d for d in T5_DIRS if (root / d / "config.json").is_file()), None)
        if t5 is None:
            raise ExportError(f"{root}: no T5 encoder (looked for config.json in {', '.join(T5_DIRS)})")
        vae_json = _read_json(root / VAE_DIR / "config.json")
        if not isinstance(vae_json, dict) or vae_json.get("_class_name") != "ViTVAE" or not isinstance(vae_json.get("ddconfig"), dict):
            raise ExportError(f"{root / VAE_DIR / 'config.json'}: not a ViTVAE config with a ddconfig object")
        if vae_json.get("model_type", "vit") != "vit":
            raise ExportError(f"{root / VAE_DIR / 'config.json'}: model_type {vae_json['model_type']!r}: only 'vit' is in the upstream code")
        vae_config = MagiVaeConfig.from_json(vae_json["ddconfig"])
        return cls(root=root, config=config, model_config=model_config, weight_dir=weight_dirs[0], t5_dir=t5, vae_config=vae_config)

    def state_dict(self) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        index = self.weight_dir / "model.safetensors.index.json"
        if index.is_file():
            weight_map = _read_json(index).get("weight_map", {})
            shards = sorted(set(weight_map.values()))
        else:
            shards = ["model.safetensors"]
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            path = self.weight_dir / shard
            if not path.is_file():
                hint = f" (decompress it first: zstd -d {path}.zst)" if Path(f"{path}.zst").is_file() else ""
                raise ExportError(f"{path} is missing{hint}")
            state.update(load_file(str(path)))
        return state

    def dit(self) -> MagiDiT:
        """The DiT in float32 with the checkpoint's weights; any missing weight is an error."""
        model = MagiDiT(self.model_config)
        state = {k: v.float() for k, v in self.state_dict().items()}
        missing, _unexpected = model.load_state_dict(state, strict=False)
        if missing:
            raise ExportError(f"{self.weight_dir}: the checkpoint lacks {len(missing)} DiT weights, e.g. {', '.join(missing[:3])}")
        return model.eval()

    def vae_decoder(self) -> MagiVaeDecoder:
        """The ViT VAE's decoder in float32; the checkpoint's `encoder.*` weights are not needed."""
        from safetensors.torch import load_file

        path = self.root / VAE_DIR / VAE_WEIGHTS
        if not path.is_file():
            raise ExportError(f"{path} is missing")
        prefix = "decoder."
        state = {k[len(prefix):]: v.float() for k, v in load_file(str(path)).items() if k.startswith(prefix)}
        model = MagiVaeDecoder(self.vae_config)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ExportError(f"{path}: the VAE decoder's weights do not match ddconfig: missing {missing[:3]}, unexpected {unexpected[:3]}")
        return model.eval()

    def text_encoder(self) -> torch.nn.Module:
        from transformers import T5EncoderModel

        return T5EncoderModel.from_pretrained(str(self.t5_dir), torch_dtype=torch.float32).eval()

    def tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.t5_dir))
