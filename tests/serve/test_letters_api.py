"""POST /api/letters: list the letters, fill one, download it as text or .docx; nothing is stored."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

from guide.serve.api import create_app
from guide.serve.feedback import FeedbackStore


@pytest.fixture(scope="module")
def client(guide, config, tmp_path_factory):
    store = FeedbackStore(f"sqlite:///{tmp_path_factory.mktemp('letters-api') / 'feedback.db'}")
    with TestClient(create_app(guide, config, store)) as client:
        yield client, store


def test_list_and_fill(client):
    http, _ = client
    listed = http.post("/api/letters", json={}).json()["letters"]
    assert len(listed) >= 6 and {"id", "title", "fields"} <= set(listed[0])
    filled = http.post("/api/letters", json={"id": "early-review-request", "values": {"child_name": "Sam"}}).json()
    assert "review of Sam's EHC plan" in filled["text"] and filled["sources"]
    picked = http.post("/api/letters", json={"request": "I want to complain to the council"}).json()
    assert picked["id"] == "formal-complaint-to-the-council"


def test_downloads(client):
    from docx import Document

    http, _ = client
    text = http.post("/api/letters", json={"id": "early-review-request", "format": "text"})
    assert text.headers["content-type"].startswith("text/plain") and "[your child's name]" in text.text
    docx = http.post("/api/letters", json={"id": "early-review-request", "format": "docx",
                                           "values": {"child_name": "Sam"}})
    assert "attachment" in docx.headers["content-disposition"]
    assert any("Sam" in p.text for p in Document(io.BytesIO(docx.content)).paragraphs)


def test_errors_are_readable(client):
    http, _ = client
    missing = http.post("/api/letters", json={"id": "no-such-letter"})
    assert missing.status_code == 404 and "early-review-request" in missing.json()["error"]
    bad = http.post("/api/letters", json={"id": "early-review-request", "values": {"nickname": "x"}})
    assert bad.status_code == 422 and "has no field nickname" in bad.json()["error"]


def test_ask_returns_the_letter(client):
    http, _ = client
    reply = http.post("/api/ask", json={"question": "help me write to the council to ask for an assessment"}).json()
    assert reply["letter"]["id"] == "ehc-needs-assessment-request"
