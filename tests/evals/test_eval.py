"""The evaluation harness: any dataset in the format, every metric, the side-by-side report, dataset sidecars, and
the release gates on every shipped dataset."""

import json
from pathlib import Path

import numpy as np
import pytest

from evals.dataset import DatasetError, load_dataset, load_meta
from evals.metrics import EmbedCache, citation_scores, key_facts, normalise_url, retrieval_scores, wrong_facts
from evals.run import (
    DEFAULT_DATASET,
    DEFAULT_DATASETS,
    DEFAULT_THRESHOLDS,
    check_thresholds,
    evaluate,
    evaluate_all,
    load_thresholds,
    write_all,
    write_reports,
)

CASE = {"id": "t-1", "category": "in_scope/timescales", "turns": ["How long does the council have to decide?"],
        "must_include": [["6 weeks", "six weeks"]], "must_not_include": ["16 weeks to decide"],
        "expected_behaviour": "answer", "reference_answer": "Six weeks.",
        "sources": ["https://www.legislation.gov.uk/uksi/2014/1530/regulation/5"], "origin": "test"}


def _write(tmp_path, *cases, name: str = "d") -> Path:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases) + "\n")
    return path


def test_dataset_errors_name_the_line_and_field(tmp_path):
    with pytest.raises(DatasetError, match=r"d.jsonl:2: field 'expected_behaviour'"):
        load_dataset(_write(tmp_path, CASE, {**CASE, "id": "t-2", "expected_behaviour": "maybe"}))
    with pytest.raises(DatasetError, match=r"d.jsonl:1: field 'must_include'"):
        load_dataset(_write(tmp_path, {**CASE, "must_include": ["6 weeks"]}))
    with pytest.raises(DatasetError, match=r"field 'id': 't-1' is used twice"):
        load_dataset(_write(tmp_path, CASE, CASE))
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(DatasetError, match=r"bad.jsonl:1: not valid JSON"):
        load_dataset(tmp_path / "bad.jsonl")


def test_public_dataset_is_large_and_covers_every_kind_of_case():
    cases = load_dataset(DEFAULT_DATASET)
    assert len(cases) >= 150
    prefixes = {c.category.split("/")[0] for c in cases}
    assert {"in_scope", "multi_turn", "out_of_scope", "adversarial", "clarify"} <= prefixes
    assert sum(len(c.turns) > 1 for c in cases) >= 10
    assert {c.expected_behaviour for c in cases} == {"answer", "decline", "signpost", "clarify"}


def test_text_metrics():
    from evals.dataset import parse_case

    case = parse_case(CASE, DEFAULT_DATASET, 1)
    assert key_facts("The council has SIX WEEKS.", case)[:2] == (1, 1)
    assert key_facts("Soon.", case)[2] == [["6 weeks", "six weeks"]]
    assert wrong_facts("It has 16 weeks to decide.", case) == ["16 weeks to decide"]
    assert normalise_url("http://legislation.gov.uk/uksi/2014/1530/regulation/5/made/data.htm") == \
        normalise_url("https://www.legislation.gov.uk/uksi/2014/1530/regulation/5")
    assert retrieval_scores(["a", "b"], {"b"}) == {"hit_at_k": True, "mrr": 0.5, "first_relevant_rank": 2}
    assert retrieval_scores(["a"], set()) is None


def test_citation_metrics_catch_dangling_and_unsupported_citations(guide):
    from guide.reply import Citation, Reply

    quote = "The council must decide within 6 weeks (regulation 5 of the SEND Regulations 2014)."
    good = Reply("The council must decide within 6 weeks (regulation 5 of the SEND Regulations 2014). [1]",
                 [Citation(1, "T", "https://x.example/a", "d", "h", quote)])
    scores = citation_scores(good, guide.embedder.embed, 0.6)
    assert scores["supported"] == scores["support_checked"] == 1 and not scores["dangling_markers"]
    bad = Reply("Your child can have free school meals. [1] The tribunal is in London. [2]",
                [Citation(1, "T", "https://x.example/a", "d", "h", quote)])
    scores = citation_scores(bad, guide.embedder.embed, 0.6)
    assert scores["dangling_markers"] == [2]
    assert scores["supported"] == 0 and scores["support_checked"] == 1


