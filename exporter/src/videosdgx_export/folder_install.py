"""What every family's export shares: loading a checkpoint component, the library versions it records,
putting the finished folder in place whole (staged beside it, then renamed; never half there), and the result."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from .errors import ExportError
from .parity import Deviation

T = TypeVar("T")
Log = Callable[[str], None]


@dataclass
class ExportResult:
    out: Path
    manifest: dict[str, Any]
    source_record: dict[str, Any]
    deviations: list[Deviation] = field(default_factory=list)


def load_component(root: Path, component: str, loader: Any, **kwargs: Any) -> Any:
    """`loader.from_pretrained(root/component)` in eval mode; a failure names the component and its cause."""
    try:
        return loader.from_pretrained(str(root / component), **kwargs).eval()
    except Exception as err:  # the libraries raise many kinds; the user needs the component and cause
        raise ExportError(f"cannot load {component}/ from {root}: {type(err).__name__}: {err}") from None


def library_versions() -> dict[str, str]:
    import diffusers
    import onnx
    import onnxruntime
    import torch
    import transformers

    return {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def check_destination(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise ExportError(f"{out} already exists; remove it or pass --overwrite")
    if not out.parent.is_dir():
        raise ExportError(f"the parent folder of {out} does not exist")


def install_folder(out: Path, write: Callable[[Path], T]) -> T:
    """Runs `write` on a staging folder beside `out`, then swaps it in for `out`; on any failure nothing is left."""
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        result = write(staging)
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def install_export(out: Path, overwrite: bool, write: Callable[[Path], tuple[dict[str, Any], dict[str, Any], list[Deviation]]]) -> ExportResult:
    """A family's export at `out`: `write` fills the staging folder and returns its manifest, source record and parity."""
    check_destination(out, overwrite)
    manifest, source_record, deviations = install_folder(out, write)
    return ExportResult(out=out, manifest=manifest, source_record=source_record, deviations=deviations)
