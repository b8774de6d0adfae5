"""videosdgx-source.json of an exported folder: every file's size and sha256, and where the folder came from."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from videosdgx_export.source_record import SOURCE_RECORD_FILE
from videosdgx_export.wan.export import ExportResult


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_record(folder: Path) -> dict:
    return json.loads((folder / SOURCE_RECORD_FILE).read_text())


def test_record_lists_every_file_written_with_its_size_and_hash(exported: ExportResult) -> None:
    record = read_record(exported.out)
    assert record == exported.source_record
    on_disk = {p.relative_to(exported.out).as_posix() for p in exported.out.rglob("*") if p.is_file()}
    assert set(record["files"]) == on_disk - {SOURCE_RECORD_FILE}
    for rel, want in record["files"].items():
        path = exported.out / rel
        assert want == {"size": path.stat().st_size, "sha256": sha256(path)}, rel


def test_record_names_the_checkpoint_its_config_hashes_and_the_dtype(exported: ExportResult, checkpoint: Path) -> None:
    record = read_record(exported.out)
    assert (record["schema_version"], record["kind"], record["model"]) == (1, "exported", "wantiny")
    assert record["from"] == record["checkpoint"]["path"] == str(checkpoint)
    configs = record["checkpoint"]["configs"]
    for rel in ("model_index.json", "transformer/config.json", "vae/config.json", "text_encoder/config.json",
                "scheduler/scheduler_config.json"):
        assert configs[rel] == sha256(checkpoint / rel), rel
    assert record["dtype"] == "fp32" and record["quantization"] is None
    assert record["created_at"].endswith("Z")


def test_record_covers_external_data(exported_fp16: ExportResult) -> None:
    files = read_record(exported_fp16.out)["files"]
    for graph in ("text_encoder", "transformer", "vae_decoder"):
        data = exported_fp16.out / graph / "model.onnx_data"
        assert files[f"{graph}/model.onnx_data"] == {"size": data.stat().st_size, "sha256": sha256(data)}
    assert read_record(exported_fp16.out)["dtype"] == "fp16"
