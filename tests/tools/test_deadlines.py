"""The statutory dates: each rule at its counting convention, month ends, leap years, bank holidays, Christmas and
August, dates as parents write them, ambiguity, and the published worked examples."""

from __future__ import annotations

import datetime as dt

import pytest

from guide.config import Config, ConfigError
from guide.tools import clock
from guide.tools import deadlines as D

D_ = dt.date


def by_key(result: D.Result) -> dict[str, D.Deadline]:
    return {d.key: d for d in result.deadlines}


LATER = D_(2027, 6, 1)


def dates(event, on, today=LATER, extra=None, kind=""):
    return {d.key: d.date for d in D.work_out(event, on, today, extra, kind).deadlines}


# --- published worked examples -------------------------------------------------------------------------------------
def test_ipsea_faq_1_october_letter_29_november_certificate():
    # IPSEA FAQ: letter 1 October -> 2 months expire 1 December; certificate 29 November -> 1 month expires
    # 29 December, the later; it falls 25 Dec-1 Jan, so the appeal is due on the next working day in January.
    result = D.work_out("decision-letter", D_(2026, 10, 1), D_(2026, 12, 1),
                        {"mediation_certificate": D_(2026, 11, 29)})
    appeal = by_key(result)["appeal"]
    assert "1 December 2026" in appeal.note and "29 December 2026" in appeal.note
    # 1 January 2027 is a Friday (bank holiday); the first working day after it is Monday 4 January.
    assert appeal.date == D_(2027, 1, 4)


def test_ipsea_two_months_from_letter_without_certificate():
    assert dates("decision-letter", D_(2026, 10, 1))["appeal"] == D_(2026, 12, 1)


def test_draft_plan_15_days_beginning_with_the_day_served():
    # Reg 13(1): served on 1 March -> the 15 days are 1-15 March.
    assert dates("draft-plan", D_(2027, 3, 1))["draft-comments"] == D_(2027, 3, 15)


# --- each event --------------------------------------------------------------------------------------------------
def test_assessment_request_6_16_20_weeks_from_receipt():
    got = dates("assessment-request", D_(2026, 1, 5))  # a Monday
    assert got == {"decision-to-assess": D_(2026, 2, 16), "no-plan-notice": D_(2026, 4, 27),
                   "final-plan": D_(2026, 5, 25)}
    exceptions = by_key(D.work_out("assessment-request", D_(2026, 1, 5), D_(2026, 1, 6)))["final-plan"].exceptions
    assert "4 weeks" in exceptions and "waiting list" in exceptions


def test_week_count_is_stated_for_an_assessment_request():
    text = D.work_out("assessment-request", D_(2026, 1, 3), D_(2026, 3, 7)).markdown()
    assert "Today is 9 weeks after the request was received." in text


def test_annual_review_report_decision_and_amended_plan():
    got = dates("annual-review", D_(2027, 3, 1))
    assert got["review-report"] == D_(2027, 3, 15)
    assert got["review-decision"] == D_(2027, 3, 29)
    assert got["final-amended-plan-latest"] == D_(2027, 5, 24)
    exact = dates("annual-review", D_(2027, 3, 1), extra={"amendment_notice": D_(2027, 3, 20)})
    assert exact["amendment-comments"] == D_(2027, 4, 3)  # 15 days beginning with 20 March
    assert exact["final-amended-plan"] == D_(2027, 5, 15)  # 8 weeks after the amendment notice (reg 22(3))
    assert "final-amended-plan-latest" not in exact


@pytest.mark.parametrize("kind, expected", [
    ("school", D_(2027, 2, 14)),  # before 15 February in the year of the move
    ("post-16", D_(2027, 3, 30)),  # before 31 March
    ("post-16-other", D_(2027, 4, 1)),  # at least 5 months before a move on 1 September
])
def test_phase_transfer(kind, expected):
    assert dates("phase-transfer", D_(2027, 9, 1), kind=kind)["phase-transfer"] == expected


@pytest.mark.parametrize("kind, expected", [
    ("assess", {"order-assess-notice": D_(2027, 3, 15), "order-assess-no-plan": D_(2027, 5, 10),
                "order-assess-final-plan": D_(2027, 6, 7)}),
    ("make-plan", {"order-draft-plan": D_(2027, 4, 5), "order-final-plan": D_(2027, 5, 17)}),
    ("amend", {"order-amended-plan": D_(2027, 4, 5)}),
    ("school", {"order-school": D_(2027, 3, 15)}),
    ("continue", {"order-continue": D_(2027, 3, 1)}),
])
def test_tribunal_orders_under_regulation_44(kind, expected):
    assert dates("tribunal-order", D_(2027, 3, 1), kind=kind) == expected


