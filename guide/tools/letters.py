"""Model letters: pick the right one for a request, fill what the parent already told us, leave clear gaps.

Only two kinds of thing are ever filled from a conversation: a date (re-written from the parsed date, so none of
the parent's own words pass through) and the council's name. Names, schools and every other personal detail stay
as gaps such as "[your child's name]", however plainly the conversation gave them. Nothing here stores or logs
what a letter says.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

from ..answer.redact import redact
from ..knowledge.letters import _GAP, Field, Letter, load_letters

# The parent is asking for words to send, not only for the rule.
_WANTS_LETTER = re.compile(
    r"\b(write|writing|written to|wording|letter|email|e-mail|template|draft|what (do|should|can) i (say|put|write)|"
    r"put (it|that|this) in writing)\b", re.I)
# Stricter: the parent asks for words to send ("help me write to the council", "can you give me a letter asking
# for..."), not only mentions a letter or an email they got ("LA letter pasted below, can I appeal?").
_ASKS_FOR_LETTER = re.compile(
    r"\b(help me (to )?(write|draft|word|put)|"
    r"(can|could|would|will) you (please )?(help me )?(write|draft|give me|make|do|send me)\b[^.?!\n]{0,30}"
    r"\b(letter|email|e-mail|template)|"
    r"(a|an) ((template|model|sample|example) )?(letter|email|e-mail) (to|for|asking|chasing|requesting|saying)|"
    r"write (a|an|the|my) (letter|email|e-mail)|what (do|should|can) i (say|put|write))\b", re.I)
_STOP = frozenset("a an the to for of on in at my our me i we us you it is be can could would please help with and "
                  "or so that this what how do does about want need like letter write writing email draft template "
                  "wording".split())
PICK_MIN_SCORE = 60  # rapidfuzz token_set_ratio between the request and a letter's when_to_use phrase

_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|" \
         r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DAYNAME = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
# Date-like phrases; dateparser reads each one (relative to today, day before month as in England).
_DATE_PHRASE = re.compile(
    rf"\b(\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b(?:,?\s+\d{{4}})?|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
    rf"(?:,?\s+\d{{4}})?|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|\d{{4}}-\d{{2}}-\d{{2}}|(?:last|this)\s+{_DAYNAME}|"
    rf"yesterday)", re.I)
_BIRTH = re.compile(r"\b(born|birth|birthday|dob|d\.o\.b|aged?)\b", re.I)


def wants_letter(text: str) -> bool:
    return bool(_WANTS_LETTER.search(text or ""))


def asks_for_letter(text: str) -> bool:
    """The message asks for a letter to send, so its answer is the section that explains that letter."""
    return bool(_ASKS_FOR_LETTER.search(text or ""))


def gap(field_: Field) -> str:
    return f"[{field_.label}]"


def _words(text: str) -> str:
    return " ".join(w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _STOP)


def find_dates(text: str, today: dt.date | None = None) -> list[dt.date]:
    """The dates a message gives (not birth dates), parsed relative to `today`; in order, without repeats."""
    import dateparser

    today = today or dt.date.today()
    base = dt.datetime.combine(today, dt.time(12))
    settings = {"DATE_ORDER": "DMY", "PREFER_DATES_FROM": "past", "RELATIVE_BASE": base,
                "REQUIRE_PARTS": ["day", "month"]}
    found: list[dt.date] = []
    for m in _DATE_PHRASE.finditer(text):
        if _BIRTH.search(text[max(0, m.start() - 40) : m.start()]):
            continue  # "born on 3 March" is personal data, never a deadline
        parsed = dateparser.parse(m.group(1), languages=["en"], settings=settings)
        if parsed and parsed.date() not in found:
            found.append(parsed.date())
    return found


def format_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


@dataclass
class FilledLetter:
    letter: Letter
    text: str
    filled: dict[str, str] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)  # labels still to fill

    def to_dict(self) -> dict:
        letter = self.letter
        return {
            "id": letter.id, "title": letter.title, "to": letter.to, "summary": letter.summary, "law": letter.law,
            "sources": [{"title": s.title, "url": s.url, "publisher": s.publisher} for s in letter.sources],
            "text": self.text, "filled": dict(self.filled), "gaps": list(self.gaps),
            "fields": [{"name": f.name, "label": f.label, "choices": [c.text for c in f.choices]}
                       for f in letter.fields],
        }


class LetterBook:
    """The model letters of one knowledge folder."""

    def __init__(self, letters: list[Letter]):
        self.letters = list(letters)
        self._by_id = {letter.id: letter for letter in self.letters}

    @classmethod
    def load(cls, knowledge_dir: Path) -> LetterBook:
        return cls(load_letters(knowledge_dir))

    def __iter__(self) -> Iterator[Letter]:
        return iter(self.letters)

    def __len__(self) -> int:
        return len(self.letters)

    def get(self, letter_id: str) -> Letter | None:
        return self._by_id.get(letter_id)

    def catalogue(self) -> list[dict]:
        return [{"id": x.id, "title": x.title, "to": x.to, "summary": x.summary,
                 "fields": [{"name": f.name, "label": f.label} for f in x.fields]} for x in self.letters]

    def pick(self, request: str) -> Letter | None:
        """The letter whose "when to use" phrasing is nearest the request, if any is near enough.

        The sentence that asks for the letter ("can you help me write a letter chasing the council?") decides
        first; the whole message only when that sentence alone does not say which letter."""
        sentences = [x for x in re.split(r"(?<=[.!?])\s+", request or "") if wants_letter(x)]
        for text in ([" ".join(sentences)] if sentences else []) + [request or ""]:
            letter = self._nearest(_words(text))
            if letter is not None:
                return letter
        return None

    def _nearest(self, words: str) -> Letter | None:
        if not words:
            return None
        scored = []
        for letter in self.letters:
            score = max(fuzz.token_set_ratio(words, _words(use)) for use in letter.when_to_use)
            scored.append((score, letter))
        score, best = max(scored, key=lambda s: s[0])
        return best if score >= PICK_MIN_SCORE else None

    def fill(self, letter: Letter, values: dict[str, str] | None = None, conversation: str = "",
             council: str = "", today: dt.date | None = None) -> FilledLetter:
        """The letter with `values` (what the parent typed into the form) and what the conversation told us filled
        in, and a clear gap for the rest. `conversation` is the parent's own messages only."""
        values = {k: v.strip() for k, v in (values or {}).items() if isinstance(v, str) and v.strip()}
        unknown = set(values) - {f.name for f in letter.fields}
        if unknown:
            raise ValueError(f"{letter.id} has no field {', '.join(sorted(unknown))}; its fields are "
                             f"{', '.join(f.name for f in letter.fields)}")
        filled: dict[str, str] = {}
        dates = find_dates(conversation, today) if conversation else []
        text_lower = conversation.lower()
        for f in letter.fields:
            if f.name in values:
                continue
            if f.from_conversation == "date" and len(dates) == 1:
                filled[f.name] = format_date(dates[0])  # one date only: with two we cannot know which is which
            elif f.from_conversation == "council" and council and redact(council) == council:
                filled[f.name] = council
            elif f.choices and conversation:
                hits = [c for c in f.choices if any(cue in text_lower for cue in c.cues)]
                if len(hits) == 1:
                    filled[f.name] = hits[0].text
        chosen = {**filled, **values}
        gaps = [f.label for f in letter.fields if f.name not in chosen]
        text = _GAP.sub(lambda m: chosen.get(m.group(1).strip()) or gap(letter.field(m.group(1).strip())),
                        letter.body)
        return FilledLetter(letter, text, filled, gaps)


def to_docx(title: str, text: str) -> bytes:
    """The letter as a Word document, built in memory (nothing is written to disk)."""
    import io

    from docx import Document
    from docx.shared import Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(12)
    doc.core_properties.title = title
    doc.core_properties.author = ""
    for paragraph in text.strip().split("\n\n"):
        para = doc.add_paragraph()
        lines = paragraph.split("\n")
        for i, line in enumerate(lines):
            run = para.add_run(line)
            if i < len(lines) - 1:
                run.add_break()
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
