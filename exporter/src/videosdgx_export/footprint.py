"""Measures what a model folder costs: memory to load its graphs."""

from __future__ import annotations

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


def load_memory(graphs: list[Path]) -> dict[str, int]:
    """RSS before and after creating every session, and the peak while doing so (bytes)."""
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_PROBE, *map(str, graphs)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def manifest_memory(memory: dict[str, int]) -> dict[str, float | int]:
    """The manifest's `memory` from a load_memory measurement: resident bytes, and the load peak as a factor of them."""
    resident = max(1, memory["after"] - memory["before"])
    peak = max(resident, memory["peak"] - memory["before"])
    return {"resident_bytes": resident, "load_peak_factor": round(min(4.0, max(1.0, peak / resident)), 3)}
