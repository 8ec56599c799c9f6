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
        "median_answer_words": statistics.median(r["answer_words"] for r in answers) if answers else 0,
    }


def tradeoff(results: list[dict]) -> dict:
    """What the guide did with the cases that should be answered, and with those that should be clarified.

    "Some" and "none" count key facts of the final answer; an expected answer with no required facts that is
    answered counts as "all". Every case lands in exactly one bucket of its group.
    """
    answer = {"cases": 0, "answered_all_facts": 0, "answered_some_facts": 0, "answered_no_facts": 0,
              "clarified": 0, "signposted_or_declined": 0}
    clarify = {"cases": 0, "clarified": 0, "answered": 0, "signposted_or_declined": 0}
    for r in results:
        if r["expected_behaviour"] == "answer":
            answer["cases"] += 1
            if r["behaviour"] == "answer":
                found, total = r["facts_found"], r["facts_total"]
                answer["answered_all_facts" if found == total else
                       "answered_some_facts" if found else "answered_no_facts"] += 1
            elif r["behaviour"] == "clarify":
                answer["clarified"] += 1
            else:
                answer["signposted_or_declined"] += 1
        elif r["expected_behaviour"] == "clarify":
            clarify["cases"] += 1
            key = r["behaviour"] if r["behaviour"] in ("clarify", "answer") else "signposted_or_declined"
            clarify["clarified" if key == "clarify" else "answered" if key == "answer" else key] += 1
    return {"expected_answer": answer, "expected_clarify": clarify}


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
    lines += ["", "## Clarify trade-off", "", *tradeoff_lines(report["tradeoff"])]
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


# The side-by-side summary: one row per dataset, the compact per-category tables, the trade-off.
SIDE_BY_SIDE = (
    ("cases", "cases"), ("key-fact recall", "key_fact_recall"), ("fully correct", "fully_correct"),
    ("behaviour", "behaviour_accuracy"), ("wrong facts", "wrong_fact_hits"), ("hit@5", "hit_at_5"),
    ("citation support", "citation_support"), ("median words", "median_answer_words"),
    ("p50 ms", "latency_p50_ms"), ("p95 ms", "latency_p95_ms"),
)


def _cell(summary: dict, key: str) -> str:
    value = summary.get(key)
    if value is None and key == "median_answer_words":  # reports written before the rename
        value = summary.get("answer_words_median")
    if key in ("latency_p50_ms", "latency_p95_ms", "median_answer_words") and value is not None:
        return f"{value:.0f}"
    return _fmt(value)


def tradeoff_lines(t: dict, label: str = "") -> list[str]:
    a, c = t["expected_answer"], t["expected_clarify"]
    head = f"{label} " if label else ""
    lines = [
        "| " + head + "expected answer | cases | answered, every key fact | answered, some | answered, none "
        "(wrong) | clarified | signposted or declined |",
        "|---|---|---|---|---|---|---|",
        f"| {head}answer | {a['cases']} | {a['answered_all_facts']} | {a['answered_some_facts']} | "
        f"{a['answered_no_facts']} | {a['clarified']} | {a['signposted_or_declined']} |",
    ]
    if c["cases"]:
        lines += ["", "| " + head + "expected clarify | cases | clarified | answered | signposted or declined |",
                  "|---|---|---|---|---|",
                  f"| {head}clarify | {c['cases']} | {c['clarified']} | {c['answered']} | "
                  f"{c['signposted_or_declined']} |"]
    else:
        lines += ["", "No case expects `clarify`."]
    return lines


def summary_markdown(reports: list[dict]) -> str:
    """Every dataset of one run side by side (and each one's baseline, when the run had one)."""
    lines = ["# Evaluation summary", ""]
    first = reports[0] if reports else {}
    lines += [f"Run {first.get('started', '')}, index build {(first.get('index') or {}).get('build_id')}. "
              f"Reports per dataset in `<name>/report.md` and `<name>/report.json`.", ""]
    lines += ["| dataset | today | " + " | ".join(h for h, _ in SIDE_BY_SIDE) + " | gates |",
              "|---|---|" + "---|" * len(SIDE_BY_SIDE) + "---|"]
    for r in reports:
        base = r.get("baseline_summary")
        if base:
            lines.append(f"| {r['name']} (baseline) | | " + " | ".join(_cell(base, k) for _, k in SIDE_BY_SIDE)
                         + " | |")
        gates = "-" if not r["thresholds"] else ("PASS" if r["passed"] else f"FAIL ({len(r['failures'])})")
        lines.append(f"| {r['name']} | {r.get('today') or 'real'} | "
                     + " | ".join(_cell(r["summary"], k) for _, k in SIDE_BY_SIDE) + f" | {gates} |")
    failed = [(r["name"], f) for r in reports for f in r["failures"]]
    if failed:
        lines += ["", "Threshold failures:", *[f"- {name}: {f}" for name, f in failed]]
    for r in reports:
        lines += ["", f"## {r['name']}: clarify trade-off", ""]
        if r.get("baseline_tradeoff"):
            lines += ["Baseline:", "", *tradeoff_lines(r["baseline_tradeoff"]), "", "Now:", ""]
        lines += tradeoff_lines(r["tradeoff"])
    for r in reports:
        lines += ["", f"## {r['name']}: by category", "",
                  "| category | cases | key-fact recall | fully correct | behaviour | hit@5 |",
                  "|---|---|---|---|---|---|"]
        for name, c in r["categories"].items():
            lines.append(f"| {name} | {c['cases']} | {_fmt(c['key_fact_recall'])} | {_fmt(c['fully_correct'])} | "
                         f"{_fmt(c['behaviour_accuracy'])} | {_fmt(c['hit_at_5'])} |")
        if r.get("regressions") is not None:
            lines += ["", f"{len(r['regressions'])} regressions against {r.get('baseline')}"
                      + (" (see its report.md)." if r["regressions"] else ".")]
    return "\n".join(lines) + "\n"
