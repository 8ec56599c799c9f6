"""Statutory dates: from an event and its date, the dates that follow, each with its legal basis and exceptions.

Pure and deterministic: every function takes `today` (never reads the clock) and England's bank holidays come from
the `holidays` library. Each rule below was checked against the text named in its comment (legislation.gov.uk
unless it says otherwise); where only a secondary source was available, the Deadline says whose reading it is.

Counting conventions used here (and why):
- "within N weeks of X" / "within N months after X": the same weekday N weeks on / the same day-number N months on
  (dateutil's relativedelta, so 31 January + 1 month is 28 or 29 February). This is how the regulations are read by
  IPSEA ("decision letter 1 October: the 2 months expire on 1 December").
- "at least 15 days, beginning with the day on which the draft plan was served" (reg 13(1)(a), 22(2)(c)): the day
  it was served is day 1, so the last day is 14 days later.
- "12 months beginning with the day" (LGA 1974 s26B) / "6 months starting with the date" (Equality Act 2010
  Sch 17 para 4): the day itself counts, so the period ends the day before the same date 12 / 6 months on.
- Working days (mediation certificates): not a Saturday, Sunday or an English bank holiday (Christmas Day and
  Good Friday are among them).
- Tribunal appeals: HESC Rules 2008 rule 12(2) (a limit ending on a non-working day moves to the next working
  day) and rule 12(3)(a) (an SEN appeal limit ending 25 December-1 January or in August moves to the first
  working day after 1 January / 31 August). That rule does not apply to disability discrimination claims.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field

import dateparser
import holidays
from dateutil.relativedelta import relativedelta

SEND_REGS = "https://www.legislation.gov.uk/uksi/2014/1530"
HESC_RULES = "https://www.legislation.gov.uk/uksi/2008/2699"
IPSEA_CHRISTMAS = (
    "https://www.ipsea.org.uk/faqs/my-local-authoritys-decision-letter-is-dated-1-october-and-my-mediation-"
    "certificate-is-dated-29-november-are-there-any-special-rules-about-when-appeals-must-be-submitted-over-the-"
    "christmas-period-are-there-other-times-when-the-deadline-changes"
)

# Reg 5(4), 10(4), 13(3): the only lawful reasons to miss the 6-, 16- and 20-week limits (checked at
# legislation.gov.uk/uksi/2014/1530/regulation/5 and regulation/13/made).
ASSESSMENT_EXCEPTIONS = (
    "Only if meeting it is impractical because: the council asked the school or college for advice in the week "
    "before a closure of at least 4 weeks (in practice the summer holiday) up to a week before it reopens; the "
    "same for an early years provider; exceptional personal circumstances affect the child or family; or the "
    "family is away from the area for at least 4 weeks in a row. A waiting list or staff shortage is not one."
)
NO_EXCEPTIONS = "The regulations give no exceptions to this limit."
LATE_APPEAL = "The Tribunal accepts a late appeal only if it thinks that fair and just, so do not rely on it."


class DateError(ValueError):
    """A date or event the calculator cannot use; the message says what was wrong and what to write instead."""


@dataclass(frozen=True)
class Deadline:
    key: str
    label: str  # what must happen, and who must do it
    date: dt.date | None  # None when the guide cannot know it (school days) or needs another date first
    rule: str  # the limit in words, as the law puts it
    basis: str  # regulation / section
    url: str
    exceptions: str = NO_EXCEPTIONS
    note: str = ""  # how the date was counted, or why there is no date
    source: str = "legislation"  # "legislation" or whose reading it is (e.g. "IPSEA") where not primary

    def to_dict(self, today: dt.date) -> dict:
        return {
            "key": self.key, "label": self.label, "date": self.date.isoformat() if self.date else None,
            "rule": self.rule, "basis": self.basis, "url": self.url, "exceptions": self.exceptions,
            "note": self.note, "source": self.source,
            "passed": bool(self.date and self.date < today),
            "days_left": (self.date - today).days if self.date else None,
        }


@dataclass(frozen=True)
class Event:
    key: str
    label: str  # e.g. "Request for an EHC needs assessment received"
    date_label: str  # what the date is, for the form
    extras: tuple[tuple[str, str], ...] = ()  # optional further dates: (name, label)
    may_be_future: bool = False  # a meeting can be planned; a letter cannot be dated tomorrow
    kinds: tuple[tuple[str, str], ...] = ()  # e.g. tribunal order kinds


TRIBUNAL_ORDER_KINDS = (
    ("assess", "to carry out an EHC needs assessment (or reassessment)"),
    ("make-plan", "to make and maintain an EHC plan"),
    ("amend", "to amend the plan (sections B, F or other parts)"),
    ("school", "to change the school or type of school named (section I) only"),
    ("continue", "to keep (continue to maintain) the plan"),
)

EVENTS: dict[str, Event] = {e.key: e for e in (
    Event("assessment-request", "Request for an EHC needs assessment received by the council",
          "Date the council received the request"),
    Event("draft-plan", "Draft EHC plan served (sent to you)", "Date the draft plan was served"),
    Event("decision-letter", "Council decision letter you can appeal (refusal to assess or to issue a plan, a final "
          "or amended plan, a decision to cease or not to amend)", "Date of the decision letter",
          extras=(("mediation_certificate", "Date of the mediation certificate (if you have one)"),
                  ("told_adviser_no_mediation", "Date you told the mediation adviser you do not want mediation"),
                  ("asked_for_mediation", "Date you told the council you want mediation"),
                  ("mediation_held", "Date the mediation took place"))),
    Event("annual-review", "Annual review meeting", "Date of the review meeting", may_be_future=True,
          extras=(("amendment_notice", "Date the council sent the proposed amendments (if it has)"),)),
    Event("amendment-notice", "Proposed amendments to an EHC plan sent (after a review)",
          "Date the council sent the proposed amendments"),
    Event("phase-transfer", "Moving school phase (e.g. to primary, junior, secondary or post-16)",
          "Date of the move (e.g. 1 September 2027)", may_be_future=True,
          kinds=(("school", "between schools or from early years"), ("post-16", "from secondary school to a "
                 "post-16 institution"), ("post-16-other", "between post-16 institutions at another time"))),
    Event("tribunal-order", "SEND Tribunal order (you won your appeal)", "Date of the Tribunal's order",
          kinds=TRIBUNAL_ORDER_KINDS),
    Event("ombudsman", "Complaint about the council to the Local Government and Social Care Ombudsman",
          "Date you first knew about the problem"),
    Event("discrimination", "Disability discrimination claim against a school", "Date of the discrimination"),
    Event("exclusion", "Permanent exclusion from school", "Date you were told of the exclusion"),
)}


EXTRA_TEXT = {
    "mediation_certificate": "mediation certificate dated", "told_adviser_no_mediation": "you told the mediation "
    "adviser you do not want mediation on", "asked_for_mediation": "you asked the council for mediation on",
    "mediation_held": "mediation held on", "amendment_notice": "proposed amendments sent on",
}


# --- working days ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _england() -> holidays.HolidayBase:
    # England's bank holidays (with substitute days) from the maintained `holidays` library; years fill in lazily.
    return holidays.country_holidays("GB", subdiv="ENG")


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _england()


def next_working_day(day: dt.date) -> dt.date:
    """`day` itself if it is a working day, else the next one."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_working_days(day: dt.date, n: int) -> dt.date:
    """The nth working day after `day` (the day itself does not count)."""
    while n > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


