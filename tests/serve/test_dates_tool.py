"""POST /api/deadlines and the "Work out my dates" form: the API on the real app, the form in real Chromium (a small
Blocks app that calls render_dates_tool, served on 127.0.0.1, driven by Playwright)."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guide.serve.api import create_app
from guide.serve.feedback import FeedbackStore
from guide.serve.tools_page import render_dates_tool
from tests.live_server import live_server
from tests.serve.test_web_browser import User, chromium, playwright  # noqa: F401 - fixtures

IPSEA = {"event": "decision-letter", "date": "1 October 2026", "extra": {"mediation_certificate": "29/11/2026"}}


@pytest.fixture(scope="module")
def client(guide, config, tmp_path_factory):
    store = FeedbackStore(f"sqlite:///{tmp_path_factory.mktemp('dates') / 'feedback.db'}")
    with TestClient(create_app(guide, config.replace(today="2026-12-01"), store)) as client:
        yield client


def test_api_works_out_the_ipsea_example(client):
    response = client.post("/api/deadlines", json=IPSEA)
    assert response.status_code == 200
    body = response.json()
    appeal = next(d for d in body["deadlines"] if d["key"] == "appeal")
    assert appeal["date"] == "2027-01-04" and appeal["url"].startswith("https://www.legislation.gov.uk/")
    assert appeal["passed"] is False and appeal["event_date"] == "2026-10-01"
    assert "Monday 4 January 2027" in body["text"] and "https://www.legislation.gov.uk/uksi/2008/2699" in body["text"]


@pytest.mark.parametrize("body, says", [
    ({"event": "appeal", "date": "1/10/2026"}, "event: 'appeal' is not one the guide knows"),
    ({"event": "draft-plan", "date": "31/2/2026"}, "date: I could not read '31/2/2026'"),
    ({"event": "draft-plan", "date": "1 October 2030"}, "date: '1 October 2030' is after today"),
    ({"event": "draft-plan", "date": "15 December"}, "date: Do you mean"),
    ({**IPSEA, "extra": {"certificate": "29/11/2026"}}, "extra.certificate: 'decision-letter' takes no date"),
    ({"event": "tribunal-order", "date": "1/10/2026"}, "kind: 'tribunal-order' needs one of assess"),
])
def test_api_errors_name_what_was_wrong(client, body, says):
    response = client.post("/api/deadlines", json=body)
    assert response.status_code == 422
    assert response.json()["error"].startswith(says)


def test_api_missing_field_is_a_4xx(client):
    assert client.post("/api/deadlines", json={"event": "draft-plan"}).status_code == 422


@pytest.fixture(scope="module")
def tool_site(guide) -> Iterator[str]:
    with gr.Blocks() as blocks:
        render_dates_tool(guide)
    app = gr.mount_gradio_app(FastAPI(), blocks, path="/", ssr_mode=False, pwa=False, mcp_server=False)
    with live_server(app) as url:
        yield url


def test_form_in_the_browser(playwright, tool_site, tmp_path):  # noqa: F811
    person = User(playwright, tmp_path / "profile")
    try:
        page = person.page
        page.goto(tool_site + "/")
        page.get_by_role("heading", name="Work out my dates").wait_for()
        assert not page.locator("#dates-mediation_certificate").is_visible()
        page.locator("#dates-event input").click()
        page.get_by_role("option", name="Council decision letter you can appeal", exact=False).click()
        page.locator("#dates-mediation_certificate textarea, #dates-mediation_certificate input").first.wait_for()
        page.locator("#dates-date textarea, #dates-date input").first.fill("1 October 2025")
        page.locator("#dates-mediation_certificate textarea, #dates-mediation_certificate input").first.fill(
            "29/11/2025")
        page.locator("#dates-button").click()
        result = page.locator("#dates-result")
        result.get_by_text("Friday 2 January 2026").first.wait_for(timeout=20_000)
        link = result.locator("a", has_text="HESC").first
        assert link.get_attribute("href") == "https://www.legislation.gov.uk/uksi/2008/2699/article/20"
        # A date it cannot read says so, in the result box.
        page.locator("#dates-date textarea, #dates-date input").first.fill("31/2/2025")
        page.locator("#dates-button").click()
        result.get_by_text("Please check the date box").wait_for(timeout=20_000)
        page.screenshot(path=str(tmp_path / "dates-tool.png"))
    finally:
        person.context.close()
    assert person.blocked == [], f"the page tried to load from the internet: {person.blocked}"
