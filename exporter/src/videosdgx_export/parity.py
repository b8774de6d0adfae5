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
# int8 / int4 (quantized transformer, float32 activations, against the fp32 module): the looser bounds
# of weight quantization. Measured on the replica: int8 (per-channel) about 1e-2 with cosine 0.99996,
# int4 (RTN, blocks of 32) about 7e-2 with cosine 0.998. A wrong weight can hide under the int4 bound of
# the largest difference, so quantized graphs must also keep the cosine similarity of the whole output
# (MIN_COSINE), which a wrong weight or op drops far more than rounding does.
TOLERANCE = {"fp32": 1e-4, "fp16": 3e-2, "int8": 5e-2, "int4": 2e-1}
MIN_COSINE = {"int8": 0.999, "int4": 0.99}


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
    # ||onnx - torch|| / ||torch|| and the cosine similarity of the flattened outputs.
    rel_l2: float = float("nan")
    cosine: float = float("nan")
    min_cosine: float | None = None  # checked for quantized graphs only

    @property
    def ok(self) -> bool:
        close = bool(np.isfinite(self.deviation)) and self.deviation <= self.tolerance
        return close and (self.min_cosine is None or bool(self.cosine >= self.min_cosine))

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok}

    def describe(self) -> str:
        shapes = ", ".join(f"{k} {v}" for k, v in self.shapes.items())
        return (
            f"{self.graph} case {self.case} ({shapes}): deviation {self.deviation:.3g} "
            f"(tolerance {self.tolerance:g}){self._cosine_text()}, largest |diff| {self.max_abs:.3g} at {self.worst_index}: "
            f"onnx {self.onnx_value:.6g} vs torch {self.torch_value:.6g}"
        )


    def _cosine_text(self) -> str:
        return "" if self.min_cosine is None else f", cosine {self.cosine:.6f} (at least {self.min_cosine:g}), relative L2 {self.rel_l2:.3g}"


def compare(
    graph: str, case: int, shapes: dict[str, list[int]], got: np.ndarray, want: np.ndarray, tolerance: float,
    min_cosine: float | None = None,
) -> Deviation:
    got = got.astype(np.float64)
    want = want.astype(np.float64)
    if got.shape != want.shape:
        return Deviation(graph, case, shapes, float("inf"), float("inf"), list(got.shape), float("nan"), float("nan"), tolerance, min_cosine=min_cosine)
    diff = np.abs(got - want)
    diff = np.where(np.isnan(diff), np.inf, diff)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    max_abs = float(diff[worst])
    deviation = max_abs / max(1.0, float(np.abs(want).max()))
    norm_got, norm_want = float(np.linalg.norm(got)), float(np.linalg.norm(want))
    rel_l2 = float(np.linalg.norm(got - want)) / max(norm_want, 1e-30)
    cosine = float(np.vdot(got, want)) / max(norm_got * norm_want, 1e-30)
    return Deviation(graph, case, shapes, deviation, max_abs, [int(i) for i in worst], float(got[worst]), float(want[worst]),
                     tolerance, rel_l2, cosine, min_cosine)


def check_graph(model_path: Path, spec: GraphSpec, tolerance: float, min_cosine: float | None = None) -> list[Deviation]:
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    results = []
    for i, inputs in enumerate(spec.parity_cases):
        (got,) = session.run([spec.output_name], inputs)
        want = spec.reference(inputs)
        shapes = {k: list(v.shape) for k, v in inputs.items()}
        results.append(compare(spec.folder, i, shapes, got, want, tolerance, min_cosine))
    return results


def summarize(deviations: list[Deviation]) -> list[dict[str, object]]:
    """Per graph, its worst case over the parity cases: what an export (a quantized one above all) gave up."""
    rows: list[dict[str, object]] = []
    for graph in dict.fromkeys(d.graph for d in deviations):
        cases = [d for d in deviations if d.graph == graph]
        worst = max(cases, key=lambda d: d.deviation)
        rows.append({
            "graph": graph, "ok": all(d.ok for d in cases), "deviation": worst.deviation, "max_abs": worst.max_abs,
            "rel_l2": max(d.rel_l2 for d in cases), "cosine": min(d.cosine for d in cases),
            "tolerance": worst.tolerance, "min_cosine": worst.min_cosine,
        })
    return rows
