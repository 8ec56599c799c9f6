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
import logging
from pathlib import Path

from .common import DEFAULT_DATASET, SECTIONS


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



def main(args: argparse.Namespace) -> int:
    if args.quick:
        args.sizes, args.server_sizes, args.repeats = "1000,10000", "1000", 1
        args.cases = args.cases or 40
        args.clients, args.load_seconds, args.cold_repeats, args.build_repeats = "10,50", 8.0, 2, 1
    for noisy in ("httpx", "chromadb", "bm25s", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not hasattr(args, "knowledge_dir"):
        args.knowledge_dir = None
    from .runner import Bench

    return Bench(args).run()

