"""Shared fixtures: one tiny Wan 2.1 checkpoint (diffusers' own classes, seeded weights) and its exports.

The plain fp32 exports (Wan, Wan I2V, LTX-2) and their checkpoints come from shared_exports: built once by the
exporter and shared with the Node tests that need the same folders. The other options are exported here."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from shared_exports import as_export_result, shared_export
from videosdgx_export.wan.export import ExportOptions, ExportResult, export_wan


@pytest.fixture(scope="session", autouse=True)
def _quiet() -> None:
    warnings.filterwarnings("ignore")
    import torch._logging

    torch._logging.set_logs(onnx=logging.ERROR, export=logging.ERROR)


@pytest.fixture(scope="session")
def checkpoint() -> Path:
    """Shared: read it, never change it (copy it first)."""
    return shared_export("wan").checkpoint


@pytest.fixture(scope="session")
def exported() -> ExportResult:
    """The fp32 export of `checkpoint`, limits replica."""
    return as_export_result(shared_export("wan"))


@pytest.fixture(scope="session")
def exported_fp16(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    """fp16, and every weight in external data (as a real export's graphs over 1 GiB)."""
    out = tmp_path_factory.mktemp("models16") / "wantiny16"
    return export_wan(ExportOptions(source=checkpoint, out=out, dtype="fp16", limits="replica", external_data_above=0))


@pytest.fixture(scope="session")
def exported_i2v() -> ExportResult:
    """A WanImageToVideoPipeline replica, exported in fp32 (five graphs)."""
    return as_export_result(shared_export("wan-i2v"))


@pytest.fixture(scope="session")
def exported_int8(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    out = tmp_path_factory.mktemp("models8") / "wantiny8"
    return export_wan(ExportOptions(source=checkpoint, out=out, quantize="int8", limits="replica"))


@pytest.fixture(scope="session")
def exported_int4(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    """int4, with every weight in external data: the path a graph over 2 GiB takes through the quantizer."""
    out = tmp_path_factory.mktemp("models4") / "wantiny4"
    return export_wan(ExportOptions(source=checkpoint, out=out, quantize="int4", limits="replica", external_data_above=0))


@pytest.fixture(scope="session")
def ltx2_checkpoint() -> Path:
    """Shared: read it, never change it (copy it first)."""
    return shared_export("ltx2").checkpoint


@pytest.fixture(scope="session")
def ltx2_exported() -> ExportResult:
    """The tiny LTX-2 export; STG at the replica's second (last) block."""
    return as_export_result(shared_export("ltx2"))
