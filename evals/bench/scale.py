"""The scale section: warm `Guide.ask` and retrieval latency at the real size and at 1k, 10k and 100k chunks."""

from __future__ import annotations

from pathlib import Path


class ScaleSection:
    """Mixed into `Bench` (runner.py), which supplies the shared pieces."""

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