def weeks(day: dt.date, n: int) -> dt.date:
    return day + dt.timedelta(weeks=n)


def months(day: dt.date, n: int) -> dt.date:
    return day + relativedelta(months=n)


def appeal_limit_day(day: dt.date) -> tuple[dt.date, str]:
    """Where an SEN appeal limit that ends on `day` really ends: HESC Rules 2008 rule 12(2) and 12(3)(a)."""
    # rule 12(3)(a) (as amended by the Tribunal Procedure (Amendment) Rules 2020, wording checked at
    # mentalhealthlaw.co.uk's copy of rule 12; IPSEA's FAQ gives the same reading).
    if (day.month == 12 and day.day >= 25) or (day.month == 1 and day.day == 1):
        new_year = dt.date(day.year + (1 if day.month == 12 else 0), 1, 1)
        moved = next_working_day(new_year + dt.timedelta(days=1))
        return moved, (f"it would end on {fmt(day)}, between 25 December and 1 January, so it moves to the first "
                       f"working day after 1 January (HESC Rules rule 12(3)(a))")
    if day.month == 8:
        moved = next_working_day(dt.date(day.year, 9, 1))
        return moved, (f"it would end on {fmt(day)}, in August, so it moves to the first working day after 31 August "
                       "(HESC Rules rule 12(3)(a))")
    if not is_working_day(day):
        moved = next_working_day(day)
        return moved, (f"it would end on {fmt(day)}, which is not a working day, so it moves to the next working day "
                       "(HESC Rules rule 12(2))")
    return day, ""


