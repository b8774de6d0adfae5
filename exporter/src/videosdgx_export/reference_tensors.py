"""The raw tensors a `reference` run writes beside its reference.json (little-endian, row-major), and the
index reference.json keeps of them: {NAME: {"file", "dtype": "float32" | "uint8", "shape"}}."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class ReferenceTensors:
    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.index: dict[str, dict[str, Any]] = {}

    def put(self, name: str, array: np.ndarray) -> None:
        """uint8 arrays are kept as bytes, anything else as float32."""
        array = np.ascontiguousarray(array)
        suffix = "u8" if array.dtype == np.uint8 else "f32"
        if suffix == "f32":
            array = array.astype("<f4")
        (self.out / f"{name}.{suffix}").write_bytes(array.tobytes())
        self.index[name] = {"file": f"{name}.{suffix}", "dtype": "uint8" if suffix == "u8" else "float32", "shape": list(array.shape)}
