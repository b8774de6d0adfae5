"""`videosdgx-source.json` for an exported folder: where it came from and every file's size and sha256.

The schema is shared/src/models/source-record.ts (`SourceRecordSchema`, kind "exported"), the same file
`models pull` writes; `models verify` checks each listed file byte for byte against it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SOURCE_RECORD_FILE = "videosdgx-source.json"
SCHEMA_VERSION = 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_files(folder: Path) -> dict[str, dict[str, Any]]:
    """Every file under `folder` but the record itself: relative path (forward slashes) -> size, sha256."""
    return {
        p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).as_posix() != SOURCE_RECORD_FILE
    }


def checkpoint_configs(root: Path) -> dict[str, str]:
    """sha256 of the checkpoint's JSON files (model_index.json, each component's configs and weight indexes):
    which checkpoint a folder came from, without hashing tens of GB of weights again."""
    files = [*root.glob("*.json"), *root.glob("*/*.json")]
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(files) if p.is_file()}


def write_source_record(
    folder: Path, *, model: str, checkpoint: Path, dtype: str, quantization: dict[str, Any] | None
) -> dict[str, Any]:
    """Written last, once every other file of the folder is in its final form."""
    checkpoint = checkpoint.absolute()  # a relative --from would mean nothing to a later reader
    record = {
        "schema_version": SCHEMA_VERSION,
        "kind": "exported",
        "model": model,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "from": str(checkpoint),
        "checkpoint": {"path": str(checkpoint), "configs": checkpoint_configs(checkpoint)},
        "dtype": dtype,
        "quantization": quantization,
        "files": folder_files(folder),
    }
    (folder / SOURCE_RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record
