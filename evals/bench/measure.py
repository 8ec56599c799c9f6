"""The child process that opens a guide on one corpus and times it warm (`python -m evals.bench measure ...`)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from .common import _load_average, _proc_status, percentiles


def measure_main(spec: dict, out: Path) -> None:
    """The child process of `Bench.measure`: open the guide, then time it warm."""
    t0 = time.perf_counter()
    from evals.dataset import load_dataset
    from evals.metrics import key_facts
    from guide.config import Config
    from guide.core import Guide
    from guide.index.embeddings import Embedder

    imports_s = time.perf_counter() - t0
    t = time.perf_counter()
    embedder = Embedder()
    model_s = time.perf_counter() - t
    config = Config.from_env(environ={}, knowledge_dir=spec["knowledge_dir"], data_dir=spec["data_dir"],
                             chroma_url=spec["chroma_url"], collection=spec["collection"], index_refresh_seconds=0)
    t = time.perf_counter()
    guide = Guide(config, embedder=embedder, build_if_missing=False)
    open_s = time.perf_counter() - t
    rss_open = _proc_status().get("VmRSS", 0)
    cases = load_dataset(Path(spec["dataset"]))
    if spec.get("cases"):
        cases = cases[: spec["cases"]]

    errors: Counter = Counter()

    def one_pass(check: bool) -> tuple[list[float], list[float], dict, list[dict]]:
        ask_ms, answered_ms, steps, checks = [], [], {}, []
        for case in cases:
            history: list[dict] = []
            reply = None
            for turn in case.turns:
                start = time.perf_counter()
                try:
                    reply = guide.ask(turn, history=history)
                except Exception as exc:  # noqa: BLE001 - a failing question is a finding: count it, go on
                    errors[f"{case.id}: {type(exc).__name__}: {exc}"[:200]] += 1
                    history += [{"role": "user", "content": turn}, {"role": "assistant", "content": ""}]
                    reply = None
                    continue
                ms = (time.perf_counter() - start) * 1000
                ask_ms.append(ms)
                if reply.behaviour == "answer":
                    answered_ms.append(ms)
                for k, v in reply.timings.items():
                    steps.setdefault(k, []).append(v)
                history += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply.text}]
            if check and case.expected_behaviour == "answer":
                found, total, _ = key_facts(reply.text, case) if reply else (0, 1, None)
                checks.append({"id": case.id, "full": found == total,
                               "behaviour": reply.behaviour if reply else "error"})
        return ask_ms, answered_ms, steps, checks

    start = time.perf_counter()
    first = guide.ask(cases[0].turns[0])
    first_ms = (time.perf_counter() - start) * 1000
    _, _, _, checks = one_pass(check=True)  # warm-up pass, also the answer check
    ask_ms, answered_ms, steps = [], [], {}
    for _ in range(max(1, spec["repeats"])):
        a, b, s, _ = one_pass(check=False)
        ask_ms += a
        answered_ms += b
        for k, v in s.items():
            steps.setdefault(k, []).extend(v)

    questions = [c.turns[0] for c in cases]
    embed_ms, retrieve_ms = [], []
    vectors = []
    for q in questions:
        start = time.perf_counter()
        vectors.append(embedder.embed_query(q))
        embed_ms.append((time.perf_counter() - start) * 1000)
    for _ in range(max(1, spec["repeats"])):
        for q, v in zip(questions, vectors, strict=True):
            start = time.perf_counter()
            guide.retriever.retrieve(q, v, k=config.top_k, kind="guidance")
            retrieve_ms.append((time.perf_counter() - start) * 1000)
    status = _proc_status()
    result = {
        "chunks": len(guide.store.chunks), "build_id": guide.store.build_id,
        "imports_s": round(imports_s, 2), "model_load_s": round(model_s, 2), "open_s": round(open_s, 2),
        "first_ask_ms": round(first_ms, 1), "first_behaviour": first.behaviour,
        "ask": percentiles(ask_ms), "ask_answered": percentiles(answered_ms), "retrieve": percentiles(retrieve_ms),
        "embed": percentiles(embed_ms),
        "steps_p50_ms": {k: round(float(np.percentile(v, 50)), 2) for k, v in steps.items()},
        "steps_p95_ms": {k: round(float(np.percentile(v, 95)), 2) for k, v in steps.items()},
        "facts": {"answer_cases": len(checks), "full": sum(c["full"] for c in checks),
                  "answered": sum(c["behaviour"] == "answer" for c in checks)},
        "errors": sum(errors.values()), "error_kinds": dict(errors),
        "rss_after_open_mb": round(rss_open, 1), "rss_mb": round(status.get("VmRSS", 0), 1),
        "peak_rss_mb": round(status.get("VmHWM", 0), 1), "load_average": _load_average(),
    }
    Path(out).write_text(json.dumps(result, indent=1))


