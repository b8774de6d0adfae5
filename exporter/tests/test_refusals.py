"""A bad checkpoint or a wrong graph is refused with a clear message, a non-zero exit and no folder left."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from videosdgx_export.errors import ExportError, ParityError
from videosdgx_export.wan.export import ExportOptions, export_wan


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([sys.executable, "-m", "videosdgx_export", *args], capture_output=True, text=True, env=env, timeout=600)


def test_checkpoint_without_transformer_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    shutil.rmtree(broken / "transformer")
    out = tmp_path / "models" / "wanbroken"
    out.parent.mkdir()
    res = run_cli("export", "--family", "wan", "--from", str(broken), "--out", str(out))
    assert res.returncode == 2, res.stderr
    assert "transformer/config.json is missing" in res.stderr and str(broken) in res.stderr
    assert "Traceback" not in res.stderr
    assert list(out.parent.iterdir()) == []


def test_missing_checkpoint_and_bad_name_are_refused(checkpoint: Path, tmp_path: Path) -> None:
    res = run_cli("export", "--family", "wan", "--from", str(tmp_path / "nowhere"), "--out", str(tmp_path / "wanx"))
    assert res.returncode == 2 and "does not exist" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("export", "--family", "wan", "--from", str(checkpoint), "--out", str(tmp_path / "Wan-2.1"))
    assert res.returncode == 2 and "model name 'Wan-2.1'" in res.stderr
    assert not (tmp_path / "Wan-2.1").exists()


def test_existing_folder_is_not_replaced_without_overwrite(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "wanthere"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="already exists"):
        export_wan(ExportOptions(source=checkpoint, out=out))
    assert (out / "keep.txt").read_text() == "mine"


def perturb_transformer(folder: Path) -> None:
    """A weight nudged after export, as a broken conversion or a damaged file would leave it."""
    path = folder / "transformer/model.onnx"
    model = onnx.load(str(path))
    target = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)) if t.data_type == onnx.TensorProto.FLOAT else 0)
    weights = numpy_helper.to_array(target).copy()
    weights += np.float32(0.02)
    target.CopyFrom(numpy_helper.from_array(weights, target.name))
    onnx.save(model, str(path))


def test_perturbed_graph_fails_parity_and_leaves_nothing(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "wanbad"
    with pytest.raises(ParityError) as err:
        export_wan(ExportOptions(source=checkpoint, out=out, limits="replica"), after_export=perturb_transformer)
    message = str(err.value)
    assert "transformer case 0" in message and "tolerance 0.0001" in message
    assert "text_encoder" not in message and "vae_decoder" not in message  # only the damaged graph is named
    assert err.value.exit_code == 3
    assert list(tmp_path.iterdir()) == []


def test_bf16_is_refused_with_the_reason_which_still_holds(tmp_path: Path) -> None:
    res = run_cli("export", "--family", "wan", "--from", str(tmp_path), "--out", str(tmp_path / "wanbf"), "--dtype", "bf16")
    assert res.returncode == 2, res.stderr
    assert "--dtype bf16" in res.stderr and "Use --dtype fp16" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "wanbf").exists()
    # The reason: the pinned ONNX Runtime has no CPU bfloat16 MatMul. Once it has, this fails: time to export bf16.
    import onnxruntime as ort
    from onnx import TensorProto, helper

    cast = [helper.make_node("Cast", [name], [f"{name}_bf16"], to=TensorProto.BFLOAT16) for name in ("a", "b")]
    graph = helper.make_graph(
        [*cast, helper.make_node("MatMul", ["a_bf16", "b_bf16"], ["y_bf16"]), helper.make_node("Cast", ["y_bf16"], ["y"], to=TensorProto.FLOAT)],
        "bf16_matmul", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 2]) for n in ("a", "b")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    with pytest.raises(Exception, match="NOT_IMPLEMENTED"):
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