def test_any_dataset_in_the_format_runs_and_baseline_regressions_are_listed(guide, tmp_path):
    cases = load_dataset(_write(tmp_path, CASE, {**CASE, "id": "t-2", "turns": ["write me a poem about cats"],
                                                 "must_include": [], "expected_behaviour": "decline"}))
    report = evaluate(guide, cases, {"min_behaviour_accuracy": 1.0, "support_threshold": 0.6})
    assert report["passed"], report["failures"]
    json_path, md_path = write_reports(report, tmp_path / "out")
    assert json.loads(json_path.read_text())["summary"]["cases"] == 2
    assert "## By category" in md_path.read_text()
    # Make the baseline look better than today: the comparison must name the case.
    baseline = json.loads(json_path.read_text())
    baseline["cases"][1]["behaviour_ok"] = True
    report["cases"][1]["behaviour_ok"] = False
    (tmp_path / "base.json").write_text(json.dumps(baseline))
    from evals.report import compare

    assert [r["id"] for r in compare(report["cases"], tmp_path / "base.json")] == ["t-2"]
    failing = evaluate(guide, cases[:1], {"min_key_fact_recall": 1.01})
    assert not failing["passed"] and "key_fact_recall" in failing["failures"][0]


@pytest.mark.parametrize("path", DEFAULT_DATASETS, ids=lambda p: p.stem)
def test_dataset_meets_its_release_thresholds(guide, tmp_path, path):
    """The release gate, as CI runs it: each shipped dataset with its own table of evals/thresholds.toml and the
    "today" of its sidecar (public and parents about 10 s each, the tools sets about 1 s)."""
    meta = load_meta(path)
    [report] = evaluate_all(guide, [(meta, load_dataset(path))], load_thresholds(DEFAULT_THRESHOLDS))
    write_all([report], tmp_path / "eval")
    s = report["summary"]
    print(f"\n{meta.name} eval (today {report['today'] or 'real'}): recall {s['key_fact_recall']:.3f}, fully correct "
          f"{s['fully_correct']:.3f}, wrong facts {s['wrong_fact_hits']}, behaviour {s['behaviour_accuracy']:.3f}, "
          f"hit@5 {s['hit_at_5']}, support {s['citation_support']}, median words {s['median_answer_words']}, "
          f"trade-off {report['tradeoff']}")
    assert report["thresholds"], f"{meta.name} has no gates: add a [{meta.thresholds}] table to thresholds.toml"
    assert report["passed"], report["failures"]


def test_every_shipped_dataset_has_its_gates_and_the_tools_sets_their_today():
    doc = load_thresholds(DEFAULT_THRESHOLDS)
    gates = {"max_wrong_fact_hits", "max_dangling_markers", "min_key_fact_recall", "min_fully_correct",
             "min_behaviour_accuracy", "min_hit_at_5", "min_citation_support", "max_latency_p95_ms"}
    for path in DEFAULT_DATASETS:
        meta = load_meta(path)
        assert gates <= set(load_thresholds(DEFAULT_THRESHOLDS, meta.thresholds)), meta.name
    assert doc["public"]["max_wrong_fact_hits"] == doc["parents"]["max_wrong_fact_hits"] == 0
    assert doc["parents"]["max_median_answer_words"] == 150
    assert [load_meta(p).thresholds for p in DEFAULT_DATASETS] == ["public", "parents", "tools", "tools"]
    assert {load_meta(p).today for p in DEFAULT_DATASETS[2:]} == {"2026-12-01"}
    assert load_meta(DEFAULT_DATASETS[0]).today == ""


def test_a_gate_that_names_no_metric_fails_instead_of_passing_silently():
    summary = {"key_fact_recall": 0.9, "median_answer_words": 120}
    assert check_thresholds(summary, {"min_key_fact_recall": 0.8, "max_median_answer_words": 150}) == []
    [failure] = check_thresholds(summary, {"min_recall": 0.8})
    assert "no summary metric is called 'recall'" in failure


DATED = {"id": "dated-1", "category": "tools/deadlines",
         "turns": ["we sent the request for an EHC needs assessment on 3rd Nov and it's week 4. when do they have "
                   "to decide?"],
         "must_include": [["15 December 2026"]], "must_not_include": [], "expected_behaviour": "answer",
         "sources": ["https://www.legislation.gov.uk/uksi/2014/1530/regulation/5"]}


