"""What the diffusers-layout checkpoints (Wan, LTX-2) share: reading their JSON, loading a component, the tokenizer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ExportError
from .folder_install import load_component


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ExportError(f"{path} is not readable JSON: {err}") from None
    if not isinstance(data, dict):
        raise ExportError(f"{path} is not a JSON object")
    return data


@dataclass(frozen=True)
class DiffusersCheckpoint:
    root: Path

    def _load(self, component: str, loader: Any, **kwargs: Any) -> Any:
        return load_component(self.root, component, loader, **kwargs)

    def tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(str(self.root / "tokenizer"))
        except Exception as err:
            raise ExportError(f"cannot load tokenizer/ from {self.root}: {type(err).__name__}: {err}") from None
        if not getattr(tok, "is_fast", False):
            raise ExportError(f"{self.root}/tokenizer has no fast tokenizer (tokenizer.json); the platform needs one")
        return tok
