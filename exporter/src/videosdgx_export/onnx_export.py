"""Writes one PyTorch module as an ONNX graph: torch.onnx (dynamo) with dynamic axes, external data when big."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx_ir
import torch

from .errors import ExportError

OPSET = 20
EXTERNAL_DATA_FILE = "model.onnx_data"
# protobuf cannot serialise a message over 2 GiB; graphs with more weights than this keep them in
# model.onnx_data beside model.onnx (runtime.md: Optimum's layout, one file for all tensors).
DEFAULT_EXTERNAL_DATA_ABOVE = 1 << 30


def initializer_bytes(model: onnx_ir.Model) -> int:
    return sum(v.const_value.nbytes for v in model.graph.initializers.values() if v.const_value is not None)


def export_module(
    module: torch.nn.Module | torch.export.ExportedProgram,
    example: dict[str, np.ndarray],
    input_names: list[str],
    output_name: str | list[str],
    dynamic: dict[str, dict[int, Any]],
    path: Path,
    external_data_above: int = DEFAULT_EXTERNAL_DATA_ABOVE,
) -> None:
    # An ExportedProgram (already traced by torch.export, with its own dynamic shapes) is converted as it is.
    traced = isinstance(module, torch.export.ExportedProgram)
    if not traced:
        module.eval()
    args = tuple(torch.from_numpy(example[name]) for name in input_names)
    log = io.StringIO()
    try:
        # The exporter prints its progress; keep it for the error message instead of the console.
        with contextlib.redirect_stdout(log), torch.no_grad():
            program = torch.onnx.export(
                module,
                args,
                dynamo=True,
                input_names=input_names,
                output_names=[output_name] if isinstance(output_name, str) else output_name,
                dynamic_shapes=None if traced else {name: dynamic.get(name, {}) for name in input_names},
                opset_version=OPSET,
            )
    except Exception as err:
        raise ExportError(f"torch.onnx could not export {path.parent.name}: {type(err).__name__}: {err}\n{log.getvalue()}") from None
    assert program is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    if initializer_bytes(program.model) > external_data_above:
        # Large tensors 64 KiB-aligned so ONNX Runtime can memory-map them.
        onnx_ir.save(program.model, os.fspath(path), external_data=EXTERNAL_DATA_FILE, alignment=65536)
    else:
        onnx_ir.save(program.model, os.fspath(path))