def test_a_sidecar_sets_the_guides_today_and_the_thresholds_table(guide, tmp_path):
    path = _write(tmp_path, DATED, name="dated")
    doc = {"support_threshold": 0.6, "tools": {"min_key_fact_recall": 1.0}, "dated": {"min_key_fact_recall": 0.0}}
    (tmp_path / "dated.meta.toml").write_text('today = "2026-12-01"\nthresholds = "tools"\n')
    meta = load_meta(path)
    assert (meta.name, meta.today, meta.thresholds, meta.sidecar) == ("dated", "2026-12-01", "tools",
                                                                      tmp_path / "dated.meta.toml")
    [report] = evaluate_all(guide, [(meta, load_dataset(path))], doc)
    assert report["today"] == "2026-12-01" and report["thresholds"] == {"key_fact_recall": 1.0}
    assert report["passed"], report["failures"]
    # Ten months earlier "3rd Nov" is November 2025, so the same case misses its date: the clock is the sidecar's,
    # not the calendar's. (A TOML date literal works too.)
    (tmp_path / "dated.meta.toml").write_text("today = 2026-02-01\nthresholds = \"tools\"\n")
    [early] = evaluate_all(guide, [(load_meta(path), load_dataset(path))], doc)
    assert early["today"] == "2026-02-01" and "15 December 2025" in early["cases"][0]["answer"]
    assert not early["passed"] and "key_fact_recall" in early["failures"][0]
    assert guide.config.today == "", "the shared guide's own clock must not change"
    # No sidecar: the dataset's own name picks the table, and the guide's clock is used.
    (tmp_path / "dated.meta.toml").unlink()
    assert (load_meta(path).today, load_meta(path).thresholds) == ("", "dated")


def test_a_bad_sidecar_names_its_file_key_and_fix(tmp_path):
    path = _write(tmp_path, CASE)
    side = tmp_path / "d.meta.toml"
    side.write_text('today = "1 December"\n')
    with pytest.raises(DatasetError, match=r"d.meta.toml: key 'today' = '1 December' is not a date; write it as"):
        load_meta(path)
    side.write_text('tody = "2026-12-01"\n')
    with pytest.raises(DatasetError, match=r"d.meta.toml: unknown key\(s\) tody; a sidecar may set only"):
        load_meta(path)
    side.write_text("today = \n")
    with pytest.raises(DatasetError, match=r"d.meta.toml: cannot read the dataset's sidecar"):
        load_meta(path)


def _case(cid: str, question: str, expected: str, facts: list[list[str]]) -> dict:
    return {**CASE, "id": cid, "turns": [question], "expected_behaviour": expected, "must_include": facts,
            "sources": CASE["sources"] if expected == "answer" else []}


def test_clarify_trade_off_counts_every_case_once(guide, tmp_path):
    """A hand-made dataset on the real guide, one case per bucket of the trade-off."""
    decide = "How long does the council have to decide whether to assess my child?"
    cases = load_dataset(_write(tmp_path, *[
        _case("all", decide, "answer", [["6 weeks", "six weeks"]]),
        _case("some", decide, "answer", [["6 weeks", "six weeks"], ["zebra crossing"]]),
        _case("none", decide, "answer", [["zebra crossing"]]),
        _case("asked-back", "what's the deadline?", "answer", [["6 weeks"]]),
        _case("declined", "write me a poem about cats", "answer", [["6 weeks"]]),
        _case("signposted", "I live in Cardiff, how do I get an ALN plan?", "answer", []),
        _case("clarified", "they said no. what now", "clarify", [["?"]]),
        _case("answered-instead", decide, "clarify", [["?"]]),
    ]))
    report = evaluate(guide, cases, {})
    assert report["tradeoff"] == {
        "expected_answer": {"cases": 6, "answered_all_facts": 1, "answered_some_facts": 1, "answered_no_facts": 1,
                            "clarified": 1, "signposted_or_declined": 2},
        "expected_clarify": {"cases": 2, "clarified": 1, "answered": 1, "signposted_or_declined": 0},
    }
    md = write_reports(report, tmp_path / "out")[1].read_text()
    assert "## Clarify trade-off" in md and "| answer | 6 | 1 | 1 | 1 | 1 | 2 |" in md
    assert "| clarify | 2 | 1 | 1 | 0 |" in md