def fmt(day: dt.date) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}"


# --- the rules ---------------------------------------------------------------------------------------------------
def compute(event: str, on: dt.date, today: dt.date, extra: dict[str, dt.date] | None = None,
            kind: str = "") -> list[Deadline]:
    """The dates that follow `event` on `on`. `extra` holds further dates the event lists in EVENTS[event].extras."""
    if event not in EVENTS:
        raise DateError(f"unknown event {event!r}: use one of {', '.join(EVENTS)}")
    extra = dict(extra or {})
    unknown = set(extra) - {name for name, _ in EVENTS[event].extras}
    if unknown:
        raise DateError(f"{event!r} takes no date called {', '.join(sorted(unknown))}; it takes "
                        f"{', '.join(n for n, _ in EVENTS[event].extras) or 'no further dates'}")
    kinds = {k for k, _ in EVENTS[event].kinds}
    if kinds and kind not in kinds:
        raise DateError(f"{event!r} needs a kind: one of {', '.join(sorted(kinds))}")
    return _RULES[event](on, extra, kind)


def _assessment_request(on: dt.date, extra: dict, kind: str) -> list[Deadline]:
    return [
        # reg 5(1): "within 6 weeks of (a) receiving a request for an assessment under section 36(1)".
        Deadline("decision-to-assess", "The council must tell you whether it will carry out an EHC needs assessment",
                 weeks(on, 6), "within 6 weeks of receiving the request", "SEND Regulations 2014, regulation 5(1)",
                 f"{SEND_REGS}/regulation/5", ASSESSMENT_EXCEPTIONS,
                 "Counted from the day the council received the request, not the day it was sent."),
        # reg 10(1): notice of a decision not to secure a plan within 16 weeks of the request.
        Deadline("no-plan-notice", "If the council decides not to issue an EHC plan after assessing, it must tell "
                 "you", weeks(on, 16), "within 16 weeks of receiving the request",
                 "SEND Regulations 2014, regulation 10(1)", f"{SEND_REGS}/regulation/10", ASSESSMENT_EXCEPTIONS,
                 "The law sets no separate date for the draft plan; IPSEA says it should come by about week 14 so the "
                 "20-week limit can be met."),
        # reg 13(2): the finalised plan "as soon as practicable, and in any event within 20 weeks".
        Deadline("final-plan", "The council must send the final EHC plan", weeks(on, 20),
                 "as soon as practicable, and in any event within 20 weeks of receiving the request",
                 "SEND Regulations 2014, regulation 13(2)", f"{SEND_REGS}/regulation/13", ASSESSMENT_EXCEPTIONS),
    ]


def _draft_plan(on: dt.date, extra: dict, kind: str) -> list[Deadline]:
    # reg 13(1)(a): "at least 15 days, beginning with the day on which the draft plan was served".
    return [Deadline("draft-comments", "Your comments on the draft plan, your request for a school, and any request "
                     "for a meeting", on + dt.timedelta(days=14),
                     "at least 15 days, beginning with the day on which the draft plan was served",
                     "SEND Regulations 2014, regulation 13(1)", f"{SEND_REGS}/regulation/13",
                     "This is the least the council must give you (calendar days, not working days); it may give more.",
                     "The day the draft was served is day 1 of the 15.")]


