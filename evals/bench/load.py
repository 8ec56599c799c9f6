"""The load section: concurrent clients against POST /api/ask."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter

from .common import PROJECT_ROOT, _child_env, _http_ok, _load_average, _proc_status, _stop, percentiles


async def run_load(urls: list[str], questions: list[str], clients: int, seconds: float,
                   timeout: float = 30.0) -> dict:
    """`clients` concurrent clients, each posting its next question as soon as its last answer arrives, for
    `seconds`; requests in flight at the end are awaited and counted. Spread over `urls` (several workers)."""
    import httpx

    latencies: list[float] = []
    errors: Counter = Counter()
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def one_client(i: int) -> None:
            n = i
            while time.perf_counter() < stop:
                url, question = urls[n % len(urls)], questions[n % len(questions)]
                n += clients
                start = time.perf_counter()
                try:
                    response = await client.post(url, json={"question": question, "history": []})
                    if response.status_code == 200:
                        latencies.append((time.perf_counter() - start) * 1000)
                    else:
                        errors[str(response.status_code)] += 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1

        start = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        elapsed = time.perf_counter() - start
    return {"clients": clients, "seconds": round(elapsed, 2), "answers": len(latencies),
            "throughput_rps": round(len(latencies) / elapsed, 2), "errors": sum(errors.values()),
            "error_kinds": dict(errors), "latency": percentiles(latencies)}



class LoadSection:
    """Mixed into `Bench` (runner.py), which supplies the shared pieces."""

    def run_load(self) -> None:
        from evals.dataset import load_dataset
        from guide.index.chroma_server import ChromaServer, free_port

        if not (PROJECT_ROOT / "app.py").exists():
            self.results["load"] = {"skipped": "app.py (the HTTP API) is not there yet"}
            return
        questions = [c.turns[0] for c in load_dataset(self.args.dataset)]
        workers = max(1, self.args.load_workers)
        server = None
        env_extra = {"GUIDE_KNOWLEDGE_DIR": self.kb, "GUIDE_RATE_LIMIT_PER_MINUTE": "0",
                     "GUIDE_LOG_LEVEL": "WARNING"}
        if workers > 1:
            # Several workers share one index only through a Chroma server.
            server = ChromaServer(self.work / "chroma-load", log_path=self.work / "chroma-load.log").start()
            cfg = self.config(self.work / "load-builder", chroma_url=server.url)
            self.ensure_corpus_real_on(cfg)
            env_extra.update(GUIDE_CHROMA_URL=server.url, GUIDE_DATA_DIR=self.work / "load-workers")
        else:
            env_extra.update(GUIDE_DATA_DIR=self.ensure_real_index())
        env = _child_env(**env_extra)
        procs, urls = [], []
        out: dict = {"workers": workers, "chroma_server": bool(server),
                     "rate_limit": "off (GUIDE_RATE_LIMIT_PER_MINUTE=0)", "levels": []}
        try:
            for _ in range(workers):
                port = free_port()
                procs.append(subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=PROJECT_ROOT,
                                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                              start_new_session=True))
                urls.append(f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + 300
            while not all(_http_ok(f"{u}/api/health") for u in urls):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    out["error"] = "the app did not start (no /api/health)"
                    self.results["load"] = out
                    return
                time.sleep(0.2)
            if not self._first_answer(urls[0], time.perf_counter()):
                out["error"] = "POST /api/ask did not answer"
                self.results["load"] = out
                return
            asks = [f"{u}/api/ask" for u in urls]
            asyncio.run(run_load(asks, questions, 4, 3.0))  # warm-up
            for clients in [int(c) for c in self.args.clients.split(",") if c.strip()]:
                print(f"  load: {clients} clients for {self.args.load_seconds:.0f} s ...", flush=True)
                level = asyncio.run(run_load(asks, questions, clients, self.args.load_seconds))
                level["load_average"] = _load_average()
                out["levels"].append(level)
            out["worker_peak_rss_mb"] = [round(_proc_status(p.pid).get("VmHWM", 0), 1) for p in procs]
        finally:
            for proc in procs:
                _stop(proc)
            if server:
                server.stop()
        self.results["load"] = out

