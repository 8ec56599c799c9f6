"""The evaluation harness: any dataset in the format, every metric, and the release gates on the public set."""

import json
from pathlib import Path

import pytest

from evals.dataset import DatasetError, load_dataset
from evals.metrics import citation_scores, key_facts, normalise_url, retrieval_scores, wrong_facts
from evals.run import DEFAULT_DATASET, DEFAULT_THRESHOLDS, evaluate, load_thresholds, write_reports

CASE = {"id": "t-1", "category": "in_scope/timescales", "turns": ["How long does the council have to decide?"],
        "must_include": [["6 weeks", "six weeks"]], "must_not_include": ["16 weeks to decide"],
        "expected_behaviour": "answer", "reference_answer": "Six weeks.",
        "sources": ["https://www.legislation.gov.uk/uksi/2014/1530/regulation/5"], "origin": "test"}


def _write(tmp_path, *cases) -> Path:
    path = tmp_path / "d.jsonl"
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


def test_public_dataset_meets_the_release_thresholds(guide, tmp_path):
    """The release gate, as CI runs it: the whole public dataset with the thresholds in evals/thresholds.toml."""
    thresholds = load_thresholds(DEFAULT_THRESHOLDS)
    report = evaluate(guide, load_dataset(DEFAULT_DATASET), thresholds, dataset=str(DEFAULT_DATASET))
    write_reports(report, tmp_path / "eval")
    s = report["summary"]
    print(f"\npublic eval: recall {s['key_fact_recall']:.2f}, fully correct {s['fully_correct']:.2f}, "
          f"wrong facts {s['wrong_fact_hits']}, behaviour {s['behaviour_accuracy']:.2f}, hit@5 {s['hit_at_5']:.2f}")
    assert report["passed"], report["failures"]


def test_eval_cli_exits_non_zero_when_a_threshold_is_missed(config, tmp_path):
    from guide.cli import main

    strict = tmp_path / "strict.toml"
    strict.write_text("min_key_fact_recall = 1.01\n")
    args = ["--data-dir", str(config.data_dir), "--knowledge-dir", str(config.knowledge_dir), "eval",
            "--limit", "3", "--out", str(tmp_path / "o")]
    assert main([*args, "--thresholds", str(strict)]) == 1
    assert main([*args, "--no-thresholds"]) == 0
    assert (tmp_path / "o" / "report.md").exists()
