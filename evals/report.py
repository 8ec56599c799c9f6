"""Aggregate case results into tables, compare with a baseline, and write the JSON and Markdown reports."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarise(results: list[dict]) -> dict:
    """The headline metrics over a set of case results."""
    facts_found = sum(r["facts_found"] for r in results)
    facts_total = sum(r["facts_total"] for r in results)
    retrieval = [r["retrieval"] for r in results if r["retrieval"]]
    cites = [r["citations"] for r in results]
    checked = sum(c["support_checked"] for c in cites)
    latencies = [t for r in results for t in r["latencies_ms"]]
    answers = [r for r in results if r["behaviour"] == "answer"]
    return {
        "cases": len(results),
        "key_fact_recall": facts_found / facts_total if facts_total else 1.0,
        "fully_correct": sum(1 for r in results if r["fully_correct"]) / len(results) if results else 0.0,
        "wrong_fact_hits": sum(len(r["wrong_facts"]) for r in results),
        "behaviour_accuracy": sum(1 for r in results if r["behaviour_ok"]) / len(results) if results else 0.0,
        "retrieval_cases": len(retrieval),
        "hit_at_5": sum(1 for x in retrieval if x["hit_at_k"]) / len(retrieval) if retrieval else None,
        "mrr": statistics.fmean(x["mrr"] for x in retrieval) if retrieval else None,
        "dangling_markers": sum(len(c["dangling_markers"]) for c in cites),
        "citation_support": sum(c["supported"] for c in cites) / checked if checked else None,
        "uncited_factual_sentences": sum(len(c["uncited_factual_sentences"]) for c in cites),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
        "answer_words_median": statistics.median(r["answer_words"] for r in answers) if answers else 0,
    }


def by_category(results: list[dict]) -> dict[str, dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        groups[r["category"]].append(r)
    return {name: summarise(items) for name, items in sorted(groups.items())}


def compare(results: list[dict], baseline_path: Path) -> list[dict]:
    """Cases that got worse since the baseline report."""
    baseline = {c["id"]: c for c in json.loads(Path(baseline_path).read_text())["cases"]}
    regressions = []
    for r in results:
        old = baseline.get(r["id"])
        if not old:
            continue
        what = []
        if old["fully_correct"] and not r["fully_correct"]:
            what.append("no longer fully correct")
        if r["facts_found"] < old["facts_found"]:
            what.append(f"key facts {old['facts_found']} -> {r['facts_found']}")
        if len(r["wrong_facts"]) > len(old["wrong_facts"]):
            what.append(f"new wrong facts: {r['wrong_facts']}")
        if old["behaviour_ok"] and not r["behaviour_ok"]:
            what.append(f"behaviour {old['behaviour']} -> {r['behaviour']}")
        if (old.get("retrieval") or {}).get("hit_at_k") and not (r.get("retrieval") or {}).get("hit_at_k"):
            what.append("relevant document no longer retrieved")
        if what:
            regressions.append({"id": r["id"], "category": r["category"], "changes": what})
    return regressions


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if value <= 1.0 else f"{value:.0f}"
    return str(value)


def markdown(report: dict) -> str:
    s = report["summary"]
    lines = [
        f"# Evaluation report: {report['dataset']}",
        "",
        f"Run {report['started']} on {s['cases']} cases in {report['seconds']:.0f} s. "
        f"Thresholds: {report['thresholds_file']} - **{'PASS' if report['passed'] else 'FAIL'}**.",
        "",
        "| metric | value | threshold |",
        "|---|---|---|",
    ]
    for key, value in s.items():
        limit = report["thresholds"].get(key)
        lines.append(f"| {key} | {_fmt(value)} | {_fmt(limit) if limit is not None else ''} |")
    if report["failures"]:
        lines += ["", "Threshold failures:", *[f"- {f}" for f in report["failures"]]]
    lines += ["", "## By category", "",
              "| category | cases | key-fact recall | fully correct | wrong facts | behaviour | hit@5 | MRR |"
              " support | p95 ms |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, c in report["categories"].items():
        lines.append(
            f"| {name} | {c['cases']} | {_fmt(c['key_fact_recall'])} | {_fmt(c['fully_correct'])} | "
            f"{c['wrong_fact_hits']} | {_fmt(c['behaviour_accuracy'])} | {_fmt(c['hit_at_5'])} | "
            f"{_fmt(c['mrr'])} | {_fmt(c['citation_support'])} | {_fmt(c['latency_p95_ms'])} |"
        )
    if report.get("regressions") is not None:
        lines += ["", f"## Regressions against {report.get('baseline')}", ""]
        lines += [f"- {r['id']} ({r['category']}): {'; '.join(r['changes'])}" for r in report["regressions"]] or [
            "None."]
    failing = [c for c in report["cases"] if not c["passed"]]
    lines += ["", f"## Failing cases ({len(failing)})", ""]
    for c in failing:
        lines += [
            f"### {c['id']} - {c['category']}",
            "",
            *[f"> **Parent:** {t}" for t in c["turns"]],
            "",
            f"Behaviour: {c['behaviour']} (expected {c['expected_behaviour']}, reason {c['reason']}). "
            f"Key facts {c['facts_found']}/{c['facts_total']}"
            + (f"; missing {c['missing_facts']}" if c["missing_facts"] else "")
            + (f"; **wrong facts {c['wrong_facts']}**" if c["wrong_facts"] else "")
            + (f"; retrieval {c['retrieval']}" if c["retrieval"] else ""),
            "",
            "Answer:",
            "",
            *["    " + line for line in c["answer"].splitlines()],
            "",
            *[f"- [{x['n']}] {x['title']} - {x['heading']} <{x['url']}>" for x in c["citation_list"]],
            "",
        ]
    return "\n".join(lines) + "\n"
