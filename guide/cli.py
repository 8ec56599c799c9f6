"""The `guide` command: index, ask, serve, knowledge check, eval, bench."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from .config import Config, ConfigError


def cmd_index(args) -> int:
    from .core import build_index
    from .index.embeddings import Embedder

    config = Config.from_args(args)
    start = time.perf_counter()
    embedder = Embedder(config.embedding_model, config.embedding_sha256, config.embedding_batch_size)
    load = time.perf_counter() - start
    report = build_index(config, embedder, rebuild=args.rebuild)
    for doc_id in report.added_docs:
        print(f"Added document: {doc_id}")
    for doc_id in report.removed_docs:
        print(f"Removed document: {doc_id} (its file is no longer in {config.knowledge_dir})")
    if report.unchanged:
        print(f"Index is up to date: {report.chunks} chunks from {config.knowledge_dir} ({report.seconds:.1f} s).")
    else:
        print(
            f"Built index at {config.index_path}: {report.chunks} chunks "
            f"({report.embedded_chunks} embedded with {report.embedded_sentences} sentences and headings, "
            f"{report.reused_chunks} reused, {report.removed_chunks} removed) in {report.seconds:.1f} s "
            f"(embedding {report.embed_seconds:.1f} s; model load {load:.1f} s)."
        )
    return 0


def _print_reply(reply, as_json: bool) -> None:
    if as_json:
        print(json.dumps(reply.to_dict(), indent=2, ensure_ascii=False))
        return
    print(reply.text)
    if reply.citations:
        print("\nSources:")
        for c in reply.citations:
            heading = f" - {c.heading}" if c.heading else ""
            print(f"  [{c.n}] {c.title}{heading}\n      {c.url}")
    print(f"\n({reply.behaviour}; {reply.timings.get('total', 0):.0f} ms)")


def cmd_ask(args) -> int:
    from .core import Guide

    guide = Guide(Config.from_args(args))
    history = json.loads(Path(args.history).read_text()) if args.history else None
    _print_reply(guide.ask(args.question, history=history), args.json)
    return 0


def cmd_chat(args) -> int:
    from .core import Guide

    guide = Guide(Config.from_args(args))
    history: list[dict] = []
    print("Ask about SEND in England. An empty line ends the chat.")
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            break
        if not question:
            break
        reply = guide.ask(question, history=history)
        _print_reply(reply, False)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": reply.text}]
    return 0


def cmd_serve(args) -> int:
    from .serve.api import serve

    serve(Config.from_args(args), host=args.host, port=args.port)
    return 0


def cmd_feedback_export(args) -> int:
    from .serve.feedback import FeedbackError, FeedbackStore, open_private

    try:
        store = FeedbackStore.from_config(Config.from_args(args))
        if not args.output:
            store.export(sys.stdout, args.format)
            return 0
        store.rows()  # a store that cannot be read fails before the file is made
        with open_private(args.output) as out:
            count = store.export(out, args.format)
    except FeedbackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Exported {count} feedback rows to {args.output}.", file=sys.stderr)
    return 0


def cmd_knowledge_check(args) -> int:
    from .knowledge.check import run_check

    return run_check(Config.from_args(args).knowledge_dir, as_json=args.json, min_median=args.min_median)


def cmd_eval(args) -> int:
    from evals.run import main as eval_main

    return eval_main(args)


def cmd_bench(args) -> int:
    from evals.bench import main as bench_main

    return bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guide", description="SEND process guide for parents and carers in England")
    parser.add_argument("--knowledge-dir", help="knowledge folder (default: GUIDE_KNOWLEDGE_DIR or ./knowledge)")
    parser.add_argument("--data-dir", help="data folder for the index and caches (default: GUIDE_DATA_DIR or ./data)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the guide does")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or update the search index from the knowledge folder")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything (needed after changing the model)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer one question with its sources")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the reply as JSON")
    p.add_argument("--history", help="a JSON file with earlier turns: [{role, content}, ...]")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("serve", help="run the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("feedback", help="feedback parents gave on answers")
    fsub = p.add_subparsers(dest="feedback_command", required=True)
    f = fsub.add_parser("export", help="write every feedback row (personal data already redacted)")
    f.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    f.add_argument("--output", "-o", help="a file to write (default: standard output)")
    f.set_defaults(func=cmd_feedback_export)

    p = sub.add_parser("knowledge", help="knowledge base tools")
    ksub = p.add_subparsers(dest="knowledge_command", required=True)
    k = ksub.add_parser("check", help="validate every document and print the readability table")
    k.add_argument("--json", action="store_true")
    k.add_argument("--min-median", type=float, default=60.0, help="fail when the median Flesch score is lower")
    k.set_defaults(func=cmd_knowledge_check)

    p = sub.add_parser("eval", help="run the evaluation harness")
    try:
        from evals.run import add_arguments
    except ImportError:  # evals/ is not installed beside the package
        add_arguments = None
    if add_arguments:
        add_arguments(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="run the benchmarks and print the figures")
    try:
        from evals.bench import add_arguments as bench_arguments
    except ImportError:
        bench_arguments = None
    if bench_arguments:
        bench_arguments(p)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # -v wins; else GUIDE_LOG_LEVEL (checked when the command reads its Config).
    level = "INFO" if args.verbose else (os.environ.get("GUIDE_LOG_LEVEL") or "WARNING").upper()
    logging.basicConfig(level=level if level in logging.getLevelNamesMapping() else "WARNING",
                        format="%(levelname)s %(name)s: %(message)s")
    from .index.embeddings import EmbeddingModelError
    from .index.layout import IndexError_
    from .knowledge.documents import KnowledgeError
    from .offline import OfflineError

    try:
        return args.func(args)
    except (KnowledgeError, IndexError_, EmbeddingModelError, OfflineError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