def _decision_letter(on: dt.date, extra: dict, kind: str) -> list[Deadline]:
    out = [
        # reg 33: contact the mediation adviser "within 2 months after written notice ... was sent".
        Deadline("contact-mediation-adviser", "You must contact the mediation adviser named in the letter (needed "
                 "before most appeals)", months(on, 2), "within 2 months after the council's decision letter was sent",
                 "SEND Regulations 2014, regulation 33", f"{SEND_REGS}/regulation/33",
                 "Not needed if your appeal is only about the school or type of school named (section I), or for a "
                 "disability discrimination claim.", "Children and Families Act 2014 s55 makes this step a condition "
                 "of most appeals."),
    ]
    told_no = extra.get("told_adviser_no_mediation")
    if told_no:
        # reg 34: certificate within 3 working days of being told the parent does not wish to pursue mediation.
        out.append(Deadline("certificate-no-mediation", "The mediation adviser must send your mediation certificate",
                            add_working_days(told_no, 3), "within 3 working days of you saying you do not want "
                            "mediation", "SEND Regulations 2014, regulation 34",
                            f"{SEND_REGS}/part/2/crossheading/mediation", note="Working days: not weekends or English "
                            "bank holidays.", source="legislation (wording as IPSEA and the mediation cross-heading)"))
    asked = extra.get("asked_for_mediation")
    if asked:
        # reg 37: mediation within 30 days of the LA being told the parent wants mediation, else a certificate.
        out.append(Deadline("mediation-held", "The mediation must take place (if not, you get a certificate instead)",
                            asked + dt.timedelta(days=30), "within 30 days of you telling the council you want "
                            "mediation", "SEND Regulations 2014, regulation 37",
                            f"{SEND_REGS}/part/2/crossheading/mediation",
                            "If the council cannot arrange it in time, the adviser must send a certificate within 3 "
                            "working days of being told.", source="legislation (wording as IPSEA's 'The mediation "
                            "process')"))
    held = extra.get("mediation_held")
    if held:
        # reg 39: certificate within 3 working days of the mediation.
        out.append(Deadline("certificate-after-mediation", "The mediation adviser must send your mediation "
                            "certificate", add_working_days(held, 3), "within 3 working days of the mediation",
                            "SEND Regulations 2014, regulation 39", f"{SEND_REGS}/part/2/crossheading/mediation",
                            note="Working days: not weekends or English bank holidays.",
                            source="legislation (wording as IPSEA and the mediation cross-heading)"))
    # HESC Rules rule 20(1)(c): "(i) within 2 months after written notice of the decision being challenged was sent
    # ... or (ii) within 1 month from the date of issue of the mediation certificate if that date would be later".
    two = months(on, 2)
    cert = extra.get("mediation_certificate")
    raw, how = two, f"2 months from the letter of {fmt(on)} is {fmt(two)}"
    if cert:
        one = months(cert, 1)
        how += f"; 1 month from the certificate of {fmt(cert)} is {fmt(one)}"
        if one > two:
            raw = one
        how += f"; the later is {fmt(raw)}"
    limit, moved = appeal_limit_day(raw)
    note = how + (f"; {moved}." if moved else ".")
    if not cert:
        note += " A mediation certificate dated later than one month before that date gives you longer."
    out.append(Deadline("appeal", "Your appeal must reach the SEND Tribunal", limit,
                        "within 2 months of the decision letter, or 1 month from the mediation certificate, whichever "
                        "is later", "Tribunal Procedure (First-tier Tribunal) (HESC) Rules 2008, rules 20(1)(c) and 12",
                        f"{HESC_RULES}/article/20", LATE_APPEAL, note))
    return out


def _annual_review(on: dt.date, extra: dict, kind: str) -> list[Deadline]:
    out = [
        # reg 20(7) (at a school) / reg 21(7) (not at a school, wording checked): report within 2 weeks of the meeting.
        Deadline("review-report", "The review report (recommended changes to the plan) must be sent", weeks(on, 2),
                 "within 2 weeks of the review meeting", "SEND Regulations 2014, regulations 20(7) and 21(7)",
                 f"{SEND_REGS}/part/2/crossheading/reviews-and-reassessments"),
        # Reg 20(10)/21(8): decision within 4 weeks of the meeting (sub-paragraph numbers from the Regulations'
        # structure; the 4 weeks is confirmed by council Local Offer pages and the knowledge base's annual-reviews).
        Deadline("review-decision", "The council must tell you whether it will keep, amend or end (cease) the plan",
                 weeks(on, 4), "within 4 weeks of the review meeting",
                 "SEND Regulations 2014, regulations 20(10) and 21(8)",
                 f"{SEND_REGS}/part/2/crossheading/reviews-and-reassessments",
                 note="If it will amend the plan, the proposed amendments should come within these 4 weeks too "
                 "(R (L, M, P) v Devon CC [2022] EWHC 493 (Admin)).", source="legislation (as read by council "
                 "Local Offer pages; sub-paragraph not re-read)"),
    ]
    notice = extra.get("amendment_notice")
    if notice:
        out += _amendment_notice(notice, {}, "")
    else:
        out.append(Deadline("final-amended-plan-latest", "If the plan is amended: the final amended plan, at the "
                            "latest", weeks(on, 12), "within 8 weeks of the proposed amendments, which are due within "
                            "4 weeks of the meeting", "SEND Regulations 2014, regulation 22(3)",
                            f"{SEND_REGS}/regulation/22", note="About 12 weeks from the meeting if the proposed "
                            "amendments come on the last day of the 4 weeks; give the date they were sent for the "
                            "exact date."))
    return out


