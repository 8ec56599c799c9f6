"""Remove personal data from text before it is logged, stored or echoed.

Presidio's analyzer and anonymizer do the work, offline: its no-op NLP engine (no spaCy model to download) with
Presidio's own pattern recognisers for UK phone numbers (Google's phonenumbers), NHS numbers (checksum), National
Insurance numbers, postcodes, IBANs and card numbers, plus recognisers for what a parent writes about a child that
Presidio only finds with an NER model: names (from Faker's name lists, with or without a cue word), home addresses,
school names, dates of birth.
"""

from __future__ import annotations

import functools
import re

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, Pattern, PatternRecognizer, RecognizerRegistry
from presidio_analyzer import RecognizerResult as Found
from presidio_analyzer.nlp_engine import NoOpNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    IbanRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    UkNinoRecognizer,
    UkPostcodeRecognizer,
)
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# Patterns Presidio lacks or that catch more of what parents write (an NHS number with a wrong check digit is still
# someone's). The label is what replaces the text.
_PATTERNS: dict[str, str] = {
    "EMAIL": r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b",
    "NHS NUMBER": r"\b\d{3}[ -]?\d{3}[ -]?\d{4}\b(?=(?:[^\d]|$))",
    "PHONE": r"(?<![\w])(?:\+44\s?\(?0?\)?\s?|\(?0)\d{2,4}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}\b",
    "POSTCODE": r"(?i)\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)\s*\d[A-Z]{2}\b",
    "DATE OF BIRTH": (r"(?i)\b(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}"
                      rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})\b"),
    # "12 Acacia Avenue, Bristol", "3a Mill Lane": a house number, capitalised words, a street type, maybe a town.
    "ADDRESS": (r"\b\d{1,4}[A-Za-z]?,?\s+(?:[A-Z][a-z'’-]+\s+){1,3}(?:Road|Rd|Street|St|Avenue|Ave|Lane|Close|Drive|"
                r"Way|Crescent|Grove|Gardens|Place|Court|Terrace|Square|Hill|Park|View|Mews|Row|Walk|Rise|Green|"
                r"Parade|Vale|Fields|Meadow|Meadows|End|Chase|Wharf)\b(?:,\s*[A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)?"),
}
_PRESIDIO_LABELS = {"PHONE_NUMBER": "PHONE", "UK_NHS": "NHS NUMBER", "UK_NINO": "NI NUMBER", "UK_POSTCODE": "POSTCODE",
                    "IBAN_CODE": "BANK ACCOUNT", "CREDIT_CARD": "CARD NUMBER"}

