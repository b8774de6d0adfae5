"""--quantize int8 / int4: the transformer's weights quantized by ONNX Runtime's tools, the loss reported."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from videosdgx_export.errors import ExportError, ParityError
from videosdgx_export.parity import MIN_COSINE, TOLERANCE
from videosdgx_export.quantize import INT4_BLOCK_SIZE
from videosdgx_export.wan.export import ExportOptions, ExportResult, export_wan

QUANTIZED_OPS = {"MatMulInteger", "DynamicQuantizeLinear", "MatMulNBits", "QLinearMatMul"}


def ops(path: Path) -> Counter[str]:
    return Counter(n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node)


def float_matmuls_with_constant_weights(path: Path) -> list[str]:
    model = onnx.load(str(path), load_external_data=False)
    consts = {t.name for t in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in consts]


def quality(result: ExportResult, graph: str) -> dict:
    (row,) = [q for q in result.source_record["quantization"]["quality"] if q["graph"] == graph]
    return row


def test_int8_transformer_has_integer_matmuls_and_the_rest_stays_float(exported_int8: ExportResult) -> None:
    tr = ops(exported_int8.out / "transformer/model.onnx")
    assert tr["MatMulInteger"] >= 20 and tr["DynamicQuantizeLinear"] >= 1
    assert float_matmuls_with_constant_weights(exported_int8.out / "transformer/model.onnx") == []
    for graph in ("text_encoder", "vae_decoder"):
        assert not QUANTIZED_OPS & set(ops(exported_int8.out / graph / "model.onnx")), graph


def test_int4_transformer_has_matmulnbits_in_blocks_of_32(exported_int4: ExportResult) -> None:
    path = exported_int4.out / "transformer/model.onnx"
    model = onnx.load(str(path), load_external_data=False)
    nbits = [n for n in model.graph.node if n.op_type == "MatMulNBits"]
    assert len(nbits) >= 20 and all(n.domain == "com.microsoft" for n in nbits)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in nbits[0].attribute}
    assert attrs["bits"] == 4 and attrs["block_size"] == INT4_BLOCK_SIZE
    assert all(len(n.input) < 4 or n.input[3] == "" for n in nbits)  # symmetric: no zero points
    assert float_matmuls_with_constant_weights(path) == []
    for graph in ("text_encoder", "vae_decoder"):
        assert not QUANTIZED_OPS & set(ops(exported_int4.out / graph / "model.onnx")), graph


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_quality_loss_is_reported_and_within_the_modes_bounds(mode: str, request: pytest.FixtureRequest) -> None:
    result: ExportResult = request.getfixturevalue(f"exported_{mode}")
    q = quality(result, "transformer")
    assert q["ok"] and q["tolerance"] == TOLERANCE[mode] and q["min_cosine"] == MIN_COSINE[mode]
    # Really quantized (far above fp32's deviation), and within the mode's stated bounds.
    assert TOLERANCE["fp32"] < q["deviation"] <= TOLERANCE[mode]
    assert MIN_COSINE[mode] <= q["cosine"] < 1 and 0 < q["rel_l2"] < 1
    manifest = json.loads((result.out / "videosdgx.json").read_text())
    assert manifest["export"]["quantization"]["mode"] == mode
    parity = {p["graph"]: p for p in manifest["export"]["parity"]}
    assert parity["vae_decoder"]["tolerance"] == TOLERANCE["fp32"] and parity["vae_decoder"]["min_cosine"] is None
    record = result.source_record
    assert record["dtype"] == "fp32" and record["quantization"]["mode"] == mode
    assert record["quantization"]["nodes"]["transformer"]["quantized_nodes"] >= 20


def test_int4_loses_more_than_int8(exported_int8: ExportResult, exported_int4: ExportResult) -> None:
    assert quality(exported_int4, "transformer")["rel_l2"] > 2 * quality(exported_int8, "transformer")["rel_l2"]


def test_quantized_external_data_is_one_file_beside_the_graph(exported_int4: ExportResult) -> None:
    folder = exported_int4.out / "transformer"
    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    external = [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert external and {e.value for t in external for e in t.external_data if e.key == "location"} == {"model.onnx_data"}
    assert not [p.name for p in folder.iterdir() if p.name not in ("model.onnx", "model.onnx_data", "config.json")]
    assert "transformer/model.onnx_data" in exported_int4.source_record["files"]


def break_a_quantized_weight(folder: Path) -> None:
    """The scales of the largest MatMulNBits negated: a wrong weight in a quantized graph."""
    path = folder / "transformer/model.onnx"
    model = onnx.load(str(path))
    inits = {t.name: t for t in model.graph.initializer}
    node = max((n for n in model.graph.node if n.op_type == "MatMulNBits"), key=lambda n: int(np.prod(inits[n.input[2]].dims)))
    scales = inits[node.input[2]]
    scales.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(scales), scales.name))
    onnx.save(model, str(path))


def test_a_wrong_weight_fails_even_the_int4_bounds(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ParityError) as err:
        export_wan(ExportOptions(source=checkpoint, out=tmp_path / "wanbad4", quantize="int4", limits="replica"),
                   after_export=break_a_quantized_weight)
    assert "transformer case 0" in str(err.value) and "at least 0.99" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_quantize_needs_fp32_and_a_known_mode(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="--quantize int4 needs --dtype fp32"):
        export_wan(ExportOptions(source=checkpoint, out=tmp_path / "wanq", dtype="fp16", quantize="int4"))
    with pytest.raises(ExportError, match="'int2' is not one of int8, int4"):
        export_wan(ExportOptions(source=checkpoint, out=tmp_path / "wanq", quantize="int2"))
