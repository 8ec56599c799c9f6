"""`guide bench`: how fast the guide is, at the knowledge base's size and far beyond it.

Prints a table and writes `bench.json` (and the table as `bench.txt`) to --out (default artifacts/bench). These are
measurements, not tests: nothing here fails a build; the targets of issue 7 are checked and reported.

Sections (skip any with --skip):

  build   the real knowledge base: the model's raw embedding throughput (SentenceTransformer.encode on exactly the
          texts a full build embeds: passages, sentences, headings), alternating with full builds in the same
          process; the full build's throughput as a share of it (medians); an incremental rebuild after one document
          changes (in process, model loaded, as a running guide or the evaluation does) and `guide index` as a
          whole process.
  scale   warm `Guide.ask` over the public evaluation dataset (every turn, multi-turn cases with their history) and
          retrieval alone (hybrid retrieval with a precomputed query vector), p50/p95/p99, at the real knowledge
          base and at about 1k, 10k and 100k chunks; each size is measured in a fresh process (open time, RSS).
  server  the same corpus on a Chroma server (`chroma run --host 127.0.0.1`) against the embedded store, opened by a
          process with no local build folder (it rebuilds chunks and BM25 from the server); an incremental rebuild
          on the server.
  cold    seconds from process start to the first answer of `guide ask`, and to `app.py` / `guide serve`
          answering /api/health, with peak RSS; also the very first `guide ask` on a fresh data folder, which
          exports the embedding model to ONNX once.
  load    N concurrent clients (a bounded asyncio + httpx loop: each client posts its next question as soon as the
          last answer arrives) against POST /api/ask of `app.py` on 127.0.0.1, for --load-seconds each.

Synthetic corpora (how the 1k/10k/100k chunk indexes are made)
  The real knowledge base is kept whole (same documents, ids and vectors), so its answers stay checkable: every
  size reports how many evaluation cases still get every key fact. It is expanded with copies of its *guidance*
  chunks as if each council republished the national guidance in its Local Offer: copy j of chunk c has the id
  `<c.id>~<j>`, the document `<doc>~lo<j>` and the title `<title> (Local Offer copy <j>)`, with c's heading, text,
  sentences, sources and kind. Copies are added until the corpus reaches the size (with the knowledge base of
  November 2026, 419 chunks of which 370 guidance: 1k = real + 2 copies, 10k = real + 26, 100k = real + 269).
  Inspection reports are not copied.
  Embeddings are reused, not recomputed (the point is index and query scaling; embedding speed is measured on the
  real knowledge base): the real texts are embedded once by the model in this run; a copy's passage, sentences
  and heading get the original's vector moved by a seeded random step of length 0.25 and re-normalised (cosine
  about 0.97 to the original), so the copies are near-duplicates, not identical points, and the originals stay the
  closest matches. Built corpora are cached under --work-dir and reused while the knowledge base is unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np

EVALS_DIR = Path(__file__).resolve().parent
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("artifacts/bench"), help="folder for bench.json and bench.txt")
    parser.add_argument("--work-dir", type=Path, default=Path("artifacts/bench/work"),
                        help="built corpora and indexes (kept between runs and reused while unchanged)")
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="synthetic corpus sizes in chunks, comma-separated (the real knowledge base is always "
                             "measured too)")
    parser.add_argument("--server-sizes", default="10000",
                        help="sizes also measured on a Chroma server (comma-separated; 'real' for the knowledge base)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="timed passes over the dataset per size (after one warm-up)")
    parser.add_argument("--cases", type=int, default=0, help="only the first N dataset cases (0: all)")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--clients", default="10,50,100", help="concurrent API clients, comma-separated")
    parser.add_argument("--load-seconds", type=float, default=20.0, help="duration of each load level")
    parser.add_argument("--load-workers", type=int, default=1,
                        help="app processes for the load test; more than 1 serves them all from one Chroma server")
    parser.add_argument("--cold-repeats", type=int, default=3)
    parser.add_argument("--build-repeats", type=int, default=2, help="full builds (alternating with raw runs)")
    parser.add_argument("--skip", default="", help=f"sections to skip, comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--only", default="", help="run only these sections, comma-separated")
    parser.add_argument("--quick", action="store_true",
                        help="a few minutes: sizes 1000,10000, server at 1000, 40 cases, 1 repeat, 10 and 50 "
                             "clients for 8 s")
    parser.add_argument("--fresh", action="store_true", help="rebuild cached corpora")


# --- small helpers -------------------------------------------------------------------------------------------------
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


# --- synthetic corpora -----------------------------------------------------------------------------------------
def expand_corpus(real: list, target: int) -> tuple[list, dict[str, str], int]:
    """The real chunks plus Local Offer copies of the guidance chunks, to about `target` chunks (see the module
    docstring). Returns (chunks, {copy text: original text}, copies)."""
    guidance = [c for c in real if c.kind == "guidance"]
    copies = max(0, round((target - len(real)) / max(1, len(guidance))))
    chunks = list(real)
    alias: dict[str, str] = {}
    for j in range(1, copies + 1):
        for c in guidance:
            copy = dataclasses.replace(c, id=f"{c.id}~{j}", doc_id=f"{c.doc_id}~lo{j:03d}",
                                       title=f"{c.title} (Local Offer copy {j})")
            alias[copy.embed_text] = c.embed_text
            alias[copy.title] = c.title  # a section without a heading is embedded by its title
            chunks.append(copy)
    return chunks, alias, copies


class ReusedEmbedder:
    """Stands in for the model while a synthetic corpus is built: a real text gets the vector the model gave it in
    this run; a copy (a text seen before, or a copy's passage/title) gets the original's vector moved by a seeded
    random step of length NOISE, re-normalised."""

    def __init__(self, model, vectors: dict[str, np.ndarray], alias: dict[str, str]):
        self.model = model
        self.name, self.dimension, self.weights_sha256 = model.name, model.dimension, model.weights_sha256
        self.vectors = vectors
        self.alias = alias
        self.rng = np.random.default_rng(SEED)
        self.seen: set[str] = set()  # across calls: the builder embeds in blocks

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = sorted({self.alias.get(t, t) for t in texts} - set(self.vectors))
        if missing:  # not expected (the cache holds every real text), but never guess a vector
            self.vectors.update(zip(missing, self.model.embed(missing), strict=True))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        seen = self.seen
        moved = []
        for i, text in enumerate(texts):
            original = self.alias.get(text, text)
            out[i] = self.vectors[original]
            if original != text or text in seen:
                moved.append(i)
            seen.add(text)
        for start in range(0, len(moved), 100_000):
            idx = np.asarray(moved[start : start + 100_000])
            step = self.rng.standard_normal((len(idx), self.dimension)).astype(np.float32)
            step *= NOISE / np.linalg.norm(step, axis=1, keepdims=True)
            block = out[idx] + step
            out[idx] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.model.embed_query(text)


def _build_texts(chunks: list) -> list[str]:
    """What a full build embeds, in the builder's order: passages, then sentences, then headings."""
    return ([c.embed_text for c in chunks] + [s for c in chunks for s in c.sentences]
            + [c.heading or c.title for c in chunks])


class Bench:
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
            from guide.embeddings import Embedder

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
            from guide.chunking import Chunker
            from guide.knowledge import load_documents

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
        from guide.knowledge import load_documents

        return {a: [d.id] for d in load_documents(self.kb) if d.kind == "inspection" for a in d.aliases}

    def corpus_key(self, size: int | str) -> str:
        from guide.chunking import CHUNK_FORMAT_VERSION
        from guide.index import MANIFEST_VERSION

        digest = hashlib.sha256()
        for part in (str(size), str(NOISE), str(SEED), CHUNK_FORMAT_VERSION, str(MANIFEST_VERSION),
                     *sorted(c.id for c in self.real_chunks)):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()[:16]

    def ensure_corpus(self, size: int | str, chroma_url: str = "") -> dict:
        """Build (or reuse) the index of one corpus size; returns where it is and how the build went."""
        from guide.index import IndexBuilder, read_server_manifest

        label = _size_label(size)
        key = self.corpus_key(size)
        data_dir = self.work / (f"server-{label}" if chroma_url else f"corpus-{label}")
        collection = f"bench-{label}" if chroma_url else "send_guide"
        info = {"size": size, "label": label, "data_dir": str(data_dir), "collection": collection,
                "chroma_url": chroma_url}
        if chroma_url:
            from guide.index import make_chroma_client

            manifest = read_server_manifest(make_chroma_client(None, chroma_url), collection)
        else:
            path = data_dir / "index" / "current" / "manifest.json"
            manifest = json.loads(path.read_text()) if path.exists() else None
        if manifest and manifest.get("bench_corpus") == key and not self.args.fresh:
            return {**info, "chunks": manifest.get("chunks"), "reused": True}
        if size == "real":
            chunks, alias, copies = list(self.real_chunks), {}, 0
        else:
            chunks, alias, copies = expand_corpus(self.real_chunks, int(size))
        if not chroma_url:
            shutil.rmtree(data_dir, ignore_errors=True)
        embedder = ReusedEmbedder(self.model, self.real_vectors(), alias)
        cfg = self.config(data_dir)
        print(f"  building the {label} corpus ({len(chunks)} chunks{', on the Chroma server' if chroma_url else ''})"
              " ...", flush=True)
        start = time.perf_counter()
        report = IndexBuilder(cfg.index_path, embedder, collection, chroma_url).build(
            chunks, rebuild=True, extra_manifest={"aliases": self.aliases(), "bench_corpus": key})
        seconds = time.perf_counter() - start
        return {**info, "chunks": len(chunks), "copies": copies, "reused": False, "build_s": round(seconds, 2),
                "index_write_chunks_per_s": round(len(chunks) / seconds, 1),
                "build_timings": {k: round(v, 2) for k, v in report.timings.items()}}

    def measure(self, corpus: dict, fresh_data_dir: bool = False) -> dict:
        """Warm latencies of one corpus, in a fresh process (so open time and RSS are its own)."""
        data_dir = Path(corpus["data_dir"])
        if fresh_data_dir:
            # A worker with only GUIDE_CHROMA_URL: no local build folder to start from.
            data_dir = self.work / f"worker-{corpus['label']}"
            shutil.rmtree(data_dir, ignore_errors=True)
        spec = {"knowledge_dir": str(self.kb), "data_dir": str(data_dir), "chroma_url": corpus["chroma_url"],
                "collection": corpus["collection"], "dataset": str(self.args.dataset), "repeats": self.args.repeats,
                "cases": self.args.cases}
        out = self.work / f"measure-{corpus['label']}{'-server' if corpus['chroma_url'] else ''}.json"
        out.unlink(missing_ok=True)
        result = subprocess.run([sys.executable, "-m", "evals.bench", "measure", json.dumps(spec), str(out)],
                                cwd=PROJECT_ROOT, env=_child_env(), capture_output=True, text=True, timeout=7200)
        if result.returncode != 0 or not out.exists():
            raise RuntimeError(f"measuring {corpus['label']} failed:\n{result.stderr[-3000:]}")
        return {**json.loads(out.read_text()), "corpus": corpus}

    # --- sections -----------------------------------------------------------------------------------------------
    def run_build(self) -> None:
        from guide.core import build_index

        chunks = self.real_chunks
        texts = _build_texts(chunks)
        model = self.model
        batch = model.batch_size

        def raw() -> float:
            start = time.perf_counter()
            vectors = model.encode_raw(texts, batch)
            seconds = time.perf_counter() - start
            if self._vectors is None:
                self._vectors = dict(zip(texts, vectors.astype(np.float32), strict=True))
            return len(texts) / seconds

        model.embed(texts[:64])  # warm up
        # Raw and build runs alternate (raw, build, raw, build, raw) so load from elsewhere on the machine hits both
        # alike; the share compares medians.
        data = self.work / "real"
        cfg = self.config(data)
        raws, builds, report = [], [], None
        for _ in range(max(1, self.args.build_repeats)):
            print(f"  raw embedding throughput ({len(texts)} texts), then a full build ...", flush=True)
            raws.append(raw())
            shutil.rmtree(data, ignore_errors=True)
            start = time.perf_counter()
            report = build_index(cfg, model, rebuild=True)
            builds.append(time.perf_counter() - start)
        raws.append(raw())
        raw_tps = statistics.median(raws)
        full_s = statistics.median(builds)
        build_tps = len(texts) / full_s

        # One document changes: a sentence is added to its first section.
        doc = sorted((self.kb / "guidance").glob("*.md"))[0]
        original = doc.read_text()
        head, sep, rest = original.partition("\n## ")
        changed = head + sep + rest.replace("\n\n", "\n\nThis sentence was added by the benchmark.\n\n", 1)
        doc.write_text(changed)
        start = time.perf_counter()
        inc = build_index(cfg, model)
        inc_s = time.perf_counter() - start
        # The same change again, as a whole `guide index` process (imports and model load included). A first run
        # with nothing changed prepares what every later run finds (the ONNX graph in the data folder's cache).
        command = [sys.executable, "-m", "guide", "index"]
        cli_env = _child_env(GUIDE_DATA_DIR=data, GUIDE_KNOWLEDGE_DIR=self.kb)
        subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, env=cli_env, timeout=900)
        doc.write_text(original)
        start = time.perf_counter()
        cli = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, env=cli_env, timeout=900)
        cli_s = time.perf_counter() - start
        self.results["build"] = {
            "chunks": len(chunks), "texts": len(texts), "batch_size": batch,
            "raw_texts_per_s": round(raw_tps, 1), "raw_runs": [round(r, 1) for r in raws],
            "full_build_s": round(full_s, 2), "full_build_runs_s": [round(b, 2) for b in builds],
            "build_texts_per_s": round(build_tps, 1),
            "build_chunks_per_s": round(len(chunks) / full_s, 1), "share_of_raw": round(build_tps / raw_tps, 3),
            "full_build_timings": {k: round(v, 2) for k, v in report.timings.items()},
            "full_build_embed_s": round(report.embed_seconds, 2),
            "incremental_s": round(inc_s, 2), "incremental_embedded_chunks": inc.embedded_chunks,
            "incremental_reused_chunks": inc.reused_chunks, "incremental_document": doc.name,
            "incremental_timings": {k: round(v, 2) for k, v in inc.timings.items()},
            "cli_index_after_change_s": round(cli_s, 2), "cli_ok": cli.returncode == 0,
        }

    def ensure_real_index(self) -> Path:
        data = self.work / "real"
        if not (data / "index" / "current" / "manifest.json").exists():
            from guide.core import build_index

            build_index(self.config(data), self.model)
        return data

    def run_scale(self) -> None:
        sizes: list[int | str] = ["real", *[int(s) for s in self.args.sizes.split(",") if s.strip()]]
        points = []
        for size in sizes:
            corpus = (self.ensure_corpus(size) if size != "real"
                      else {"size": "real", "label": "real", "data_dir": str(self.ensure_real_index()),
                            "collection": "send_guide", "chroma_url": "", "chunks": len(self.real_chunks)})
            print(f"  measuring {corpus['label']} ...", flush=True)
            points.append(self.measure(corpus))
            self._checkpoint()
        self.results["scale"] = points

    def run_server(self) -> None:
        from guide.chroma_server import ChromaServer
        from guide.core import build_index

        sizes = [s.strip() for s in self.args.server_sizes.split(",") if s.strip()]
        out: dict = {"points": []}
        with ChromaServer(self.work / "chroma-server", log_path=self.work / "chroma-server.log") as server:
            out["url"] = server.url
            for size in sizes:
                size = size if size == "real" else int(size)
                corpus = self.ensure_corpus(size, chroma_url=server.url)
                print(f"  measuring {corpus['label']} on the Chroma server ...", flush=True)
                point = self.measure(corpus, fresh_data_dir=True)
                embedded = next((p for p in self.results.get("scale", []) if p["corpus"]["size"] == size), None)
                out["points"].append({"server": point, "embedded": embedded})
                self._checkpoint()
            # Incremental rebuild on the server: the real knowledge base, then one document changed.
            cfg = self.config(self.work / "server-incremental", chroma_url=server.url, collection="bench-incremental")
            shutil.rmtree(cfg.data_dir, ignore_errors=True)
            self.ensure_corpus_real_on(cfg)
            doc = sorted((self.kb / "guidance").glob("*.md"))[1]
            original = doc.read_text()
            doc.write_text(original + "\n## Is this a benchmark section?\n\nYes, the benchmark added it.\n")
            try:
                start = time.perf_counter()
                report = build_index(cfg, self.model)
                out["incremental_s"] = round(time.perf_counter() - start, 2)
                out["incremental_timings"] = {k: round(v, 2) for k, v in report.timings.items()}
            finally:
                doc.write_text(original)
        self.results["server"] = out

    def ensure_corpus_real_on(self, cfg) -> None:
        """The real knowledge base on the server (vectors from this run's model pass, so no second embedding)."""
        from guide.index import IndexBuilder

        embedder = ReusedEmbedder(self.model, self.real_vectors(), {})
        IndexBuilder(cfg.index_path, embedder, cfg.collection, cfg.chroma_url).build(
            list(self.real_chunks), rebuild=True, extra_manifest={"aliases": self.aliases()})

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
        from guide.chroma_server import free_port

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

    def run_load(self) -> None:
        from evals.dataset import load_dataset
        from guide.chroma_server import ChromaServer, free_port

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

    # --- report -------------------------------------------------------------------------------------------------
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


