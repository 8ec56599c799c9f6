"""`guide eval`: run a dataset through `Guide.ask`, score every case, write reports, enforce thresholds."""

from __future__ import annotations

import argparse
import json
import logging
import time
import tomllib
from pathlib import Path

from . import judge
from .dataset import Case, DatasetError, load_dataset
from .metrics import citation_scores, key_facts, relevant_docs, retrieval_scores, wrong_facts
from .report import by_category, compare, markdown, summarise

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_DATASET = EVALS_DIR / "datasets" / "public.jsonl"
DEFAULT_THRESHOLDS = EVALS_DIR / "thresholds.toml"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="a JSONL dataset (see evals/README.md)")
    parser.add_argument("--out", type=Path, default=Path("artifacts/eval"), help="folder for the reports")
    parser.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS)
    parser.add_argument("--no-thresholds", action="store_true", help="report only; always exit 0")
    parser.add_argument("--baseline", type=Path, help="an earlier report.json to compare with, case by case")
    parser.add_argument("--category", help="only cases whose category starts with this")
    parser.add_argument("--limit", type=int, help="only the first N cases")
    parser.add_argument("--judge", action="store_true",
                        help="also ask an LLM judge (needs GUIDE_JUDGE_URL and GUIDE_JUDGE_MODEL; off by default)")


def load_thresholds(path: Path) -> dict:
    try:
        return tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read thresholds: {exc}") from exc


def run_case(guide, case: Case, doc_urls: dict[str, list[str]], support_threshold: float) -> dict:
    history: list[dict] = []
    latencies = []
    reply = None
    for turn in case.turns:
        start = time.perf_counter()
        reply = guide.ask(turn, history=history)
        latencies.append((time.perf_counter() - start) * 1000)
        history += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply.text}]
    assert reply is not None
    found, total, missing = key_facts(reply.text, case)
    wrong = wrong_facts(reply.text, case)
    behaviour_ok = reply.behaviour == case.expected_behaviour
    retrieval = retrieval_scores(reply.retrieved, relevant_docs(case, doc_urls)) \
        if case.expected_behaviour == "answer" else None
    cites = citation_scores(reply, guide.embedder.embed, support_threshold)
    fully = found == total and not wrong and behaviour_ok
    return {
        "id": case.id, "category": case.category, "turns": list(case.turns),
        "expected_behaviour": case.expected_behaviour, "behaviour": reply.behaviour, "reason": reply.reason,
        "behaviour_ok": behaviour_ok, "facts_found": found, "facts_total": total, "missing_facts": missing,
        "wrong_facts": wrong, "fully_correct": fully, "retrieval": retrieval, "citations": cites,
        "answer": reply.text, "answer_words": len(reply.text.split()),
        "citation_list": [c.to_dict() for c in reply.citations], "retrieved": reply.retrieved,
        "latencies_ms": [round(x, 1) for x in latencies], "reference_answer": case.reference_answer,
        "passed": fully and not cites["dangling_markers"],
    }


def check_thresholds(summary: dict, thresholds: dict) -> list[str]:
    failures = []
    for key, limit in thresholds.items():
        if key.startswith("min_"):
            value = summary.get(key[4:])
            if value is not None and value < limit:
                failures.append(f"{key[4:]} = {value:.3f} is below the minimum {limit}")
        elif key.startswith("max_"):
            value = summary.get(key[4:])
            if value is not None and value > limit:
                failures.append(f"{key[4:]} = {value:.3f} is above the maximum {limit}")
    return failures


def evaluate(guide, cases: list[Case], thresholds: dict, dataset: str = "", baseline: Path | None = None,
             use_judge: bool = False) -> dict:
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    t0 = time.perf_counter()
    doc_urls = {d.id: d.urls for d in guide.load_documents()}
    support = float(thresholds.get("support_threshold", 0.6))
    results = [run_case(guide, case, doc_urls, support) for case in cases]
    if use_judge:
        judge.judge_results(results)
    summary = summarise(results)
    gates = {k: v for k, v in thresholds.items() if k.startswith(("min_", "max_"))}
    failures = check_thresholds(summary, gates)
    report = {
        "dataset": dataset, "started": started, "seconds": time.perf_counter() - t0,
        "config": {k: str(v) for k, v in vars(guide.config).items()},
        "index": {k: guide.store.manifest.get(k) for k in ("build_id", "embedding_model", "dimension")},
        "summary": summary, "categories": by_category(results),
        "thresholds": {k[4:]: v for k, v in gates.items()}, "thresholds_file": "", "failures": failures,
        "passed": not failures, "cases": results,
    }
    if baseline:
        report["baseline"] = str(baseline)
        report["regressions"] = compare(results, baseline)
    return report


def write_reports(report: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "report.json", out / "report.md"
    json_path.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str))
    md_path.write_text(markdown(report))
    return json_path, md_path


def main(args: argparse.Namespace) -> int:
    from guide.config import Config
    from guide.core import Guide

    try:
        cases = load_dataset(args.dataset)
        thresholds = {} if args.no_thresholds else load_thresholds(args.thresholds)
    except DatasetError as exc:
        print(f"error: {exc}")
        return 2
    if args.category:
        cases = [c for c in cases if c.category.startswith(args.category)]
    if args.limit:
        cases = cases[: args.limit]
    guide = Guide(Config.from_args(args))
    guide.build_index()  # evaluate the knowledge base as it is now (only changed passages are re-embedded)
    report = evaluate(guide, cases, thresholds, dataset=str(args.dataset), baseline=args.baseline,
                      use_judge=args.judge)
    report["thresholds_file"] = "" if args.no_thresholds else str(args.thresholds)
    json_path, md_path = write_reports(report, args.out)
    s = report["summary"]
    print(f"{s['cases']} cases: key-fact recall {s['key_fact_recall']:.2f}, fully correct {s['fully_correct']:.2f}, "
          f"wrong facts {s['wrong_fact_hits']}, behaviour {s['behaviour_accuracy']:.2f}, hit@5 "
          f"{s['hit_at_5'] if s['hit_at_5'] is None else round(s['hit_at_5'], 2)}, citation support "
          f"{s['citation_support'] if s['citation_support'] is None else round(s['citation_support'], 2)}, "
          f"p50 {s['latency_p50_ms']:.0f} ms, p95 {s['latency_p95_ms']:.0f} ms")
    print(f"Reports: {json_path} and {md_path}")
    if report.get("regressions"):
        print(f"{len(report['regressions'])} regressions against {args.baseline}:")
        for r in report["regressions"]:
            print(f"  {r['id']}: {'; '.join(r['changes'])}")
    for failure in report["failures"]:
        print(f"THRESHOLD FAILED: {failure}")
    return 0 if report["passed"] or args.no_thresholds else 1
