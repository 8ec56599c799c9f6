"""The synthetic 1k/10k/100k corpora: the real knowledge base plus Local Offer copies with reused vectors."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .common import NOISE, PROJECT_ROOT, SEED, _child_env, _size_label


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
    """What a full build embeds: passages, then sentences, then headings, then parents' phrasings (embedded once
    per distinct text)."""
    return ([c.embed_text for c in chunks] + [s for c in chunks for s in c.sentences]
            + [c.heading or c.title for c in chunks] + list(dict.fromkeys(p for c in chunks for p in c.phrasings)))



class CorpusBuilder:
    """Makes (and caches) an index of a given size for a benchmark section."""

    def ensure_corpus(self, size: int | str, chroma_url: str = "") -> dict:
        """Build (or reuse) the index of one corpus size; returns where it is and how the build went."""
        from guide.index.build import IndexBuilder
        from guide.index.layout import read_server_manifest

        label = _size_label(size)
        key = self.corpus_key(size)
        data_dir = self.work / (f"server-{label}" if chroma_url else f"corpus-{label}")
        collection = f"bench-{label}" if chroma_url else "send_guide"
        info = {"size": size, "label": label, "data_dir": str(data_dir), "collection": collection,
                "chroma_url": chroma_url}
        if chroma_url:
            from guide.index.layout import make_chroma_client

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

