"""The tiny replicas' exports every test suite needs (pytest, the workers' parity tests, the CLI's), made once.

Each recipe (a replica checkpoint and its fp32 export) is built by the real exporter into
exporter/.test-exports/<recipe>-<key>/, where <key> hashes everything the result depends on: the exporter's
sources, this file, requirements.txt, the Python version and the recipe. Another `npm test` (or another
process of the same run, turbo runs workspaces side by side) finds it there; a changed exporter gets a new
key and so a new export. One builder at a time (a lock per recipe); the stamp file is written last, so an
interrupted build is redone, as exporter/scripts/venv.sh does for the venv.

Tests that only need "a valid exported folder" take it from here and must not change it (copy it first);
tests of the export itself (refusals, broken graphs, other options) still run their own.

`python tests/shared_exports.py <recipe>` builds (or finds) one and prints its paths as JSON.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import platform
import re
import shutil
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

EXPORTER = Path(__file__).resolve().parents[1]
STORE = EXPORTER / ".test-exports"
STAMP = ".complete"


@dataclass(frozen=True)
class Recipe:
    family: str
    name: str  # the model folder's name, so the manifest's
    i2v: bool = False  # wan: WanImageToVideoPipeline's replica


RECIPES = {
    "wan": Recipe("wan", "wantiny"),
    "wan-i2v": Recipe("wan", "wantinyi2v", i2v=True),
    "ltx2": Recipe("ltx2", "ltx2tiny"),  # STG at the replica's second (last) block
}


@dataclass(frozen=True)
class SharedExport:
    checkpoint: Path
    models_dir: Path
    name: str
    # The exporter's own result, as it returned it: manifest, source record and every parity case.
    result: dict[str, Any]

    @property
    def dir(self) -> Path:
        return self.models_dir / self.name


def _key(recipe: str) -> str:
    digest = hashlib.sha256()
    sources = sorted((EXPORTER / "src").rglob("*.py")) + [Path(__file__).resolve(), EXPORTER / "requirements.txt"]
    for path in sources:
        digest.update(path.relative_to(EXPORTER).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(f"python-{platform.python_version()} {recipe} {RECIPES[recipe]!r}".encode())
    return digest.hexdigest()[:16]


def _build(recipe: Recipe, entry: Path) -> dict[str, Any]:
    checkpoint, out = entry / "checkpoint", entry / "models" / recipe.name
    out.parent.mkdir()
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    if recipe.family == "wan":
        from videosdgx_export.replica import save_tiny_checkpoint
        from videosdgx_export.wan.export import ExportOptions, export_wan

        save_tiny_checkpoint(checkpoint, i2v=recipe.i2v)
        result = export_wan(ExportOptions(source=checkpoint, out=out, limits="replica"), log=log)
    else:
        from videosdgx_export.ltx2.export import ExportOptions as Ltx2Options, export_ltx2
        from videosdgx_export.ltx2.replica import STG_BLOCKS, save_tiny_checkpoint as save_tiny_ltx2

        save_tiny_ltx2(checkpoint)
        result = export_ltx2(Ltx2Options(source=checkpoint, out=out, limits="replica", stg_blocks=STG_BLOCKS), log=log)
    return {"manifest": result.manifest, "source_record": result.source_record, "deviations": [d.as_json() for d in result.deviations]}


def _prune_others(recipe: str, keep: Path) -> None:
    """Entries of this recipe from older exporter sources, unless a process still holds their lock."""
    for old in STORE.iterdir():
        # "wan-<key>", not "wan-i2v-<key>"
        if old == keep or not old.is_dir() or not re.fullmatch(rf"{re.escape(recipe)}-[0-9a-f]{{16}}", old.name):
            continue
        with open(f"{old}.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(old, ignore_errors=True)
        Path(f"{old}.lock").unlink(missing_ok=True)


def shared_export(recipe: str) -> SharedExport:
    """The recipe's checkpoint and export: built here by the exporter, or found as an earlier build left it."""
    spec = RECIPES[recipe]
    STORE.mkdir(exist_ok=True)
    entry = STORE / f"{recipe}-{_key(recipe)}"
    with open(f"{entry}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits for the first one's build
        if not (entry / STAMP).is_file():
            shutil.rmtree(entry, ignore_errors=True)
            print(f"shared export {recipe}: building {entry}", file=sys.stderr, flush=True)
            entry.mkdir()
            result = _build(spec, entry)
            (entry / "result.json").write_text(json.dumps(result), encoding="utf-8")
            (entry / STAMP).write_text(entry.name, encoding="utf-8")
    _prune_others(recipe, entry)
    result = json.loads((entry / "result.json").read_text(encoding="utf-8"))
    return SharedExport(checkpoint=entry / "checkpoint", models_dir=entry / "models", name=spec.name, result=result)


def as_export_result(shared: SharedExport) -> Any:
    """The exporter's ExportResult again (every family's), from what it returned."""
    from videosdgx_export.folder_install import ExportResult
    from videosdgx_export.parity import Deviation

    names = {f.name for f in fields(Deviation)}
    deviations = [Deviation(**{k: v for k, v in d.items() if k in names}) for d in shared.result["deviations"]]
    return ExportResult(out=shared.dir, manifest=shared.result["manifest"], source_record=shared.result["source_record"], deviations=deviations)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in RECIPES:
        print(f"usage: shared_exports.py <{'|'.join(RECIPES)}>", file=sys.stderr)
        return 2
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    import torch._logging

    torch._logging.set_logs(onnx=logging.ERROR, export=logging.ERROR)
    shared = shared_export(argv[0])
    print(json.dumps({"checkpoint": str(shared.checkpoint), "models_dir": str(shared.models_dir), "name": shared.name, "dir": str(shared.dir)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
