"""The chat uses the dates: a message that gives a date for an event gets the worked-out dates first (with the event
and date understood, each cited), then the usual answer; the Reply carries them as data. Real guide, real index."""

from __future__ import annotations

import datetime as dt

import pytest

from guide.answer.deadlines_step import find

TODAY = dt.date(2026, 3, 7)  # a Saturday


@pytest.fixture(scope="module")
def dated_guide(config, embedder, guide):
    """The session's guide with its clock fixed (GUIDE_TODAY=2026-03-07); `guide` first so the index exists."""
    from guide import Guide

    return Guide(config.replace(today="2026-03-07"), embedder=embedder)


@pytest.mark.parametrize("message, event, date", [
    ("we sent the request on 3rd Jan and it's week 9", "assessment-request", "2026-01-03"),
    ("The council got our EHC needs assessment request on 12/1/2026", "assessment-request", "2026-01-12"),
    ("the draft EHCP came on 1/3, how long do I have?", "draft-plan", "2026-03-01"),
    ("decision letter dated 1 october 2025, mediation certificate 29 november 2025", "decision-letter", "2025-10-01"),
    ("annual review meeting was last Tuesday", "annual-review", "2026-03-03"),
    ("The tribunal ordered the council to issue a plan on 2 March 2026", "tribunal-order", "2026-03-02"),
    ("the school discriminated against him on 2 February", "discrimination", "2026-02-02"),
    ("he was permanently excluded yesterday", "exclusion", "2026-03-06"),
])
def test_find_event_and_date(message, event, date):
    finding = find(message, TODAY)
    assert finding.result is not None, finding.question
    assert finding.result.event == event and finding.result.on.isoformat() == date


def test_find_roles_of_several_dates():
    finding = find("decision letter dated 1 october 2025, mediation certificate 29 november 2025", TODAY)
    assert finding.result.extra == {"mediation_certificate": dt.date(2025, 11, 29)}
    # "today" after the event's date is not a second event date.
    assert find("we sent the request on 3rd Jan and it's week 9 today", TODAY).result.on == dt.date(2026, 1, 3)


def test_no_date_or_no_event_means_no_dates():
    assert find("How long do I have to appeal?", TODAY) is None
    assert find("My son was born on 3 May 2015", TODAY) is None  # a date, but no event the guide knows


def test_ambiguous_or_missing_detail_is_asked():
    near = find("I want to complain to the ombudsman, I found out on 25 March", TODAY)
    assert near.result is None and "25 March 2025" in near.question and "25 March 2026" in near.question
    order = find("the tribunal ordered something on 2 March 2026", TODAY)
    assert order.result is None and "What did the Tribunal order" in order.question


def test_chat_states_dates_first_then_the_answer(dated_guide):
    reply = dated_guide.ask("we sent the request on 3rd Jan and it's week 9, when should we hear if they will assess?")
    text = reply.text
    assert text.startswith("**Your dates.** I understood: Request for an EHC needs assessment received by the "
                           "council, on Saturday 3 January 2026")
    assert "**Saturday 14 February 2026**" in text and "**This date has passed.**" in text  # the 6 weeks
    assert "https://www.legislation.gov.uk/uksi/2014/1530/regulation/5" in text
    assert "Today is 9 weeks after the request was received." in text
    # The usual cited answer follows the dates.
    assert reply.behaviour == "answer" and reply.citations
    assert text.index("**Your dates.**") < text.index("[1]")
    keys = [d["key"] for d in reply.deadlines]
    assert keys == ["decision-to-assess", "no-plan-notice", "final-plan"]
    assert reply.to_dict()["deadlines"][0]["date"] == "2026-02-14" and reply.deadlines[0]["passed"] is True


def test_chat_appeal_with_mediation_certificate(dated_guide):
    reply = dated_guide.ask("decision letter dated 1 october 2025, mediation certificate 29 november 2025 - when is "
                            "the last day to appeal?")
    appeal = next(d for d in reply.deadlines if d["key"] == "appeal")
    assert appeal["date"] == "2026-01-02"  # 29 Dec 2025 -> first working day after 1 January 2026 (a Friday)
    assert "**Friday 2 January 2026**" in reply.text and "rule 12(3)(a)" in reply.text
    assert "This date has passed" in reply.text and "late appeal" in reply.text


def test_chat_without_a_date_is_unchanged(dated_guide):
    reply = dated_guide.ask("How long does the council have to decide whether to assess my child?")
    assert reply.deadlines == [] and not reply.text.startswith("**Your dates")


def test_chat_asks_about_an_ambiguous_date(dated_guide):
    reply = dated_guide.ask("I want to complain to the ombudsman about the council, I found out on 25 March")
    assert reply.text.startswith("**Before I work out your dates:** Do you mean")
    assert reply.deadlines == []


def test_a_stopped_reply_gets_no_dates(dated_guide):
    # Another nation: the guard finishes the reply; English dates must not be added.
    reply = dated_guide.ask("We live in Wales and sent the request for an assessment on 3rd Jan")
    assert reply.behaviour == "signpost" and reply.deadlines == [] and "Your dates" not in reply.text


def test_crisis_support_still_leads(dated_guide):
    reply = dated_guide.ask("I can't cope any more and feel like ending it all. We sent the EHC needs assessment "
                            "request on 3rd Jan and have heard nothing.")
    assert reply.reason == "distress" and reply.deadlines
    assert reply.text.index("Samaritans") < reply.text.index("**Your dates.**")


def _conversation(guide, *turns):
    history: list[dict] = []
    reply = None
    for turn in turns:
        reply = guide.ask(turn, history=history)
        history += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply.text}]
    return reply


def test_dates_told_over_two_messages_are_worked_out_together(dated_guide):
    reply = _conversation(dated_guide, "The council said no to an assessment, the letter was dated 5 November 2025",
                          "mediation certificate came on 9 January 2026. when do we have to appeal by?")
    appeal = next(d for d in reply.deadlines if d["key"] == "appeal")
    assert appeal["date"] == "2026-02-09"  # one month after the certificate, later than 2 months after the letter


def test_a_follow_up_asking_when_uses_the_date_given_earlier(dated_guide):
    reply = _conversation(dated_guide, "the council received our request for an EHC needs assessment on 12 January",
                          "if they say yes, by when should we get the final plan?")
    # The event is the request told earlier, not the "final plan" the question mentions.
    assert [d["key"] for d in reply.deadlines][:1] == ["decision-to-assess"], reply.deadlines
    assert any(d["key"] == "final-plan" and d["date"] == "2026-06-01" for d in reply.deadlines), reply.deadlines


def test_a_follow_up_without_a_date_or_a_when_gets_no_dates(dated_guide):
    reply = _conversation(dated_guide, "the council received our request for an EHC needs assessment on 12 January",
                          "who will they ask for advice?")
    assert reply.deadlines == []
