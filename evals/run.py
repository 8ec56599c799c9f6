"""`guide eval`: run a dataset through `Guide.ask`, score every case, write reports, enforce thresholds."""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
import tomllib
from pathlib import Path

from . import judge
from .dataset import Case, DatasetError, DatasetMeta, dataset_name, load_dataset, load_meta
from .metrics import EmbedCache, citation_scores, key_facts, relevant_docs, retrieval_scores, wrong_facts
from .report import by_category, compare, markdown, summarise, summary_markdown, tradeoff

EVALS_DIR = Path(__file__).resolve().parent
DATASETS_DIR = EVALS_DIR / "datasets"
DEFAULT_DATASET = DATASETS_DIR / "public.jsonl"
# What `guide eval` runs with no --dataset, in this order, in one process.
DEFAULT_DATASETS = tuple(DATASETS_DIR / f"{n}.jsonl" for n in ("public", "parents", "tools", "tools-areas-letters"))
DEFAULT_THRESHOLDS = EVALS_DIR / "thresholds.toml"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, action="append",
                        help="a JSONL dataset (see evals/README.md); repeat for several. Default: "
                             + ", ".join(p.name for p in DEFAULT_DATASETS))
    parser.add_argument("--out", type=Path, default=Path("artifacts/eval"),
                        help="folder for the reports: <dataset>/report.json, <dataset>/report.md, summary.md")
    parser.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS)
    parser.add_argument("--no-thresholds", action="store_true", help="report only; always exit 0")
    parser.add_argument("--baseline", type=Path,
                        help="an earlier --out folder (compared dataset by dataset) or one report.json")
    parser.add_argument("--category",
                        help="only cases whose category starts with this (datasets with none are skipped)")
    parser.add_argument("--limit", type=int, help="only the first N cases of each dataset")
    parser.add_argument("--judge", action="store_true",
                        help="also ask an LLM judge (needs GUIDE_JUDGE_URL and GUIDE_JUDGE_MODEL; off by default)")


def load_thresholds(path: Path, table: str | None = None) -> dict:
    """The thresholds file; with `table`, the gates for that dataset: the file's top-level keys (shared by every
    dataset) updated with its `[table]`."""
    try:
        doc = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read thresholds: {exc}") from exc
    return doc if table is None else thresholds_for(doc, table)


def thresholds_for(doc: dict, table: str) -> dict:
    shared = {k: v for k, v in doc.items() if not isinstance(v, dict)}
    own = doc.get(table)
    return {**shared, **own} if isinstance(own, dict) else shared


def run_case(guide, case: Case, doc_urls: dict[str, list[str]], support_threshold: float, embed=None) -> dict:
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
    cites = citation_scores(reply, embed or guide.embedder.embed, support_threshold)
    fully = found == total and not wrong and behaviour_ok
    return {
        "id": case.id, "category": case.category, "turns": list(case.turns),
        "expected_behaviour": case.expected_behaviour, "behaviour": reply.behaviour, "reason": reply.reason,
        "behaviour_ok": behaviour_ok, "facts_found": found, "facts_total": total, "missing_facts": missing,
        "wrong_facts": wrong, "fully_correct": fully, "retrieval": retrieval, "citations": cites,
        "answer": reply.text, "answer_words": answer_words(reply.text),
        "citation_list": [c.to_dict() for c in reply.citations], "retrieved": reply.retrieved,
        "latencies_ms": [round(x, 1) for x in latencies], "reference_answer": case.reference_answer,
        "passed": fully and not cites["dangling_markers"],
    }


_MARKER = re.compile(r"\s*\[\d{1,2}\]|\*\*")


def answer_words(text: str) -> int:
    """Words a parent reads: citation markers ("[1]") and bold markup are not words."""
    return len(_MARKER.sub(" ", text).split())


def check_thresholds(summary: dict, thresholds: dict) -> list[str]:
    failures = []
    for key, limit in thresholds.items():
        if key.startswith(("min_", "max_")) and key[4:] not in summary:
            # A misspelt gate would otherwise pass silently for ever.
            failures.append(f"{key}: no summary metric is called {key[4:]!r} (known: {', '.join(summary)})")
        elif key.startswith("min_"):
            value = summary.get(key[4:])
            if value is not None and value < limit:
                failures.append(f"{key[4:]} = {value:.3f} is below the minimum {limit}")
        elif key.startswith("max_"):
            value = summary.get(key[4:])
            if value is not None and value > limit:
                failures.append(f"{key[4:]} = {value:.3f} is above the maximum {limit}")
    return failures


def evaluate(guide, cases: list[Case], thresholds: dict, dataset: str = "", baseline: Path | None = None,
             use_judge: bool = False, embed: EmbedCache | None = None) -> dict:
    """One dataset's report, run on `guide` as it is (its config's today included)."""
    embed = embed or EmbedCache(guide.embedder.embed)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    t0 = time.perf_counter()
    doc_urls = {d.id: d.urls for d in guide.load_documents()}
    support = float(thresholds.get("support_threshold", 0.6))
    results = [run_case(guide, case, doc_urls, support, embed) for case in cases]
    if use_judge:
        judge.judge_results(results)
    summary = summarise(results)
    gates = {k: v for k, v in thresholds.items() if k.startswith(("min_", "max_"))}
    failures = check_thresholds(summary, gates)
    report = {
        "dataset": dataset, "started": started, "seconds": time.perf_counter() - t0,
        "config": {k: str(v) for k, v in vars(guide.config).items()},
        "index": {k: guide.store.manifest.get(k) for k in ("build_id", "embedding_model", "dimension")},
        "name": dataset_name(dataset) if dataset else "", "today": guide.config.today,
        "summary": summary, "categories": by_category(results), "tradeoff": tradeoff(results),
        "thresholds": {k[4:]: v for k, v in gates.items()}, "thresholds_file": "", "failures": failures,
        "passed": not failures, "cases": results,
    }
    if baseline:
        old = json.loads(Path(baseline).read_text())
        report["baseline"] = str(baseline)
        report["baseline_summary"] = old.get("summary") or summarise(old["cases"])
        report["baseline_tradeoff"] = tradeoff(old["cases"])
        report["regressions"] = compare(results, baseline)
    return report


