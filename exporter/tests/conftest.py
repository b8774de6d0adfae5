"""Shared fixtures: one tiny Wan 2.1 checkpoint (diffusers' own classes, seeded weights) and its exports."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from videosdgx_export.replica import save_tiny_checkpoint
from videosdgx_export.wan.export import ExportOptions, ExportResult, export_wan


@pytest.fixture(scope="session", autouse=True)
def _quiet() -> None:
    warnings.filterwarnings("ignore")
    import torch._logging

    torch._logging.set_logs(onnx=logging.ERROR, export=logging.ERROR)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "wan-tiny")


@pytest.fixture(scope="session")
def exported(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    out = tmp_path_factory.mktemp("models") / "wantiny"
    return export_wan(ExportOptions(source=checkpoint, out=out, limits="replica"))


@pytest.fixture(scope="session")
def exported_fp16(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    """fp16, and every weight in external data (as a real export's graphs over 1 GiB)."""
    out = tmp_path_factory.mktemp("models16") / "wantiny16"
    return export_wan(ExportOptions(source=checkpoint, out=out, dtype="fp16", limits="replica", external_data_above=0))
