"""The cold section: process start to the first answer of `guide ask`, `app.py` and `guide serve`."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

from .common import _TIMED_RUN, COLD_QUESTION, PROJECT_ROOT, _child_env, _http_ok, _proc_status, _stop


class ColdSection:
    """Mixed into `Bench` (runner.py), which supplies the shared pieces."""

    def run_cold(self) -> None:
        data = self.ensure_real_index()
        env = _child_env(GUIDE_DATA_DIR=data, GUIDE_KNOWLEDGE_DIR=self.kb)
        asks = []
        # The first run on a fresh data folder also exports the embedding model to ONNX (once per machine and
        # weights); the later runs are every other start.
        shutil.rmtree(data / "cache" / "onnx", ignore_errors=True)
        for _ in range(self.args.cold_repeats + 1):
            # Started from a small wrapper process: a child forked from this (large) one would count this
            # process's memory in its peak RSS until it execs.
            command = [sys.executable, "-m", "guide", "ask", "--json", COLD_QUESTION]
            wrapped = subprocess.run([sys.executable, "-c", _TIMED_RUN, json.dumps(command)], cwd=PROJECT_ROOT,
                                     env=env, capture_output=True, text=True, timeout=600)
            run = json.loads(wrapped.stdout)
            try:
                behaviour = json.loads(run["stdout"])["behaviour"]
            except (ValueError, KeyError):
                behaviour = "error"
            asks.append({"s": round(run["s"], 2), "peak_rss_mb": round(run["maxrss_kb"] / 1024, 1),
                         "ok": run["returncode"] == 0 and behaviour == "answer"})
        first, asks = asks[0], asks[1:]
        out = {"ask_first_ever": first, "ask": asks, "ask_median_s": statistics.median(a["s"] for a in asks),
               "ask_peak_rss_mb": max(a["peak_rss_mb"] for a in asks)}
        for name, command in self._server_commands():
            runs = [self._time_server(command, env) for _ in range(max(1, self.args.cold_repeats - 1))]
            out[name] = {"runs": runs, "ready_median_s": statistics.median(r["ready_s"] for r in runs)
                         if all(r["ready_s"] is not None for r in runs) else None}
        self.results["cold"] = out

    def _server_commands(self) -> list[tuple[str, list[str]]]:
        commands = []
        if (PROJECT_ROOT / "app.py").exists():
            commands.append(("app.py", [sys.executable, "app.py"]))
        commands.append(("guide serve", [sys.executable, "-m", "guide", "serve"]))
        return commands

    def _time_server(self, command: list[str], env: dict) -> dict:
        from guide.index.chroma_server import free_port

        port = free_port()
        start = time.perf_counter()
        proc = subprocess.Popen([*command, "--port", str(port)], cwd=PROJECT_ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        ready = None
        first_answer = None
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and proc.poll() is None:
                if _http_ok(f"{base}/api/health") or _http_ok(f"{base}/"):
                    ready = time.perf_counter() - start
                    break
                time.sleep(0.05)
            if ready is not None:
                first_answer = self._first_answer(base, start)
            peak = _proc_status(proc.pid).get("VmHWM")
        finally:
            _stop(proc)
        return {"ready_s": round(ready, 2) if ready is not None else None,
                "first_api_answer_s": round(first_answer, 2) if first_answer is not None else None,
                "peak_rss_mb": round(peak, 1) if peak else None}

    @staticmethod
    def _first_answer(base: str, start: float) -> float | None:
        body = json.dumps({"question": COLD_QUESTION, "history": []}).encode()
        request = urllib.request.Request(f"{base}/api/ask", data=body, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except (urllib.error.URLError, OSError):
            return None
        return None