_TIMED_RUN = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(json.loads(sys.argv[1]), capture_output=True, text=True)
print(json.dumps({"s": time.perf_counter() - start, "returncode": done.returncode, "stdout": done.stdout,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def _stop(proc: subprocess.Popen) -> None:
    """Stop a server this benchmark started (its own process group), politely first."""
    from guide.chroma_server import stop_process_group

    stop_process_group(proc, timeout=20)


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


def measure_main(spec: dict, out: Path) -> None:
    """The child process of `Bench.measure`: open the guide, then time it warm."""
    t0 = time.perf_counter()
    from evals.dataset import load_dataset
    from evals.metrics import key_facts
    from guide.config import Config
    from guide.core import Guide
    from guide.embeddings import Embedder

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


def main(args: argparse.Namespace) -> int:
    if args.quick:
        args.sizes, args.server_sizes, args.repeats = "1000,10000", "1000", 1
        args.cases = args.cases or 40
        args.clients, args.load_seconds, args.cold_repeats, args.build_repeats = "10,50", 8.0, 2, 1
    for noisy in ("httpx", "chromadb", "bm25s", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not hasattr(args, "knowledge_dir"):
        args.knowledge_dir = None
    return Bench(args).run()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "measure":
        measure_main(json.loads(sys.argv[2]), Path(sys.argv[3]))
        sys.exit(0)
    parser = argparse.ArgumentParser(prog="python -m evals.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--knowledge-dir")
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