def test_tribunal_order_needs_its_kind():
    with pytest.raises(D.DateError, match="needs a kind"):
        D.work_out("tribunal-order", D_(2027, 3, 1), D_(2027, 3, 2))


def test_ombudsman_12_months_beginning_with_the_day():
    assert dates("ombudsman", D_(2026, 3, 10))["ombudsman"] == D_(2027, 3, 9)


def test_discrimination_6_months_and_no_august_extension():
    # Conduct on 15 February -> 6 months starting that day end on 14 August; the SEN August rule does not apply.
    got = D.work_out("discrimination", D_(2027, 2, 15), D_(2027, 3, 1))
    assert by_key(got)["discrimination"].date == D_(2027, 8, 14)
    assert "does not apply" in by_key(got)["discrimination"].exceptions


def test_exclusion_counts_school_days_so_no_date():
    result = D.work_out("exclusion", D_(2027, 3, 1), D_(2027, 3, 2))
    assert all(d.date is None for d in result.deadlines)
    text = result.markdown()
    assert "cannot know your school's term dates" in text and "15 school days" in text


# --- month ends, leap years, bank holidays, Christmas, August -----------------------------------------------------
def test_month_end_31_january_plus_one_month():
    assert D.months(D_(2027, 1, 31), 1) == D_(2027, 2, 28)
    assert D.months(D_(2028, 1, 31), 1) == D_(2028, 2, 29)  # leap year


def test_letter_on_31_december_gives_end_of_february():
    # 2 months after 31 Dec 2026 is 28 Feb 2027, a Sunday: the next working day is Monday 1 March.
    assert dates("decision-letter", D_(2026, 12, 31))["appeal"] == D_(2027, 3, 1)
    # In a leap year it is 29 February 2028, a Tuesday.
    assert dates("decision-letter", D_(2027, 12, 31), today=D_(2028, 1, 2))["appeal"] == D_(2028, 2, 29)


def test_leap_day_event():
    assert dates("ombudsman", D_(2028, 2, 29), today=D_(2028, 3, 1))["ombudsman"] == D_(2029, 2, 27)


def test_appeal_ending_in_august_moves_to_first_working_day_of_september():
    # Letter 15 June 2027 -> 15 August 2027 -> 1 September 2027 (a Wednesday).
    assert dates("decision-letter", D_(2027, 6, 15))["appeal"] == D_(2027, 9, 1)
    # 2029: 1 September is a Saturday, so Monday 3 September.
    assert dates("decision-letter", D_(2029, 6, 10), today=D_(2029, 6, 11))["appeal"] == D_(2029, 9, 3)


def test_appeal_ending_on_1_january_and_on_24_december():
    assert dates("decision-letter", D_(2026, 11, 1), today=D_(2026, 11, 2))["appeal"] == D_(2027, 1, 4)
    # 24 December 2027 is a Friday and a working day: no move.
    assert dates("decision-letter", D_(2027, 10, 24), today=D_(2027, 10, 25))["appeal"] == D_(2027, 12, 24)


def test_appeal_ending_on_a_bank_holiday_moves_to_next_working_day():
    # 2 months after 3 March 2027 is 3 May 2027, the early May bank holiday.
    assert dates("decision-letter", D_(2027, 3, 3), today=D_(2027, 3, 4))["appeal"] == D_(2027, 5, 4)


def test_working_days_skip_weekends_and_english_bank_holidays():
    assert D.is_working_day(D_(2027, 3, 25)) and not D.is_working_day(D_(2027, 3, 26))  # Good Friday 2027
    # Told the adviser on Thursday 24 Dec 2026: 25, 26 (Sat), 27 (Sun), 28 (Boxing Day substitute) do not count.
    got = dates("decision-letter", D_(2026, 11, 1), today=D_(2026, 12, 24),
                extra={"told_adviser_no_mediation": D_(2026, 12, 24)})
    assert got["certificate-no-mediation"] == D_(2026, 12, 31)
    held = dates("decision-letter", D_(2027, 3, 1), extra={"mediation_held": D_(2027, 3, 24)})
    assert held["certificate-after-mediation"] == D_(2027, 3, 31)  # skips Good Friday and Easter Monday
    asked = dates("decision-letter", D_(2027, 3, 1), extra={"asked_for_mediation": D_(2027, 3, 2)})
    assert asked["mediation-held"] == D_(2027, 4, 1)


def test_mediation_adviser_contact_within_2_months():
    assert dates("decision-letter", D_(2026, 10, 1))["contact-mediation-adviser"] == D_(2026, 12, 1)


