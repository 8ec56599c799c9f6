"""Redaction on the audit's examples: what escaped the hand-written patterns, and what must stay."""

from __future__ import annotations

import pytest

from guide.answer.redact import redact


@pytest.mark.parametrize("text,secrets", [
    ("We live at 12 Acacia Avenue, Bristol. Can they refuse?", ["12 Acacia Avenue", "Acacia"]),
    ("Freddie Kowalski has been excluded twice", ["Freddie", "Kowalski"]),
    ("jack smith has autism and no EHC plan", ["jack smith"]),
    ("He goes to Oakwood Primary and they will not assess him", ["Oakwood"]),
    ("St Mary's C of E Primary School said no", ["St Mary's"]),
    ("The school says Tom cannot go on the trip", ["Tom"]),
    ("My NI number is JG 10 37 59 A", ["JG 10 37 59 A"]),
])
def test_the_audits_examples_are_redacted(text, secrets):
    clean = redact(text)
    for secret in secrets:
        assert secret not in clean, clean
    assert "[" in clean


@pytest.mark.parametrize("text", [
    "How long does the council have to decide?",
    "What did inspectors find in Kent?",
    "What did inspectors find in the Royal Borough of Greenwich?",
    "Can a special school refuse my child?",
    "Will the council pay for transport to a Primary School?",
    "The new area SEND inspections began in January 2023.",
    "What is a SENCO?",
    "May I ask for a reassessment?",
])
def test_ordinary_questions_are_left_alone(text):
    assert redact(text) == text
