"""Remove personal data from text before it is logged, stored or echoed."""

from __future__ import annotations

import re

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# Order matters: the most specific patterns first, so an NHS number is not taken for a phone number.
_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("NHS NUMBER", re.compile(r"\b\d{3}[ -]?\d{3}[ -]?\d{4}\b(?=(?:[^\d]|$))")),
    ("PHONE", re.compile(r"(?<![\w])(?:\+44\s?\(?0?\)?\s?|\(?0)\d{2,4}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}\b")),
    ("POSTCODE", re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)\s*\d[A-Z]{2}\b", re.I)),
    ("DATE OF BIRTH", re.compile(
        r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}"
        rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})\b", re.I)),
]
_NAME_WORD = r"[A-Z][a-z]*(?:[A-Z][a-z]+)?(?:['’-][A-Za-z][a-z]*)*\b"
# A name is only recognisable from its context ("my son Tom", "I'm Sarah Jones", "Mrs Patel").
_NAME_CONTEXT = re.compile(
    r"\b(?i:(?:my|our)\s+(?:son|daughter|child|boy|girl|kid|grandson|granddaughter|nephew|niece|husband|wife|"
    r"partner|stepson|stepdaughter)(?:'s name is|,| is called| called| named|)\s+"
    r"|(?:my name is|i am|i'm|i’m|im|called|named|name is|this is)\s+"
    r"|(?:mr|mrs|ms|miss|dr)\.?\s+)"
    # A name's words: "Tom", "O'Neil", "McDonald", "Amy-Rose", "Smith-Jones"; not acronyms such as "SENCO".
    rf"({_NAME_WORD}(?:\s+{_NAME_WORD})*)"
)
_NOT_NAMES = frozenset(
    "I Im The A An In On At And But So He She They It We Year Reception Autistic Autism Dyslexic Worried "
    "Struggling Going Not Very Really Just Still Now Currently Being Trying Desperate Scared Finding".split()
)


def redact(text: str) -> str:
    """Replace emails, NHS numbers, phone numbers, postcodes, dates of birth and names in context."""
    if not text:
        return text
    for label, pattern in _PATTERNS:
        text = pattern.sub(f"[{label}]", text)

    def _name(match: re.Match) -> str:
        name = match.group(1)
        first = name.split()[0]
        if first in _NOT_NAMES:
            return match.group(0)
        return match.group(0)[: match.start(1) - match.start(0)] + "[NAME]"

    return _NAME_CONTEXT.sub(_name, text)


def personal_data_found(text: str) -> bool:
    return redact(text) != text