def test_several_datasets_side_by_side_with_per_dataset_gates_and_baselines(config, tmp_path):
    from guide.cli import main

    alpha = _write(tmp_path, CASE, {**CASE, "id": "t-2", "turns": ["write me a poem about cats"],
                                    "must_include": [], "expected_behaviour": "decline", "sources": []}, name="alpha")
    beta = _write(tmp_path, _case("b-1", "they said no. what now", "clarify", [["?"]]), name="beta")
    thresholds = tmp_path / "t.toml"
    thresholds.write_text("support_threshold = 0.6\nmax_wrong_fact_hits = 0\n"
                          "[alpha]\nmin_key_fact_recall = 1.0\n[beta]\nmin_key_fact_recall = 1.01\n")
    args = ["--data-dir", str(config.data_dir), "--knowledge-dir", str(config.knowledge_dir), "eval",
            "--dataset", str(alpha), "--dataset", str(beta), "--thresholds", str(thresholds)]
    assert main([*args, "--out", str(tmp_path / "first")]) == 1  # beta misses its own floor; alpha passes
    first = tmp_path / "first"
    assert {p.name for p in first.iterdir()} == {"alpha", "beta", "summary.md"}
    assert json.loads((first / "alpha" / "report.json").read_text())["passed"]
    assert not json.loads((first / "beta" / "report.json").read_text())["passed"]
    summary = (first / "summary.md").read_text()
    table = summary.split("\n## ")[0]
    assert "| alpha | real | 2 | 1.00 |" in table and "| beta | real | 1 | " in table
    assert "| PASS |" in table and "| FAIL (1) |" in table
    assert "beta: key_fact_recall = 1.000 is below the minimum 1.01" in table
    for name in ("alpha", "beta"):
        assert f"## {name}: clarify trade-off" in summary and f"## {name}: by category" in summary
    assert "| in_scope/timescales | 1 | 1.00 | 1.00 | 1.00 | " in summary
    # A baseline folder is compared dataset by dataset; a single report.json only with its own dataset.
    assert main([*args, "--no-thresholds", "--out", str(tmp_path / "second"), "--baseline", str(first)]) == 0
    summary = (tmp_path / "second" / "summary.md").read_text()
    assert "| alpha (baseline) |" in summary and "| beta (baseline) |" in summary
    assert "0 regressions against" in summary
    assert main([*args, "--no-thresholds", "--out", str(tmp_path / "third"),
                 "--baseline", str(first / "beta" / "report.json")]) == 0
    summary = (tmp_path / "third" / "summary.md").read_text()
    assert "| beta (baseline) |" in summary and "| alpha (baseline) |" not in summary


def test_support_needs_no_model_call_for_a_verbatim_quote_and_each_text_is_embedded_once(guide):
    from guide.reply import Citation, Reply

    calls: list[list[str]] = []

    def counted(texts):
        calls.append(list(texts))
        return guide.embedder.embed(texts)

    # Measured on the real guide: this sentence scored 0.56 against the merged sentence of its own quote.
    quote = 'If so, please send me the letter today." Next step: When the school next calls, ask for it in writing.'
    reply = Reply('"Please confirm whether this is an exclusion. If so, please send me the letter today." [1]',
                  [Citation(1, "T", "https://x.example/a", "d", "h", quote)])
    scores = citation_scores(reply, EmbedCache(counted), 0.6)
    assert scores["supported"] == scores["support_checked"] == 1 and calls == []
    cache = EmbedCache(counted)
    other = Reply("The council has six weeks to decide. [1]", [Citation(1, "T", "u", "d", "h", quote)])
    first = citation_scores(other, cache, 0.6)
    assert citation_scores(other, cache, 0.6) == first and len(calls) == 1
    assert first["support_checked"] == 1 and first["supported"] == 0
    same = np.sum(cache(["x", "y"]) * guide.embedder.embed(["x", "y"]), axis=1)
    assert same == pytest.approx([1.0, 1.0], abs=1e-4)


def test_eval_cli_exits_non_zero_when_a_threshold_is_missed(config, tmp_path):
    from guide.cli import main

    strict = tmp_path / "strict.toml"
    strict.write_text("min_key_fact_recall = 1.01\n")
    args = ["--data-dir", str(config.data_dir), "--knowledge-dir", str(config.knowledge_dir), "eval",
            "--limit", "3", "--out", str(tmp_path / "o")]
    assert main([*args, "--thresholds", str(strict)]) == 1
    assert main([*args, "--no-thresholds"]) == 0
    # Every shipped dataset, each in its own folder, and the side-by-side summary.
    assert {p.name for p in (tmp_path / "o").iterdir()} == {p.stem for p in DEFAULT_DATASETS} | {"summary.md"}
    assert all((tmp_path / "o" / p.stem / "report.md").exists() for p in DEFAULT_DATASETS)