def _amendment_notice(on: dt.date, extra: dict, kind: str) -> list[Deadline]:
    return [
        # reg 22(2)(c): "at least 15 days, beginning with the day on which the draft plan was served".
        Deadline("amendment-comments", "Your comments on the proposed amendments, and any request for a school or a "
                 "meeting", on + dt.timedelta(days=14), "at least 15 days, beginning with the day the proposed "
                 "amendments were served", "SEND Regulations 2014, regulation 22(2)(c)", f"{SEND_REGS}/regulation/22",
                 "This is the least the council must give you; it may give more.", "The day they were served is "
                 "day 1 of the 15."),
        # reg 22(3): finalised plan "within 8 weeks of the local authority sending a copy of the EHC plan" under (2)(a).
        Deadline("final-amended-plan", "The council must send the final amended EHC plan", weeks(on, 8),
                 "as soon as practicable, and in any event within 8 weeks of sending the proposed amendments",
                 "SEND Regulations 2014, regulation 22(3)", f"{SEND_REGS}/regulation/22"),
    ]


def _phase_transfer(on: dt.date, extra: dict, kind: str) -> list[Deadline]:
    url = f"{SEND_REGS}/regulation/18"
    if kind == "post-16-other":
        # reg 18(2): "at least five months before that transfer takes place".
        return [Deadline("phase-transfer", "The council must review and amend the plan to name the new post-16 "
                         "institution", months(on, -5), "at least 5 months before the move",
                         "SEND Regulations 2014, regulation 18(2)", url)]
    # reg 18(1): review and amend "before (a) 31 March in the calendar year of the ... transfer from secondary
    # school to a post-16 institution; and (b) 15 February in the calendar year of the child's transfer in any
    # other case".
    if kind == "post-16":
        cut, rule, basis = dt.date(on.year, 3, 31), "before 31 March in the calendar year of the move", "18(1)(a)"
    else:
        cut, rule, basis = dt.date(on.year, 2, 15), "before 15 February in the calendar year of the move", "18(1)(b)"
    return [Deadline("phase-transfer", "The council must have reviewed and amended the plan, naming the new school "
                     "or college", cut - dt.timedelta(days=1), rule, f"SEND Regulations 2014, regulation {basis}", url,
                     note=f"'Before {cut.day} {cut.strftime('%B')}' means by {fmt(cut - dt.timedelta(days=1))} at "
                     "the latest.")]


def _tribunal_order(on: dt.date, extra: dict, kind: str) -> list[Deadline]:
    url = f"{SEND_REGS}/regulation/44"
    # Reg 44(2) wording as quoted in full by sendfamilymagic.mykajabi.com/blog/appeal-guidance and gov.uk SEND18;
    # (e) and (f) as IPSEA (BA v Nottinghamshire); counted from the date of the order.
    src = "legislation (reg 44 text as quoted by gov.uk SEND18 and secondary sources)"
    if kind == "assess":
        return [
            Deadline("order-assess-notice", "The council must tell you it will carry out the assessment",
                     weeks(on, 2), "within 2 weeks of the order", "SEND Regulations 2014, regulation 44(2)(b)", url,
                     source=src),
            Deadline("order-assess-no-plan", "If, after assessing, it decides not to issue a plan, it must tell you",
                     weeks(on, 10), "within 10 weeks of the order", "SEND Regulations 2014, regulation 44(2)(b)(i)",
                     url, source=src),
            Deadline("order-assess-final-plan", "If it decides to issue a plan, the final plan", weeks(on, 14),
                     "within 14 weeks of the order", "SEND Regulations 2014, regulation 44(2)(b)(ii)", url, source=src),
        ]
    if kind == "make-plan":
        return [
            Deadline("order-draft-plan", "The council must issue a draft EHC plan", weeks(on, 5),
                     "within 5 weeks of the order", "SEND Regulations 2014, regulation 44(2)(c)(i)", url, source=src),
            Deadline("order-final-plan", "The council must send the final EHC plan", weeks(on, 11),
                     "within 11 weeks of the order", "SEND Regulations 2014, regulation 44(2)(c)(ii)", url, source=src),
        ]
    if kind == "amend":
        return [Deadline("order-amended-plan", "The council must issue the amended EHC plan", weeks(on, 5),
                         "within 5 weeks of the order", "SEND Regulations 2014, regulation 44(2)(e)", url, source=src)]
    if kind == "school":
        return [Deadline("order-school", "The council must issue the plan naming the school or type of school ordered",
                         weeks(on, 2), "within 2 weeks of the order", "SEND Regulations 2014, regulation 44(2)(f)", url,
                         source=src)]
    return [Deadline("order-continue", "The council must continue to maintain the plan", on, "immediately",
                     "SEND Regulations 2014, regulation 44(2)", url, source="gov.uk SEND18 ('immediately')")]


