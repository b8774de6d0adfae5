"""Runs each exported graph in ONNX Runtime and its PyTorch module on the same inputs; reports deviations."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .wan.graphs import GraphSpec

# Deviation = max |onnx - torch| / max(1, max |torch|): absolute for outputs within [-1, 1] (the VAE's
# frames), relative to the output's scale otherwise.
# fp32: the same arithmetic in another order (fused kernels, other reductions) stays near 1e-6 on the
# replicas; 1e-4 leaves room for a 40-layer model while any wrong weight or op is far above it.
# fp16: an fp16 graph against the fp32 module: fp16's 2^-11 rounding on every weight and activation,
# accumulated over the layers, is about 1e-3 on the replicas and grows with depth; 3e-2 is the stated
# bound, still below what a wrong weight gives (the corrupted-graph test: about 1e-1).
TOLERANCE = {"fp32": 1e-4, "fp16": 3e-2}


@dataclass(frozen=True)
class Deviation:
    graph: str
    case: int
    shapes: dict[str, list[int]]
    deviation: float
    max_abs: float
    worst_index: list[int]
    onnx_value: float
    torch_value: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.deviation)) and self.deviation <= self.tolerance

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok}

    def describe(self) -> str:
        shapes = ", ".join(f"{k} {v}" for k, v in self.shapes.items())
        return (
            f"{self.graph} case {self.case} ({shapes}): deviation {self.deviation:.3g} "
            f"(tolerance {self.tolerance:g}), largest |diff| {self.max_abs:.3g} at {self.worst_index}: "
            f"onnx {self.onnx_value:.6g} vs torch {self.torch_value:.6g}"
        )


def compare(graph: str, case: int, shapes: dict[str, list[int]], got: np.ndarray, want: np.ndarray, tolerance: float) -> Deviation:
    got = got.astype(np.float64)
    want = want.astype(np.float64)
    if got.shape != want.shape:
        return Deviation(graph, case, shapes, float("inf"), float("inf"), list(got.shape), float("nan"), float("nan"), tolerance)
    diff = np.abs(got - want)
    diff = np.where(np.isnan(diff), np.inf, diff)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    max_abs = float(diff[worst])
    deviation = max_abs / max(1.0, float(np.abs(want).max()))
    return Deviation(graph, case, shapes, deviation, max_abs, [int(i) for i in worst], float(got[worst]), float(want[worst]), tolerance)


def check_graph(model_path: Path, spec: GraphSpec, tolerance: float) -> list[Deviation]:
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    results = []
    for i, inputs in enumerate(spec.parity_cases):
        (got,) = session.run([spec.output_name], inputs)
        want = spec.reference(inputs)
        shapes = {k: list(v.shape) for k, v in inputs.items()}
        results.append(compare(spec.folder, i, shapes, got, want, tolerance))
    return results
