"""Weight-only quantization of an exported graph with ONNX Runtime's own tools.

int8: `quantize_dynamic` — MatMul/Gemm weights int8 per output channel (symmetric), activations quantized
to uint8 at run time (DynamicQuantizeLinear -> MatMulInteger). A CPU-oriented format. Weights use 7 bits
(`reduce_range`): ONNX Runtime's u8s8 kernel on x86-64 with AVX2 or AVX-512 without VNNI saturates its
16-bit sums with full-range weights (a 0.3 deviation measured on an AVX2 EPYC), and a folder must give
the same video on whichever CPU runs it.
int4: `MatMulNBitsQuantizer` — every MatMul with a constant weight becomes com.microsoft MatMulNBits,
4-bit round-to-nearest in blocks of 32 along K, symmetric (no zero points), float32 activations and
accumulation (accuracy_level unset). ONNX Runtime has CPU and CUDA kernels for it.

Only MatMuls whose weight is an initializer change (attention's Q.K^T and P.V stay float), and only the
graphs in QUANTIZED_GRAPHS: the VAE decoder and the text encoder stay float.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import onnx

from .errors import ExportError
from .onnx_export import EXTERNAL_DATA_FILE

QUANTIZATIONS = ("int8", "int4")
QUANTIZED_GRAPHS = ("transformer",)
INT4_BLOCK_SIZE = 32
# Ops that carry quantized weights in each mode (what a test or a reader looks for in the graph).
QUANTIZED_OPS = {"int8": ("MatMulInteger", "DynamicQuantizeLinear"), "int4": ("MatMulNBits",)}


def scheme(mode: str) -> dict[str, Any]:
    """What the record says about how the weights were quantized."""
    if mode == "int8":
        return {"mode": "int8", "method": "onnxruntime.quantization.quantize_dynamic", "weight_type": "int8",
                "per_channel": True, "symmetric": True, "reduce_range": True, "activations": "uint8, dynamic per tensor",
                "op_types": ["MatMul", "Gemm"], "graphs": list(QUANTIZED_GRAPHS)}
    if mode == "int4":
        return {"mode": "int4", "method": "onnxruntime.quantization.matmul_nbits_quantizer.MatMulNBitsQuantizer",
                "weight_type": "int4", "block_size": INT4_BLOCK_SIZE, "symmetric": True, "algorithm": "RTN",
                "activations": "float32", "op_types": ["MatMul"], "graphs": list(QUANTIZED_GRAPHS)}
    raise ExportError(f"--quantize {mode!r} is not one of {', '.join(QUANTIZATIONS)}")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # Both tools log every node at INFO, and configure the root logger on import (which would then show
    # other libraries' INFO lines): silence them, and put the root logger back as it was.
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        root.setLevel(level)
        root.handlers = handlers


def _initializer_bytes(model: onnx.ModelProto) -> int:
    return sum(len(t.raw_data) for t in model.graph.initializer)


def _save(model: onnx.ModelProto, path: Path, external_data_above: int) -> None:
    """Saved as the exporter saves every graph: one `model.onnx_data` beside it when the weights are big."""
    for stale in (path, path.with_name(EXTERNAL_DATA_FILE)):
        stale.unlink(missing_ok=True)
    if _initializer_bytes(model) > external_data_above:
        onnx.save_model(model, os.fspath(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=EXTERNAL_DATA_FILE, size_threshold=1024)
        # onnx creates the data file owner-only; a worker running as another user must read it like the graph.
        path.with_name(EXTERNAL_DATA_FILE).chmod(path.stat().st_mode & 0o777)
    else:
        onnx.save_model(model, os.fspath(path))


def _int8(float_graph: Path, work: Path) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = work / "int8.onnx"
    # External data always: works for graphs over protobuf's 2 GiB (the tool loads and writes by path).
    quantize_dynamic(float_graph, out, op_types_to_quantize=["MatMul", "Gemm"], per_channel=True, reduce_range=True,
                     weight_type=QuantType.QInt8, use_external_data_format=True)
    return onnx.load(os.fspath(out))


def _int4(float_graph: Path) -> onnx.ModelProto:
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(os.fspath(float_graph), block_size=INT4_BLOCK_SIZE, is_symmetric=True,
                                     op_types_to_quantize=("MatMul",))
    quantizer.process()
    quantizer.model.topological_sort()
    return quantizer.model.model


def quantize_graph(path: Path, mode: str, external_data_above: int) -> dict[str, int]:
    """Replaces the float graph at `path` (and its external data) by its quantized form.

    Returns how many nodes carry quantized weights and how many MatMul/Gemm stayed float.
    """
    scheme(mode)  # refuses an unknown mode
    with tempfile.TemporaryDirectory(prefix=".quantize-", dir=path.parent) as tmp, _quiet():
        work = Path(tmp)
        # The float graph moves aside with its data file (same relative location, so it still loads).
        float_graph = work / "float" / path.name
        float_graph.parent.mkdir()
        shutil.move(path, float_graph)
        if (path.parent / EXTERNAL_DATA_FILE).exists():
            shutil.move(path.parent / EXTERNAL_DATA_FILE, float_graph.parent / EXTERNAL_DATA_FILE)
        try:
            model = _int8(float_graph, work) if mode == "int8" else _int4(float_graph)
        except Exception as err:  # the tools raise many kinds; the user needs the graph and the cause
            raise ExportError(f"onnxruntime could not quantize {path.parent.name} to {mode}: {type(err).__name__}: {err}") from None
        _save(model, path, external_data_above)
    ops = Counter(n.op_type for n in model.graph.node)
    quantized = ops["MatMulNBits"] if mode == "int4" else ops["MatMulInteger"]
    if quantized == 0:
        raise ExportError(f"{path.parent.name} has no MatMul with constant weights to quantize to {mode}")
    return {"quantized_nodes": quantized, "float_matmuls": ops["MatMul"] + ops["Gemm"]}
