"""The server section: the same corpora on a Chroma server."""

from __future__ import annotations

import shutil
import time

from .corpus import ReusedEmbedder


class ServerSection:
    """Mixed into `Bench` (runner.py), which supplies the shared pieces."""

    def run_server(self) -> None:
        from guide.core import build_index
        from guide.index.chroma_server import ChromaServer

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
        from guide.index.build import IndexBuilder

        embedder = ReusedEmbedder(self.model, self.real_vectors(), {})
        IndexBuilder(cfg.index_path, embedder, cfg.collection, cfg.chroma_url).build(
            list(self.real_chunks), rebuild=True, extra_manifest={"aliases": self.aliases()})

