"""`Bench`: the shared pieces, the report, and the sections mixed in from their modules."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .build import BuildSection
from .cold import ColdSection
from .common import NOISE, PROJECT_ROOT, SECTIONS, SEED, TARGETS, _load_average
from .corpus import CorpusBuilder, _build_texts
from .load import LoadSection
from .scale import ScaleSection
from .server import ServerSection


class Bench(CorpusBuilder, BuildSection, ScaleSection, ServerSection, ColdSection, LoadSection):
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.work_dir).resolve()
        self.out = Path(args.out).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)
        self.kb = self.work / "kb"
        self.results: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "environment": self._environment(),
                              "settings": {k: str(v) for k, v in vars(args).items() if k != "func"}}
        self._model = None
        self._real_chunks = None
        self._vectors: dict[str, np.ndarray] | None = None

    # --- shared pieces ----------------------------------------------------------------------------------------
    def _environment(self) -> dict:
        import chromadb
        import torch

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=PROJECT_ROOT).stdout.strip()
        return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                "torch": torch.__version__, "chromadb": chromadb.__version__, "commit": commit,
                "machine": platform.machine(), "load_average_start": _load_average()}

    @property
    def model(self):
        if self._model is None:
            from guide.index.embeddings import Embedder

            self._model = Embedder()
        return self._model

    def config(self, data_dir: Path, **overrides):
        from guide.config import Config

        return Config.from_env(environ={}, knowledge_dir=self.kb, data_dir=data_dir, index_refresh_seconds=0,
                               **overrides)

    def prepare_kb(self) -> None:
        """A private copy of the knowledge base, so the incremental test can change a document."""
        source = Path(self.args.knowledge_dir or PROJECT_ROOT / "knowledge")
        shutil.rmtree(self.kb, ignore_errors=True)
        shutil.copytree(source, self.kb)

    @property
    def real_chunks(self) -> list:
        if self._real_chunks is None:
            from guide.knowledge.chunking import Chunker
            from guide.knowledge.documents import load_documents

            cfg = self.config(self.work / "real")
            chunker = Chunker(cfg.chunk_tokens, cfg.chunk_overlap_tokens, cfg.tiktoken_encoding, cfg.data_dir)
            self._real_chunks = chunker.chunk_all(load_documents(self.kb))
        return self._real_chunks

    def real_vectors(self) -> dict[str, np.ndarray]:
        """Every real text's vector, from the model (the raw throughput run fills this when it runs)."""
        if self._vectors is None:
            texts = sorted(set(_build_texts(self.real_chunks)))
            self._vectors = dict(zip(texts, self.model.embed(texts), strict=True))
        return self._vectors

    def aliases(self) -> dict:
        from guide.knowledge.documents import load_documents

        return {a: [d.id] for d in load_documents(self.kb) if d.kind == "inspection" for a in d.aliases}

    def corpus_key(self, size: int | str) -> str:
        from guide.index.layout import MANIFEST_VERSION
        from guide.knowledge.chunking import CHUNK_FORMAT_VERSION

        digest = hashlib.sha256()
        for part in (str(size), str(NOISE), str(SEED), CHUNK_FORMAT_VERSION, str(MANIFEST_VERSION),
                     *sorted(c.id for c in self.real_chunks)):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()[:16]


    # --- report ---------------------------------------------------------------------------------------------
    def _checkpoint(self) -> None:
        (self.out / "bench.json").write_text(json.dumps(self.results, indent=1, default=str))

    def targets(self) -> list[dict]:
        rows = []

        def add(name: str, value, limit: float, ok_when: str = "<=") -> None:
            if value is None:
                rows.append({"target": name, "value": None, "limit": limit, "met": None})
                return
            met = value <= limit if ok_when == "<=" else value >= limit
            rows.append({"target": name, "value": round(float(value), 3), "limit": limit, "met": bool(met)})

        scale = {p["corpus"]["label"]: p for p in self.results.get("scale", [])}
        add("warm ask p95 ms at 10k chunks", scale.get("10k", {}).get("ask", {}).get("p95"),
            TARGETS["ask_p95_ms_10k"])
        add("warm ask p95 ms at 100k chunks", scale.get("100k", {}).get("ask", {}).get("p95"),
            TARGETS["ask_p95_ms_100k"])
        build = self.results.get("build", {})
        add("full build share of raw embedding throughput", build.get("share_of_raw"),
            TARGETS["build_share_of_raw"], ">=")
        add("incremental rebuild s (one document)", build.get("incremental_s"), TARGETS["incremental_s"])
        cold = self.results.get("cold", {})
        add("guide ask: process start to answer s", cold.get("ask_median_s"), TARGETS["cold_ask_s"])
        add("app.py: process start to ready s", cold.get("app.py", {}).get("ready_median_s"),
            TARGETS["server_ready_s"])
        load = {lv["clients"]: lv for lv in self.results.get("load", {}).get("levels", [])}
        if 50 in load:
            add("50 API clients: errors", load[50]["errors"], 0)
            add("50 API clients: p95 ms", load[50]["latency"].get("p95"), TARGETS["load_50_p95_ms"])
        else:
            add("50 API clients: p95 ms", None, TARGETS["load_50_p95_ms"])
        return rows

    def table(self) -> str:
        lines = [f"guide bench  {self.results['started']}  commit {self.results['environment']['commit']}  "
                 f"{self.results['environment']['cpus']} CPUs  load average at start "
                 f"{self.results['environment']['load_average_start']}"]
        build = self.results.get("build")
        if build:
            lines += ["", f"Index build, real knowledge base ({build['chunks']} chunks, {build['texts']} texts: "
                          "passages + sentences + headings)",
                      f"  raw model throughput      {build['raw_texts_per_s']:8.1f} texts/s  (median of "
                      f"{build['raw_runs']})",
                      f"  full build                {build['build_texts_per_s']:8.1f} texts/s  "
                      f"{build['build_chunks_per_s']:.1f} chunks/s  {build['full_build_s']:.1f} s  = "
                      f"{build['share_of_raw']:.0%} of raw  (builds {build['full_build_runs_s']} s)",
                      f"  incremental (1 document)  {build['incremental_s']:8.2f} s  "
                      f"({build['incremental_embedded_chunks']} chunks embedded, "
                      f"{build['incremental_reused_chunks']} reused)",
                      f"  `guide index` process     {build['cli_index_after_change_s']:8.2f} s  (imports, model load, "
                      "one document changed)"]
        scale = self.results.get("scale")
        if scale:
            lines += ["", "Warm latency, ms (embedded Chroma)       ask = Guide.ask, every dataset turn; "
                          "retrieve = hybrid retrieval alone",
                      f"  {'corpus':7s} {'chunks':>7s} {'ask p50':>8s} {'p95':>6s} {'p99':>6s} {'retr p50':>9s} "
                      f"{'p95':>6s} {'p99':>6s} {'embed p50':>9s} {'open s':>7s} {'RSS MB':>7s} {'facts ok':>9s} "
                      f"{'errors':>6s}"]
            lines += [self._latency_row(p) for p in scale]
        server = self.results.get("server")
        if server:
            lines += ["", "Embedded Chroma vs a Chroma server (`chroma run` on 127.0.0.1), same corpus; the server row "
                          "was opened by a process with no local build folder"]
            for pair in server["points"]:
                if pair["embedded"]:
                    lines.append(self._latency_row(pair["embedded"], "embedded"))
                lines.append(self._latency_row(pair["server"], "server"))
            if "incremental_s" in server:
                lines.append(f"  incremental rebuild on the server (1 document): {server['incremental_s']:.2f} s "
                             f"{server['incremental_timings']}")
        cold = self.results.get("cold")
        if cold:
            lines += ["", "Cold start (process start to ...)",
                      f"  guide ask: first answer   {cold['ask_median_s']:6.2f} s  peak RSS "
                      f"{cold['ask_peak_rss_mb']:.0f} MB  runs {[a['s'] for a in cold['ask']]}",
                      f"  guide ask, first run on a fresh data folder (exports the ONNX graph once): "
                      f"{cold['ask_first_ever']['s']:.2f} s, peak RSS {cold['ask_first_ever']['peak_rss_mb']:.0f} MB"]
            for name in ("app.py", "guide serve"):
                if name in cold:
                    r = cold[name]["runs"][0]
                    lines.append(f"  {name + ': ready':26s}{cold[name]['ready_median_s'] or float('nan'):6.2f} s  "
                                 f"first API answer {r['first_api_answer_s']} s  peak RSS {r['peak_rss_mb']} MB")
        load = self.results.get("load")
        if load:
            lines += ["", f"Load: POST /api/ask, {load.get('workers', 1)} app worker(s)"
                          f"{' on one Chroma server' if load.get('chroma_server') else ' (embedded Chroma)'}, "
                          f"rate limit {load.get('rate_limit', '')}"]
            if load.get("skipped") or load.get("error"):
                lines.append(f"  {load.get('skipped') or load.get('error')}")
            for lv in load.get("levels", []):
                lat = lv["latency"]
                lines.append(f"  {lv['clients']:4d} clients  {lv['throughput_rps']:6.1f} answers/s  p50 "
                             f"{lat.get('p50', float('nan')):7.0f} ms  p95 {lat.get('p95', float('nan')):7.0f} ms  "
                             f"p99 {lat.get('p99', float('nan')):7.0f} ms  errors {lv['errors']} {lv['error_kinds']}")
        lines += ["", "Targets (issue 7)"]
        for row in self.results.get("targets", []):
            mark = {True: "met", False: "MISSED", None: "not measured"}[row["met"]]
            lines.append(f"  {row['target']:48s} {row['value']!s:>10s}  (limit {row['limit']})  {mark}")
        return "\n".join(lines)

    @staticmethod
    def _latency_row(point: dict, name: str | None = None) -> str:
        ask, ret, emb = point["ask"], point["retrieve"], point["embed"]
        facts = point["facts"]
        label = name or point["corpus"]["label"]
        if name:
            label = f"{point['corpus']['label']} {name}"
        return (f"  {label:7s} {point['chunks']:7d} {ask['p50']:8.1f} {ask['p95']:6.1f} {ask['p99']:6.1f} "
                f"{ret['p50']:9.1f} {ret['p95']:6.1f} {ret['p99']:6.1f} {emb['p50']:9.1f} "
                f"{point['open_s']:7.2f} {point['rss_mb']:7.0f} {facts['full']:>5d}/{facts['answer_cases']:<3d} "
                f"{point.get('errors', 0):6d}")

    def run(self) -> int:
        only = {s.strip() for s in self.args.only.split(",") if s.strip()}
        skip = {s.strip() for s in self.args.skip.split(",") if s.strip()}
        unknown = (only | skip) - set(SECTIONS)
        if unknown:
            print(f"error: unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
            return 2
        self.prepare_kb()
        for section in SECTIONS:
            if section in skip or (only and section not in only):
                continue
            print(f"[{section}]", flush=True)
            start = time.perf_counter()
            getattr(self, f"run_{section}")()
            self.results.setdefault("section_seconds", {})[section] = round(time.perf_counter() - start, 1)
            self._checkpoint()
        self.results["environment"]["load_average_end"] = _load_average()
        self.results["targets"] = self.targets()
        table = self.table()
        self._checkpoint()
        (self.out / "bench.txt").write_text(table + "\n")
        print()
        print(table)
        print(f"\nWrote {self.out / 'bench.json'} and {self.out / 'bench.txt'}")
        return 0


