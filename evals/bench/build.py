"""The build section: raw embedding throughput, full builds and an incremental rebuild."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

from .common import PROJECT_ROOT, _child_env
from .corpus import _build_texts


class BuildSection:
    """Mixed into `Bench` (runner.py), which supplies the shared pieces."""

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

