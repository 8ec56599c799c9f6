"""Pipeline steps for the parent's own dates: `Deadlines` (after guard) finds an event and its date in the message
and works out what follows; `DeadlinesReply` (after compose) puts those dates first in the reply, as text and data.

    sanitise -> guard -> deadlines -> rephrase -> ... -> compose -> deadlines-reply -> check
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ..tools import clock
from ..tools import deadlines as D

_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|" \
         r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
# Dates as parents write them. A month name needs a day number beside it, so "may" the verb is never a date.
DATE = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b(?:,?\s+\d{{4}})?"
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?"
    r"|\b\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?\b"
    rf"|\b(?:yesterday|today|last\s+{_WEEKDAY}|next\s+{_WEEKDAY})\b"
    r"|\b(?:a|one|two|three|four|five|six|\d{1,2})\s+(?:days?|weeks?|months?)\s+ago\b",
    re.I,
)

# A message asking for a date or a time limit ("what's our actual deadline?", "when should we have the plan by?").
ASKS_WHEN = re.compile(r"\b(?:deadline|when|how\s+long|what\s+date|last\s+date|by\s+when|time\s+limit|how\s+many\s+"
                       r"(?:days|weeks|months)|date)\b", re.I)

# Most specific first: a message about the appeal after a refusal names the letter, not the request.
EVENT_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple((key, re.compile(p, re.I)) for key, p in (
    ("tribunal-order", r"tribunal\s+(?:has\s+)?(?:ordered|order|orders)\b|won\s+(?:our|the|my)\s+appeal"
                       r"|appeal\s+(?:was\s+)?(?:won|allowed|successful)"),
    ("amendment-notice", r"proposed\s+amendments|amendment\s+notice"),
    ("draft-plan", r"\bdraft\s+(?:ehc\s*p?|ehcp|plan|education)"),
    ("decision-letter", r"decision\s+letter|letter\s+(?:was\s+)?dated|refus\w*\s+to\s+(?:assess|issue|do)"
                        r"|(?:final|finalised)\s+(?:ehc\s*)?(?:plan|ehcp)|\bcease|mediation\s+certificate"
                        r"|decided\s+not\s+to|turned\s+(?:us|me|him|her)\s+down|appeal"),
    ("annual-review", r"annual\s+review|review\s+meeting"),
    ("phase-transfer", r"phase\s+transfer|(?:mov|transfer)\w*\s+(?:up\s+)?to\s+(?:secondary|junior|primary|"
                       r"college|sixth\s+form|post-?16|reception|infant)"),
    ("ombudsman", r"ombudsman|\blgsco\b"),
    ("discrimination", r"discriminat"),
    ("exclusion", r"permanent(?:ly)?\s+exclu|\bexcluded\s+permanently"),
    ("assessment-request", r"(?:request|applied|appl\w+|asked)\w*\b.{0,60}?\b(?:assess|ehcna|ehc\s*needs|ehcp|"
                           r"ehc\s+plan)|(?:assessment|ehcna|ehcp)\s+(?:request|application)"
                           r"|(?:sent|made|put\s+in|submitted)\s+(?:in\s+)?(?:the|our|an?|my)\s+(?:\w+\s+){0,3}request"),
))

ORDER_KINDS = (
    ("make-plan", re.compile(r"\b(?:make|issue|maintain|write)\w*\s+(?:an?\s+)?(?:ehc\s*)?(?:plan|ehcp)", re.I)),
    ("assess", re.compile(r"\bassess", re.I)),
    ("amend", re.compile(r"\bamend|section\s+[bf]\b", re.I)),
    ("school", re.compile(r"\bschool\b|section\s+i\b|placement", re.I)),
    ("continue", re.compile(r"continue|keep\s+the\s+plan|not\s+cease", re.I)),
)

# Words just before a date that say which of the event's further dates it is.
ROLES = {
    "decision-letter": (("mediation_certificate", re.compile(r"certificate", re.I)),
                        ("mediation_held", re.compile(r"mediation\s+(?:took\s+place|was\s+held|happened|meeting)"
                                                      r"|had\s+(?:the\s+)?mediation", re.I))),
    "annual-review": (("amendment_notice", re.compile(r"amend", re.I)),),
}


@dataclass
class Finding:
    """What the message told us: the worked-out dates, or the question to ask back."""

    result: D.Result | None = None
    question: str = ""

    def text(self) -> str:
        if self.result is not None:
            return self.result.markdown()
        return f"**Before I work out your dates:** {self.question}"


def find(message: str, today: dt.date) -> Finding | None:
    """The event and its date(s) in one message, or None when it gives no date for an event the guide knows."""
    event = next((key for key, pattern in EVENT_PATTERNS if pattern.search(message)), None)
    matches = list(DATE.finditer(message))
    if event is None or not matches:
        return None
    ev = D.EVENTS[event]
    primary: dt.date | None = None
    extra: dict[str, dt.date] = {}
    previous_end = 0
    for m in matches:
        before = message[max(previous_end, m.start() - 60): m.start()]
        previous_end = m.end()
        role = next((name for name, pat in ROLES.get(event, ()) if pat.search(before)), None)
        if role is None and primary is not None:
            continue  # "it's week 9 today": a second date with no role of its own is not the event's
        try:
            parsed = D.parse_date(m.group(0), today, may_be_future=ev.may_be_future and role is None)
        except D.DateError as exc:
            return Finding(question=f"{exc}. ({ev.label}.)")
        if parsed.date is None:
            return Finding(question=f"{parsed.question} ({ev.label}.)")
        if role:
            extra[role] = parsed.date
        else:
            primary = parsed.date
    if primary is None:
        return Finding(question=f"What is the {ev.date_label.lower()}? ({ev.label}.)")
    kind = ""
    if ev.kinds:
        if event == "tribunal-order":
            kind = next((k for k, pat in ORDER_KINDS if pat.search(message)), "")
            if not kind:
                options = "; ".join(f"{label}" for _, label in ev.kinds)
                return Finding(question=f"What did the Tribunal order the council to do: {options}?")
        else:
            kind = "post-16" if re.search(r"college|sixth\s+form|post-?16", message, re.I) else "school"
    return Finding(result=D.work_out(event, primary, today, extra, kind))


class Deadlines:
    """After the guard: a date for an event in the message becomes the parent's own dates on `ctx.deadlines`."""

    name = "deadlines"

    def __init__(self, today: str | dt.date | None = None):
        self.today = today  # GUIDE_TODAY, or empty for the real date (read at each message)

    def __call__(self, ctx) -> None:
        if ctx.only_docs:
            return  # another nation's question: England's dates would mislead
        today = clock.today(self.today)
        finding = find(ctx.question, today)
        earlier = [m["content"] for m in ctx.history if m["role"] == "user"][-2:]
        if (finding is None or finding.result is None) and earlier and \
                (DATE.search(ctx.question) or ASKS_WHEN.search(ctx.question)):
            # A parent tells the story over several messages ("the LA refused, letter dated 1 March" ... "the
            # certificate is dated 10 May, what's our deadline?"): the event and its dates are read from the
            # conversation, oldest first, when this message gives a date or asks for one. A message with no date
            # only asks ("when should we have the final plan by?"): its words must not name the event.
            story = [*earlier, ctx.question] if DATE.search(ctx.question) else earlier
            told = find(" ".join(story), today)
            if told is not None and (told.result is not None or finding is None):
                finding = told
        if finding is not None:
            ctx.deadlines = [finding]


class DeadlinesReply:
    """After compose: the dates (or the question about them) come first, then the answer as usual."""

    name = "deadlines-reply"
    after_reply = True  # runs whoever finished the reply

    def __call__(self, ctx) -> None:
        if not ctx.deadlines or ctx.reply is None:
            return
        finding = ctx.deadlines[0]
        text = ctx.reply.text
        # Crisis or safeguarding support still leads; the dates come straight after it.
        lead = next((v.text for v in ctx.verdicts if not v.stop and v.text and text.startswith(v.text)), "")
        rest = text[len(lead):].lstrip("\n")
        ctx.reply.text = "\n\n".join(part for part in (lead, finding.text(), rest) if part)
        if finding.result is not None:
            ctx.reply.deadlines = finding.result.to_dicts()
