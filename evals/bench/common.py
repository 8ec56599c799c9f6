"""Constants and small helpers the benchmark sections share."""

from __future__ import annotations

import logging
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

EVALS_DIR = Path(__file__).resolve().parent.parent
PROJECT_ROOT = EVALS_DIR.parent
DEFAULT_DATASET = EVALS_DIR / "datasets" / "public.jsonl"
log = logging.getLogger(__name__)

NOISE = 0.25  # length of the random step that turns an original's vector into a copy's
SEED = 20261123
COLD_QUESTION = "How long does the council have to decide whether to assess my child?"
TARGETS = {
    "ask_p95_ms_10k": 50.0,
    "ask_p95_ms_100k": 150.0,
    "build_share_of_raw": 0.90,
    "incremental_s": 3.0,
    "cold_ask_s": 10.0,
    "server_ready_s": 15.0,
    "load_50_p95_ms": 1000.0,
}
SECTIONS = ("build", "scale", "server", "cold", "load")




def percentiles(values_ms: list[float]) -> dict:
    if not values_ms:
        return {"n": 0}
    arr = np.asarray(values_ms, dtype=float)
    return {"n": len(arr), "p50": float(np.percentile(arr, 50)), "p95": float(np.percentile(arr, 95)),
            "p99": float(np.percentile(arr, 99)), "mean": float(arr.mean()), "max": float(arr.max())}


def _proc_status(pid: int | str = "self") -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process, in MB."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return out


def _load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _size_label(size: int | str) -> str:
    if size == "real":
        return "real"
    size = int(size)
    return f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else str(size)


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUIDE_")}
    env.update({"PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


_TIMED_RUN = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(json.loads(sys.argv[1]), capture_output=True, text=True)
print(json.dumps({"s": time.perf_counter() - start, "returncode": done.returncode, "stdout": done.stdout,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""



def _stop(proc: subprocess.Popen) -> None:
    """Stop a server this benchmark started (its own process group), politely first."""
    from guide.index.chroma_server import stop_process_group

    stop_process_group(proc, timeout=20)