def _ombudsman(on: dt.date, extra: dict, kind: str) -> list[Deadline]:
    # LGA 1974 s26B(2): "the period of 12 months beginning with (a) the day on which the person affected first had
    # notice of the matter"; s26B(3): the Ombudsman may disapply the limit.
    return [Deadline("ombudsman", "Your complaint must reach the Local Government and Social Care Ombudsman",
                     months(on, 12) - dt.timedelta(days=1), "within 12 months beginning with the day you first knew "
                     "of the problem", "Local Government Act 1974, section 26B", "https://www.legislation.gov.uk/"
                     "ukpga/1974/7/section/26B", "The Ombudsman may accept a later complaint (s26B(3)), but do "
                     "not rely on it. It normally expects you to finish the council's own complaints procedure first.",
                     "The day you first knew counts, so the 12 months end the day before the same date next year.")]


def _discrimination(on: dt.date, extra: dict, kind: str) -> list[Deadline]:
    # Equality Act 2010 Sch 17 para 4: 6 months starting with the date of the conduct (the Tribunal may consider a
    # claim out of time). Not re-read at legislation.gov.uk here: the period as IPSEA and SENDIASS give it.
    return [Deadline("discrimination", "Your disability discrimination claim must reach the SEND Tribunal (claims "
                     "against schools)", months(on, 6) - dt.timedelta(days=1), "within 6 months of the "
                     "discrimination", "Equality Act 2010, Schedule 17, paragraph 4",
                     "https://www.legislation.gov.uk/ukpga/2010/15/schedule/17", "The Tribunal may consider a late "
                     "claim, but do not rely on it. The Christmas and August extension for SEN appeals does not apply "
                     "to these claims (HESC Rules rule 12(3), as amended in 2020).", "Counted as 6 months starting "
                     "with the date of the discrimination, so it ends the day before the same date 6 months on.",
                     source="legislation (period as IPSEA and SENDIASS give it; paragraph not re-read)")]


def _exclusion(on: dt.date, extra: dict, kind: str) -> list[Deadline]:
    url = "https://www.legislation.gov.uk/uksi/2012/1033"
    why = "These limits count school days. The guide cannot know your school's term dates, so it cannot give a date."
    return [
        Deadline("exclusion-governors", "The governing board must consider whether to reinstate your child", None,
                 "within 15 school days of being told of the permanent exclusion",
                 "School Discipline (Pupil Exclusions and Reviews) (England) Regulations 2012, regulation 6", url,
                 note=why),
        Deadline("exclusion-review", "Your application for an independent review panel", None,
                 "within 15 school days after the day you are told in writing of the governing board's decision",
                 "School Discipline (Pupil Exclusions and Reviews) (England) Regulations 2012, Schedule 1, "
                 "paragraph 2(1)", f"{url}/schedules/made", note=why),
    ]


_RULES = {
    "assessment-request": _assessment_request, "draft-plan": _draft_plan, "decision-letter": _decision_letter,
    "annual-review": _annual_review, "amendment-notice": _amendment_notice, "phase-transfer": _phase_transfer,
    "tribunal-order": _tribunal_order, "ombudsman": _ombudsman, "discrimination": _discrimination,
    "exclusion": _exclusion,
}


# --- dates as parents write them ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedDate:
    date: dt.date | None
    text: str
    question: str = ""  # set when the date is ambiguous: what to ask the parent
    choices: tuple[dt.date, ...] = ()


_YEAR = re.compile(r"\b(19|20)\d{2}\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2}\b")
_RELATIVE = re.compile(r"\b(today|yesterday|tomorrow|ago|last|next|this)\b", re.I)
_MONTHS = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_ABSOLUTE = re.compile(rf"\b\d{{1,2}}\s*(st|nd|rd|th)?\s*(of\s+)?{_MONTHS}\b|\b\d{{1,2}}[/.-]\d{{1,2}}\b"
                       rf"|\b{_MONTHS}\s+\d{{1,2}}\b", re.I)