_NAME_WORD = r"[A-Z][a-z]*(?:[A-Z][a-z]+)?(?:['’-][A-Za-z][a-z]*)*\b"
# A name recognisable from its context ("my son Tom", "I'm Sarah Jones", "Mrs Patel").
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
# Names that are also words of this subject or of place names ("Royal Borough", "Council Tax", "Justice").
_NAME_WORDS_IN_USE = frozenset(
    "council justice christian royal unique precious golden miracle love angel sunny river sky autumn april june "
    "august march may will mark grace hope joy rose frank ray sue pat dawn chase lane dean hall wood king "
    "north south east west new saint st lord major early young long case page art bill rich star summer "
    "january february march april may june july august september october november december monday tuesday "
    "wednesday thursday friday saturday sunday england ireland scotland wales britain echo".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
# "Oakwood Primary", "St Mary's C of E Primary School", "Hillside Academy": capitalised words before a school word.
_SCHOOL = re.compile(r"\b((?:[A-Z][A-Za-z'’-]*\s+){1,4})(?:(?:C of E|CofE|RC|Catholic|Church|Community|Infant|"
                     r"Infants|Junior|Juniors|Primary|Secondary|High|Grammar|Special|Free|Academy)\s+)*"
                     r"(?:Primary|Academy|School|College|Nursery|Infants|Juniors)\b(?:\s+School)?")
_NOT_SCHOOL_NAMES = frozenset(
    "the a an my our his her their this that which what every each any special mainstream independent local state "
    "free secondary primary infant junior nursery high grammar catholic church community academy further sixth form "
    "maintained non-maintained residential boarding sen send alternative provision early years new current next "
    "hospital pupil referral post-16 ehc ehcp send at in to for of from and or is was does do can will should "
    "i we he she they it if when where how why".split()
)


@functools.cache
def _names() -> tuple[frozenset[str], frozenset[str]]:
    """Lower-case first names and surnames from Faker's English lists (maintained, offline), less common words."""
    from faker.providers.lorem.en_US import Provider as Words
    from faker.providers.person.en import Provider as English
    from faker.providers.person.en_GB import Provider as British
    from spacy.lang.en.stop_words import STOP_WORDS

    from ..config import PROJECT_ROOT
    from ..knowledge.authorities import load_authorities_if_present

    # "Kent", "Bristol" and "York" are places here, not people: every council's names and towns.
    councils = load_authorities_if_present(PROJECT_ROOT / "knowledge")
    forms = [form for a in ((*councils.authorities, *councils.other_places) if councils else ())
             for form in (a.name, *a.short_forms, *a.towns)]
    places = {w.lower() for w in re.findall(r"[A-Za-z]+", " ".join(forms))}
    common = {w.lower() for w in Words.word_list} | set(STOP_WORDS) | _NAME_WORDS_IN_USE | places | {
        w.lower() for w in _NOT_NAMES}
    first = {n.lower() for n in (*English.first_names, *British.first_names_male, *British.first_names_female)}
    last = {n.lower() for n in (*English.last_names, *British.last_names)}
    return frozenset(first - common), frozenset(last - common)


class _NamesRecognizer(EntityRecognizer):
    """Names: after a cue ("my son Tom"), or a known first name followed by a surname or a capitalised word
    ("Freddie Kowalski", "jack smith")."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["NAME"], name="guide names")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[Found]:
        found = []
        for match in _NAME_CONTEXT.finditer(text):
            if match.group(1).split()[0] not in _NOT_NAMES:
                found.append(Found("NAME", match.start(1), match.end(1), 0.9))
        first, last = _names()
        words = list(_WORD.finditer(text))
        for a, b in zip(words, words[1:], strict=False):
            if text[a.end():b.start()].strip() or a.group().lower() not in first:
                continue
            second = b.group()
            known_surname = second.lower().strip("'’") in last
            capitalised_pair = a.group()[0].isupper() and second[0].isupper() and second.lower() not in _names_common()
            if known_surname or capitalised_pair:
                found.append(Found("NAME", a.start(), b.end(), 0.8))
        for a in words:
            # A capitalised first name alone, where a sentence does not start ("the school says Tom cannot...").
            before = text[:a.start()].rstrip()
            if a.group()[0].isupper() and a.group().lower() in first and before and before[-1] not in ".!?:;\"'(":
                found.append(Found("NAME", a.start(), a.end(), 0.6))
        return found


@functools.cache
def _names_common() -> frozenset[str]:
    from faker.providers.lorem.en_US import Provider as Words
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset({w.lower() for w in Words.word_list} | set(STOP_WORDS) | _NAME_WORDS_IN_USE | _NOT_SCHOOL_NAMES)


class _SchoolRecognizer(EntityRecognizer):
    def __init__(self) -> None:
        super().__init__(supported_entities=["SCHOOL"], name="guide schools")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[Found]:
        found = []
        for match in _SCHOOL.finditer(text):
            start = match.start()
            # Drop leading generic words ("The", "My", "Special"): a school is named only by what is left.
            for word in match.group(1).split():
                if word.lower() not in _NOT_SCHOOL_NAMES:
                    found.append(Found("SCHOOL", start, match.end(), 0.8))
                    break
                start = text.index(word, start) + len(word)
                start += len(text[start:]) - len(text[start:].lstrip())
        return found


@functools.cache
def _engines() -> tuple[AnalyzerEngine, AnonymizerEngine]:
    registry = RecognizerRegistry(supported_languages=["en"])
    for label, regex in _PATTERNS.items():
        # Case matters to these patterns (Presidio's default is to ignore it): "(?i)" marks those where it does not.
        registry.add_recognizer(PatternRecognizer(supported_entity=label, name=f"guide {label.lower()}",
                                                  patterns=[Pattern(label, regex, 0.7)],
                                                  global_regex_flags=re.DOTALL | re.MULTILINE))
    for recognizer in (PhoneRecognizer(supported_regions=("GB",)), NhsRecognizer(), UkNinoRecognizer(),
                       UkPostcodeRecognizer(), IbanRecognizer(), CreditCardRecognizer(),
                       _NamesRecognizer(), _SchoolRecognizer()):
        registry.add_recognizer(recognizer)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en",
                                                                                   "model_name": "none"}]),
                              supported_languages=["en"])
    return analyzer, AnonymizerEngine()


def redact(text: str) -> str:
    """Replace names, home addresses, schools, emails, phone, NHS and NI numbers, postcodes and dates of birth."""
    if not text or not text.strip():
        return text
    analyzer, anonymizer = _engines()
    found = analyzer.analyze(text, language="en", score_threshold=0.3)
    if not found:
        return text
    labels = {f.entity_type for f in found}
    operators = {label: OperatorConfig("replace", {"new_value": f"[{_PRESIDIO_LABELS.get(label, label)}]"})
                 for label in labels}
    return anonymizer.anonymize(text, found, operators=operators).text


def personal_data_found(text: str) -> bool:
    return redact(text) != text
