"""My area: every English council by name, short form, town or a close misspelling; and an area the knowledge base
has no inspection document for (or that does not exist) never gets another area's findings."""

from __future__ import annotations

import pytest

from guide.answer.areas import AreaFinder
from guide.knowledge.authorities import authorities_path, load_authorities

from ..conftest import ROOT

INSPECTED = {"oxfordshire": ("inspection-oxfordshire",), "oxon": ("inspection-oxfordshire",),
             "south gloucestershire": ("inspection-south-gloucestershire",),
             "south glos": ("inspection-south-gloucestershire",), "kent": ("inspection-kent",),
             "north northamptonshire": ("inspection-north-northamptonshire",),
             "north northants": ("inspection-north-northamptonshire",),
             "north somerset": ("inspection-north-somerset",)}


@pytest.fixture(scope="module")
def finder() -> AreaFinder:
    return AreaFinder(INSPECTED, load_authorities(authorities_path(ROOT / "knowledge")))


def names(finder, text):
    return [(m.name, m.doc_ids, m.recognised) for m in finder.find(text)]


@pytest.mark.parametrize("text, area", [
    ("What did inspectors find in South Glos?", "South Gloucestershire"),
    ("we're in North Northants, what did Ofsted say", "North Northamptonshire"),
    ("What did inspectors find in Banbury?", "Oxfordshire"),
    ("Ofsted findings for Kettering", "North Northamptonshire"),
    ("We live in Corby. What did the inspection find?", "North Northamptonshire"),
    ("inspection report for Weston-super-Mare", "North Somerset"),
    ("what did ofsted find in weston super mare", "North Somerset"),
    ("We're in Yate, what did inspectors find?", "South Gloucestershire"),
    ("Maidstone SEND inspection", "Kent"),
    ("what did ofsted find in oxon", "Oxfordshire"),
])
def test_a_covered_area_by_short_form_or_town(finder, text, area):
    (match,) = finder.find(text)
    assert match.name == area and match.doc_ids


@pytest.mark.parametrize("text, area", [
    ("Ofsted report for Oxfordshre", "Oxfordshire"),
    ("what did Ofsted find in Norfok?", "Norfolk"),
    ("ofsted findings in south glouctershire", "South Gloucestershire"),
])
def test_a_close_misspelling_is_the_council_it_is_close_to(finder, text, area):
    (match,) = finder.find(text)
    assert (match.name, match.fuzzy) == (area, True)


@pytest.mark.parametrize("text", ["What did inspectors find in Zzyzxshire?", "What did Ofsted find in Narnia?",
                                  "inspection report for Blorpington"])
def test_a_made_up_area_is_not_recognised_and_is_no_other_area(finder, text):
    (match,) = finder.find(text)
    assert match.recognised is False and match.doc_ids == ()


def test_every_english_council_is_recognised(finder):
    councils = load_authorities(authorities_path(ROOT / "knowledge")).authorities
    assert len(councils) == 153
    for council in councils:
        (match,) = finder.find(f"What did inspectors find in {council.name}?")
        assert match.name == council.name and match.recognised


def test_everyday_words_and_other_words_are_not_areas(finder):
    assert finder.find("I am reading about the inspection in September") == []
    assert finder.find("What did Ofsted find in England in 2023?") == []
    assert names(finder, "how do I ask for an assessment? We live in Reading") == [("Reading", (), True)]
    # Sussex is no council of its own, and is not Essex misspelt.
    (sussex,) = finder.find("what did inspectors find in Sussex")
    assert sussex.name == "Sussex" and "East Sussex" in sussex.note


def test_made_up_names_count_only_in_questions_about_an_area(finder):
    assert finder.find("We moved from Zzyzxshire. How do I ask for an assessment?") == []


def test_my_area_with_no_area_named_is_asked_about(finder):
    (match,) = finder.find("What did inspectors find in my area?")
    assert match.name == "" and finder.verdict(match).behaviour == "clarify"


def test_replies_are_honest_and_point_to_ofsted(finder):
    (rutland,) = finder.find("we're in Rutland, what did the inspection say?")
    text = finder.verdict(rutland).text
    assert "holds no inspection document for Rutland" in text and "https://reports.ofsted.gov.uk/" in text
    (made_up,) = finder.find("What did inspectors find in Zzyzxshire?")
    assert "don't recognise \"Zzyzxshire\"" in finder.verdict(made_up).text


# --- the real guide ------------------------------------------------------------------------------------------------
INSPECTION_DOCS = {"inspection-kent", "inspection-north-northamptonshire", "inspection-north-somerset",
                   "inspection-oxfordshire", "inspection-south-gloucestershire"}


@pytest.mark.parametrize("question", ["What did inspectors find in Zzyzxshire?", "what did Ofsted find in Norfok?",
                                      "we're in Rutland, what did the inspection say?",
                                      "What did inspectors find in my area?"])
def test_guide_never_gives_another_areas_findings(guide, question):
    """Issue 13: before the fix, "Zzyzxshire" and "Norfok" were answered with South Gloucestershire's report."""
    reply = guide.ask(question)
    assert reply.behaviour in ("signpost", "clarify")
    assert not {c.doc_id for c in reply.citations} & INSPECTION_DOCS
    assert not any(area in reply.text.split("holds inspection documents for")[0]
                   for area in ("South Gloucestershire", "Oxfordshire", "Kent"))
    assert "reports.ofsted.gov.uk" in reply.text


def test_guide_recognises_norfok_as_norfolk(guide):
    reply = guide.ask("what did Ofsted find in Norfok?")
    assert "taken \"Norfok\" to mean Norfolk" in reply.text and "no inspection document for Norfolk" in reply.text


@pytest.mark.parametrize("question, doc", [
    ("What did inspectors find in Banbury?", "inspection-oxfordshire"),
    ("What did inspectors find in South Glos?", "inspection-south-gloucestershire"),
    ("What did Ofsted find in Kettering?", "inspection-north-northamptonshire"),
    ("Ofsted report for Oxfordshre", "inspection-oxfordshire"),
])
def test_guide_answers_a_covered_area_from_its_own_inspection(guide, question, doc):
    reply = guide.ask(question)
    assert reply.behaviour == "answer"
    assert {c.doc_id for c in reply.citations} == {doc}
