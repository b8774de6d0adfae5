"""Measures what a model folder costs: bytes on disk per file (with sha256) and memory to load its graphs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

# Run in a fresh interpreter so torch and the export's own allocations do not count.
_LOAD_PROBE = r"""
import json, sys
import psutil, onnxruntime as ort
def high_water():  # VmHWM starts afresh at exec, unlike ru_maxrss, which keeps the forking parent's
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
proc = psutil.Process()
before = proc.memory_info().rss
sessions = [ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in sys.argv[1:]]
after = proc.memory_info().rss
print(json.dumps({"before": before, "after": after, "peak": max(after, high_water())}))
"""


def file_table(folder: Path) -> dict[str, dict[str, object]]:
    table: dict[str, dict[str, object]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        table[path.relative_to(folder).as_posix()] = {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}
    return table


def load_memory(graphs: list[Path]) -> dict[str, int]:
    """RSS before and after creating every session, and the peak while doing so (bytes)."""
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_PROBE, *map(str, graphs)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])