# --- output ------------------------------------------------------------------------------------------------------
def test_every_deadline_cites_a_legislation_url():
    for event, ev in D.EVENTS.items():
        kind = ev.kinds[0][0] if ev.kinds else ""
        for d in D.work_out(event, D_(2027, 3, 1), D_(2027, 3, 2), kind=kind).deadlines:
            assert d.basis and d.url.startswith("https://www.legislation.gov.uk/"), (event, d.key)


def test_passed_dates_say_so_and_what_to_do():
    result = D.work_out("assessment-request", D_(2026, 1, 5), D_(2026, 3, 1))
    text = result.markdown()
    assert "**This date has passed.**" in text and "Ombudsman" in text
    data = result.to_dicts()
    assert data[0]["passed"] is True and data[0]["date"] == "2026-02-16" and data[0]["days_left"] < 0
    assert data[1]["passed"] is False and data[0]["url"].startswith("https://www.legislation.gov.uk/")
    assert text.startswith("**Your dates.** I understood: Request for an EHC needs assessment received by the "
                           "council, on Monday 5 January 2026")


def test_bad_event_and_bad_extra_are_named():
    with pytest.raises(D.DateError, match="unknown event 'appeal'"):
        D.work_out("appeal", D_(2027, 1, 1), D_(2027, 1, 2))
    with pytest.raises(D.DateError, match="takes no date called mediation_certificate"):
        D.work_out("draft-plan", D_(2027, 1, 1), D_(2027, 1, 2), {"mediation_certificate": D_(2027, 1, 1)})


# --- dates as parents write them ---------------------------------------------------------------------------------
TODAY = D_(2026, 11, 20)  # a Friday


@pytest.mark.parametrize("text, expected", [
    ("3rd Jan", D_(2026, 1, 3)),
    ("1/10", D_(2026, 10, 1)),  # day first
    ("3/4", D_(2026, 4, 3)),  # 3 April, not 4 March
    ("1/10/26", D_(2026, 10, 1)),
    ("1 october", D_(2026, 10, 1)),
    ("29th November 2025", D_(2025, 11, 29)),
    ("last Tuesday", D_(2026, 11, 17)),
    ("yesterday", D_(2026, 11, 19)),
    ("2 weeks ago", D_(2026, 11, 6)),
    ("today", TODAY),
    ("1 December", None),  # this year's is 11 days ahead: asked (see below)
])
def test_parse_dates_as_parents_write_them(text, expected):
    parsed = D.parse_date(text, TODAY)
    if text == "1 December":
        assert parsed.date is None and parsed.choices == (D_(2025, 12, 1), D_(2026, 12, 1))
    else:
        assert parsed.date == expected and not parsed.question


def test_no_year_far_ahead_is_last_year():
    # This year's 25 December is 35 days ahead, beyond the 31-day window: last year's.
    assert D.parse_date("25 December", TODAY).date == D_(2025, 12, 25)


def test_ambiguous_dates_are_asked_not_guessed():
    near = D.parse_date("25 November", TODAY)  # 5 days ahead: last year's, or a slip?
    assert near.date is None and "2025" in near.question and "2026" in near.question and "?" in near.question
    # "next Friday" said on a Monday: this Friday or the one after?
    monday = D_(2026, 11, 16)
    nxt = D.parse_date("next Friday", monday, may_be_future=True)
    assert nxt.date is None and nxt.choices == (D_(2026, 11, 20), D_(2026, 11, 27))
    # Said on a Friday, the coming Friday is already next week: not ambiguous.
    assert D.parse_date("next Friday", TODAY, may_be_future=True).date == D_(2026, 11, 27)
    # A meeting with no year more than 120 days either way.
    far = D.parse_date("1 June", TODAY, may_be_future=True)
    assert far.date is None and far.choices == (D_(2026, 6, 1), D_(2027, 6, 1))
    assert D.parse_date("1 December", TODAY, may_be_future=True).date == D_(2026, 12, 1)


def test_unreadable_and_future_dates_are_errors():
    with pytest.raises(D.DateError, match="could not read '31/2'"):
        D.parse_date("31/2", TODAY)
    with pytest.raises(D.DateError, match="after today"):
        D.parse_date("1 October 2027", TODAY)
    with pytest.raises(D.DateError, match="no date given"):
        D.parse_date("  ", TODAY)
    with pytest.raises(D.DateError, match="in the future"):
        D.parse_date("next Friday", TODAY)


# --- the one clock -------------------------------------------------------------------------------------------------
def test_guide_today_setting():
    assert Config.from_env({"GUIDE_TODAY": "2026-11-20"}).today == "2026-11-20"
    assert clock.today("2026-11-20") == TODAY
    assert clock.today("") == dt.date.today()
    with pytest.raises(ConfigError, match="GUIDE_TODAY='20/11/2026' is not a date: write it as YYYY-MM-DD"):
        Config.from_env({"GUIDE_TODAY": "20/11/2026"})
