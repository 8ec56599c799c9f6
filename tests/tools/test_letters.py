"""Picking and filling the model letters: what the parent told us is filled, personal data never is."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from guide.tools.letters import LetterBook, find_dates, to_docx, wants_letter

from ..conftest import ROOT

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def book() -> LetterBook:
    return LetterBook.load(ROOT / "knowledge")


@pytest.mark.parametrize("request_, letter", [
    ("help me write to the council to ask for an assessment", "ehc-needs-assessment-request"),
    ("can you draft a letter chasing the council, it has been 9 weeks and no decision", "chasing-a-missed-deadline"),
    ("I need to write a formal complaint to the council", "formal-complaint-to-the-council"),
    ("the school keeps phoning me to come and collect him, what should I write?", "school-put-it-in-writing"),
    ("help me write a letter to the school about the part-time timetable", "school-put-it-in-writing"),
    ("I want a letter asking for the mediation certificate", "mediation-certificate-request"),
    ("write to ask for an early review, his needs have changed", "early-review-request"),
])
def test_pick(book, request_, letter):
    assert wants_letter(request_)
    assert book.pick(request_).id == letter


def test_no_letter_for_something_else(book):
    assert book.pick("write a letter to my MP about funding") is None
    assert not wants_letter("How long does the council have to decide whether to assess?")


@pytest.mark.parametrize("text, dates", [
    ("we sent the request on 3rd Jan and it's week 9", [dt.date(2026, 1, 3)]),
    ("decision letter dated 1 october", [dt.date(2026, 10, 1)]),
    ("the letter came on 1/10", [dt.date(2026, 10, 1)]),
    ("sent on 29 November 2025", [dt.date(2025, 11, 29)]),
    ("my son was born on 3 March 2015", []),
])
def test_find_dates(text, dates):
    assert find_dates(text, TODAY) == dates


def test_fill_uses_the_date_the_deadline_and_council_but_never_the_name(book):
    said = "My son Tom Smith (tom@example.com). We sent the request for an assessment on 3rd Jan and it's week 9"
    filled = book.fill(book.get("chasing-a-missed-deadline"), conversation=said, council="Oxfordshire County Council",
                       today=TODAY)
    assert "The time counts from 3 January 2026" in filled.text
    assert "regulation 5(1)" in filled.text and "Oxfordshire County Council" in filled.text
    assert "Tom" not in filled.text and "example.com" not in filled.text
    assert "[your child's name]" in filled.text and "your child's name" in filled.gaps


def test_two_dates_are_not_guessed_between(book):
    filled = book.fill(book.get("mediation-certificate-request"),
                       conversation="decision letter dated 1 october, mediation on 29 november", today=TODAY)
    assert "[the date of the council's decision letter]" in filled.text


def test_the_parents_own_values_fill_the_form_and_unknown_fields_are_refused(book):
    letter = book.get("early-review-request")
    filled = book.fill(letter, {"child_name": "Sam"})
    assert "review of Sam's EHC plan" in filled.text
    with pytest.raises(ValueError, match="has no field nickname"):
        book.fill(letter, {"nickname": "x"})


def test_docx_is_a_word_document_with_the_text():
    from docx import Document

    data = to_docx("A letter", "Dear Sir,\n\nFirst line\nsecond line")
    text = "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    assert "Dear Sir," in text and "First line\nsecond line" in text