class GuideClocks:
    """The guide for each "today" a dataset asks for: the given one, and one more per other date, sharing its
    embedding model and index (a second Guide opens the same build; about 0.2 s)."""

    def __init__(self, guide):
        self.base = guide
        self._by_today = {guide.config.today: guide}

    def for_today(self, today: str):
        if today == "" or today == self.base.config.today:
            return self.base
        if today not in self._by_today:
            self._by_today[today] = self.base.with_config(today=today)
        return self._by_today[today]


def baseline_for(baseline: Path | None, name: str, only_one: bool) -> Path | None:
    """The baseline report.json for dataset `name`: `<folder>/<name>/report.json`, or a folder's (or a file's)
    single report.json when it is of this dataset, or when this run has only one dataset."""
    if baseline is None:
        return None
    baseline = Path(baseline)
    if baseline.is_dir():
        if (baseline / name / "report.json").exists():
            return baseline / name / "report.json"
        baseline = baseline / "report.json"
    if not baseline.exists():
        return None
    try:
        old_name = dataset_name(json.loads(baseline.read_text()).get("dataset") or "")
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{baseline}: not a report.json of guide eval: {exc}") from exc
    return baseline if only_one or old_name == name else None


def evaluate_all(guide, datasets: list[tuple[DatasetMeta, list[Case]]], thresholds_doc: dict | None,
                 baseline: Path | None = None, use_judge: bool = False) -> list[dict]:
    """Every dataset on one guide (its clock set per dataset from the sidecar), each gated by its own table."""
    clocks = GuideClocks(guide)
    embed = EmbedCache(guide.embedder.embed)  # one model for every clock, so one cache for every dataset
    reports = []
    for meta, cases in datasets:
        gates = {} if thresholds_doc is None else thresholds_for(thresholds_doc, meta.thresholds)
        report = evaluate(clocks.for_today(meta.today), cases, gates, dataset=str(meta.dataset or meta.name),
                          baseline=baseline_for(baseline, meta.name, len(datasets) == 1), use_judge=use_judge,
                          embed=embed)
        report["name"] = meta.name
        report["thresholds_table"] = meta.thresholds if thresholds_doc is not None else ""
        if thresholds_doc is not None and meta.thresholds not in thresholds_doc:
            report["notes"] = [f"no [{meta.thresholds}] table in the thresholds file: only its shared gates apply"]
        reports.append(report)
    return reports


def write_reports(report: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "report.json", out / "report.md"
    json_path.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str))
    md_path.write_text(markdown(report))
    return json_path, md_path


def write_all(reports: list[dict], out: Path) -> Path:
    """`<out>/<name>/report.json` and `report.md` per dataset, and `<out>/summary.md` side by side."""
    for report in reports:
        write_reports(report, out / report["name"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(summary_markdown(reports))
    return out / "summary.md"


def main(args: argparse.Namespace) -> int:
    from guide.config import Config
    from guide.core import Guide

    paths = args.dataset or list(DEFAULT_DATASETS)
    try:
        datasets = []
        for path in paths:
            meta, cases = load_meta(path), load_dataset(path)
            if any(m.name == meta.name for m, _ in datasets):
                raise DatasetError(f"{path}: two datasets are called {meta.name!r}; their reports would share "
                                   f"{args.out / meta.name}: rename one file")
            if args.category:
                cases = [c for c in cases if c.category.startswith(args.category)]
            if args.limit:
                cases = cases[: args.limit]
            if cases:
                datasets.append((meta, cases))
        if not datasets:
            raise DatasetError(f"no case matches --category {args.category!r} in {', '.join(map(str, paths))}")
        thresholds_doc = None if args.no_thresholds else load_thresholds(args.thresholds)
        guide = Guide(Config.from_args(args))
        guide.build_index()  # evaluate the knowledge base as it is now (only changed passages are re-embedded)
        reports = evaluate_all(guide, datasets, thresholds_doc, baseline=args.baseline, use_judge=args.judge)
    except DatasetError as exc:
        print(f"error: {exc}")
        return 2
    for report in reports:
        report["thresholds_file"] = "" if args.no_thresholds else f"{args.thresholds} [{report['thresholds_table']}]"
    summary_path = write_all(reports, args.out)
    print(summary_path.read_text())
    print(f"Reports: {summary_path} and, per dataset, {args.out}/<name>/report.md and report.json")
    for report in reports:
        for note in report.get("notes", []):
            print(f"{report['name']}: {note}")
        if report.get("regressions"):
            print(f"{report['name']}: {len(report['regressions'])} regressions against {report['baseline']}:")
            for r in report["regressions"]:
                print(f"  {r['id']}: {'; '.join(r['changes'])}")
        for failure in report["failures"]:
            print(f"THRESHOLD FAILED ({report['name']}): {failure}")
    passed = all(r["passed"] for r in reports)
    return 0 if passed or args.no_thresholds else 1