_NEXT_WEEKDAY = re.compile(r"\bnext\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A date with no year whose nearer reading is more than this far from today could as well be the other year's.
AMBIGUOUS_AFTER_DAYS = 120
# A past event written without a year is read as this year's date unless that is more than this far ahead, when
# it is read as last year's; inside the window it could be either (a typo, or a date still to come), so we ask.
FUTURE_WINDOW_DAYS = 31


def parse_date(text: str, today: dt.date, may_be_future: bool = False) -> ParsedDate:
    """A date written the way parents write it ("3rd Jan", "1/10", "last Tuesday"), read day-first, relative to today.

    Ambiguous (asked about, never guessed):
    - "next Friday" when the coming Friday is in the same week as today (this Friday or the one after?);
    - no year, for an event that has already happened: this year's date is 1-31 days ahead (last year's, or a slip?);
    - no year, for an event that may be still to come: the nearer reading is more than 120 days away.
    A date that cannot be read, or a date in the future for an event that has happened, is a DateError.
    """
    raw = text.strip()
    if not raw:
        raise DateError("no date given: write it like 3 January 2026, 3/1/2026 or 'last Tuesday'")
    base = dt.datetime.combine(today, dt.time(12))
    settings = {"DATE_ORDER": "DMY", "RELATIVE_BASE": base, "PREFER_DAY_OF_MONTH": "first",
                "PREFER_DATES_FROM": "future" if may_be_future else "past", "STRICT_PARSING": False}
    m = _NEXT_WEEKDAY.search(raw)
    if m and not may_be_future:
        raise DateError(f"{raw!r} is in the future; this event has already happened, so give the date it happened")
    if m:
        target = _WEEKDAYS.index(m.group(1).lower())
        ahead = (target - today.weekday()) % 7 or 7
        coming = today + dt.timedelta(days=ahead)
        if today.weekday() + ahead <= 6:  # the coming one is still this week
            after = coming + dt.timedelta(days=7)
            return ParsedDate(None, raw, f"By \"{raw}\", do you mean {fmt(coming)} or {fmt(after)}?", (coming, after))
        return ParsedDate(coming, raw)
    parsed = dateparser.parse(raw, languages=["en"], settings=settings)
    if parsed is None:
        raise DateError(f"I could not read {raw!r} as a date: write it like 3 January 2026 or 3/1/2026 (day first)")
    day = parsed.date()
    explicit_year = bool(_YEAR.search(raw))
    relative = bool(_RELATIVE.search(raw)) and not _ABSOLUTE.search(raw)
    if explicit_year or relative:
        if not may_be_future and day > today:
            raise DateError(f"{raw!r} is after today ({fmt(today)}); this event has already happened, so check the "
                            "date (day first, e.g. 3/1/2026 is 3 January)")
        return ParsedDate(day, raw)
    # No year: consider this year's and the neighbouring years' readings.
    options = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            options.append(day.replace(year=year))
        except ValueError:  # 29 February in a year without one
            continue
    if not may_be_future:
        ahead = [d for d in options if today < d <= today + dt.timedelta(days=FUTURE_WINDOW_DAYS)]
        past = max((d for d in options if d <= today), default=None)
        if ahead and past:
            return ParsedDate(None, raw, f"Do you mean {fmt(past)} or {fmt(ahead[0])}? Please give the year.",
                              (past, ahead[0]))
        if past is None:
            raise DateError(f"I could not place {raw!r} in the past: please give the year")
        return ParsedDate(past, raw)
    options.sort(key=lambda d: abs((d - today).days))
    near = options[0]
    if abs((near - today).days) > AMBIGUOUS_AFTER_DAYS and len(options) > 1:
        other = options[1]
        first, second = sorted((near, other))
        return ParsedDate(None, raw, f"Do you mean {fmt(first)} or {fmt(second)}? Please give the year.",
                          (first, second))
    return ParsedDate(near, raw)


# --- the whole answer --------------------------------------------------------------------------------------------
@dataclass
class Result:
    event: str
    on: dt.date
    today: dt.date
    deadlines: list[Deadline]
    extra: dict[str, dt.date] = field(default_factory=dict)
    kind: str = ""

    def to_dicts(self) -> list[dict]:
        return [{**d.to_dict(self.today), "event": self.event, "event_date": self.on.isoformat()}
                for d in self.deadlines]

    def markdown(self) -> str:
        return render(self)


def work_out(event: str, on: dt.date, today: dt.date, extra: dict[str, dt.date] | None = None,
             kind: str = "") -> Result:
    return Result(event, on, today, compute(event, on, today, extra, kind), dict(extra or {}), kind)


def from_text(event: str, date: str, today: dt.date, extra: dict[str, str] | None = None, kind: str = "") -> Result:
    """The form's and the API's way in: dates as the parent typed them. Raises DateError naming the field that is
    wrong, or asking which date was meant."""
    if event not in EVENTS:
        raise DateError(f"event: {event!r} is not one the guide knows; use one of {', '.join(EVENTS)}")
    ev = EVENTS[event]
    allowed = dict(ev.extras)
    parsed_extra: dict[str, dt.date] = {}
    for name, text in (extra or {}).items():
        if not str(text or "").strip():
            continue
        if name not in allowed:
            raise DateError(f"extra.{name}: {event!r} takes no date called {name!r}; it takes "
                            f"{', '.join(allowed) or 'no further dates'}")
        parsed_extra[name] = _one(f"extra.{name}", str(text), today, False)
    kinds = dict(ev.kinds)
    if kinds and kind not in kinds:
        raise DateError(f"kind: {event!r} needs one of {', '.join(kinds)}")
    return work_out(event, _one("date", date, today, ev.may_be_future), today, parsed_extra, kind)


def _one(name: str, text: str, today: dt.date, may_be_future: bool) -> dt.date:
    try:
        parsed = parse_date(text, today, may_be_future)
    except DateError as exc:
        raise DateError(f"{name}: {exc}") from None
    if parsed.date is None:
        raise DateError(f"{name}: {parsed.question}")
    return parsed.date


def _what_now(d: Deadline, today: dt.date) -> str:
    if d.key == "appeal":
        return ("You may still ask the Tribunal to accept a late appeal: send it now and explain why it is late. Get "
                "advice from SENDIASS or IPSEA first.")
    if d.key in {"discrimination", "ombudsman"}:
        return "You can still send it now and explain why it is late; the limit can be extended, but not always."
    if d.key == "draft-comments" or d.key == "amendment-comments":
        return "Send your comments now anyway; the council should still consider them before it finalises the plan."
    if d.key == "contact-mediation-adviser":
        return "Contact the mediation adviser now, and check your appeal date below."
    if d.key == "review-report":
        return "Ask the school or council for the report in writing."
    return ("The council has missed this legal deadline unless a lawful exception applies. Write to the council "
            "quoting the regulation and asking when it will act; if that fails, complain, then go to the Local "
            "Government and Social Care Ombudsman (or ask a solicitor about judicial review).")


def render(result: Result) -> str:
    """The dates as Markdown, stating first the event and date understood; each line cites its basis."""
    ev = EVENTS[result.event]
    kind = dict(ev.kinds).get(result.kind, "")
    head = f"**Your dates.** I understood: {ev.label}{' (' + kind + ')' if kind else ''}, on {fmt(result.on)}"
    for name, day in result.extra.items():
        head += f"; {EXTRA_TEXT[name]} {fmt(day)}"
    lines = [head + f". Today is {fmt(result.today)}.", ""]
    for d in result.deadlines:
        when = fmt(d.date) if d.date else "no date (see why)"
        line = f"- **{when}**: {d.label} ({d.rule}; [{d.basis}]({d.url}))."
        if d.date and d.date < result.today:
            line += f" **This date has passed.** {_what_now(d, result.today)}"
        elif d.date:
            left = (d.date - result.today).days
            line += " That is today." if left == 0 else f" {left} day{'s' if left != 1 else ''} from today."
        if d.note:
            line += f" {d.note}"
        if d.exceptions and d.exceptions != NO_EXCEPTIONS:
            line += f" Exceptions: {d.exceptions}"
        if d.source != "legislation":
            line += f" (Source: {d.source}.)"
        lines.append(line)
    if result.event == "assessment-request":
        weeks_in, days_in = divmod((result.today - result.on).days, 7)
        if weeks_in >= 0:
            lines.append(f"- Today is {weeks_in} week{'s' if weeks_in != 1 else ''}"
                         f"{f' and {days_in} day' + ('s' if days_in != 1 else '') if days_in else ''} after the "
                         "request was received.")
    if result.event == "decision-letter":
        lines.append(f"- The Christmas and August rule is also explained by [IPSEA]({IPSEA_CHRISTMAS}).")
    lines.append("")
    lines.append("These dates are worked out from the rules; check them against your letters. This is information, "
                 "not legal advice.")
    return "\n".join(lines)
