"""The letter tool as a parent uses it, in headless Debian Chromium: choose a letter, edit it, copy it, download it
as .docx and .txt. A small Blocks app holds only the tool (the integrator places it on the real page)."""

from __future__ import annotations

import io
from types import SimpleNamespace

import gradio as gr
import pytest
from fastapi import FastAPI

from guide.serve.letters_page import render_letters_tool
from guide.tools.letters import LetterBook
from tests.live_server import live_server

from ..conftest import ROOT
from .test_web_browser import CHROMIUM_ARGS, chromium, playwright  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def site():
    guide = SimpleNamespace(letters=LetterBook.load(ROOT / "knowledge"))  # the tool needs only the letters
    with gr.Blocks() as blocks:
        render_letters_tool(guide)
    app = gr.mount_gradio_app(FastAPI(), blocks, path="/", ssr_mode=False, pwa=False, mcp_server=False)
    with live_server(app) as url:
        yield url


def test_choose_edit_copy_and_download(playwright, chromium, site, tmp_path):  # noqa: F811
    from docx import Document

    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS,
        accept_downloads=True, permissions=["clipboard-read", "clipboard-write"])
    blocked: list[str] = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        ("http://127.0.0.1", "data:", "blob:")) else (blocked.append(route.request.url), route.abort()))
    page = context.pages[0] if context.pages else context.new_page()
    try:
        page.goto(site + "/")
        page.get_by_role("heading", name="Write a letter").wait_for()
        box = page.locator("#letter-text textarea")
        assert "[your child's name]" in box.input_value()
        # Choose another letter: its text and its law replace the first.
        page.locator("#letter-choice input").click()
        page.get_by_role("option", name="Asking for an early (or emergency) review of an EHC plan").click()
        page.wait_for_function("() => document.querySelector('#letter-text textarea').value.includes('early review')")
        assert "section 44" in page.locator("#letter-about").inner_text().lower()
        # Edit a gap, as a parent would.
        text = box.input_value().replace("[your child's name]", "Sam")
        box.fill(text)
        # Copy.
        page.locator("#letter-text button[aria-label='Copy']").first.click()
        assert "Sam" in page.evaluate("navigator.clipboard.readText()")
        # Download as plain text, then as Word.
        with page.expect_download() as txt:
            page.locator("#letter-txt").click()
        assert txt.value.suggested_filename == "early-review-request.txt"
        assert "review of Sam's EHC plan" in open(txt.value.path(), encoding="utf-8").read()
        with page.expect_download(timeout=30_000) as word:
            page.locator("#letter-docx").click()
        assert word.value.suggested_filename == "early-review-request.docx"
        with open(word.value.path(), "rb") as f:
            paragraphs = [p.text for p in Document(io.BytesIO(f.read())).paragraphs]
        assert any("review of Sam's EHC plan" in p for p in paragraphs)
    finally:
        context.close()
    assert blocked == [], f"the page tried to load from the internet: {blocked}"
