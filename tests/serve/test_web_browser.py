"""The page, the embed and feedback as a person uses them: headless Debian Chromium driven by Playwright against the
real app (real guide, real model) served on 127.0.0.1. Screenshots and the accessibility report go to artifacts/."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from guide.serve.api import create_app
from guide.serve.feedback import FeedbackStore
from tests.live_server import free_socket, live_server, url_of

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SIX_WEEKS = "How long does the council have to decide whether to assess my child?"
STUB_SOURCE = "<!doctype html><title>Official source (stand-in)</title><p>The official source page.</p>"


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        result = subprocess.run(["bash", str(ROOT / "scripts" / "install-browser.sh")], capture_output=True,
                                text=True, timeout=900)
        if not CHROMIUM.exists():
            pytest.skip(f"no {CHROMIUM} and scripts/install-browser.sh could not install it: {result.stderr[-500:]}")
    return CHROMIUM


@pytest.fixture(scope="module")
def playwright(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> FeedbackStore:
    return FeedbackStore(f"sqlite:///{tmp_path_factory.mktemp('web') / 'feedback.db'}")


@pytest.fixture(scope="module")
def sites(guide, config, store) -> Iterator[dict]:
    """The guide's server, and a second origin serving examples/embed.html the way a support service would."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    host_sock, guide_sock = free_socket(), free_socket()
    host, guide_url = url_of(host_sock), url_of(guide_sock)
    app = create_app(guide, config.replace(cors_origins=(host,), rate_limit_per_minute=1000), store)
    # The site owner's one edit: the guide's address in place of the default one.
    embed_page = (ROOT / "examples" / "embed.html").read_text().replace("http://127.0.0.1:7860", guide_url)
    host_app = Starlette(routes=[Route("/embed.html", lambda request: HTMLResponse(embed_page))])
    with live_server(app, guide_sock), live_server(host_app, host_sock):
        yield {"guide": guide_url, "host": host}


class User:
    """One person: a fresh Chromium profile whose requests may not leave 127.0.0.1 (official sources are stubbed)."""

    def __init__(self, playwright, tmp_path: Path, width: int = 1100):
        self.blocked: list[str] = []
        self.stubbed: list[str] = []
        self.context = playwright.chromium.launch_persistent_context(
            str(tmp_path), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()

    def _route(self, route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname
        if host == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        elif host and route.request.resource_type == "document":  # a citation link being followed
            self.stubbed.append(url)
            route.fulfill(status=200, content_type="text/html", body=STUB_SOURCE)
        else:
            self.blocked.append(url)
            route.abort()


@pytest.fixture
def user(playwright, sites, tmp_path) -> Iterator[User]:
    person = User(playwright, tmp_path / "profile")
    yield person
    person.context.close()
    assert person.blocked == [], f"the page tried to load from the internet: {person.blocked}"


def ask(page, question: str, timeout: float = 60_000) -> None:
    """Type a question with the keyboard and wait for the whole streamed answer."""
    before = page.locator('[data-testid="bot"]').count()
    box = page.locator("#question textarea")
    box.focus()
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    wait_for_answer(page, before, timeout)


def wait_for_answer(page, before: int, timeout: float = 60_000) -> None:
    # The feedback panel is hidden while an answer streams and shown with the finished answer.
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=\"bot\"]').length > n"
        " && document.querySelector('#feedback') && document.querySelector('#feedback').offsetParent !== null",
        arg=before, timeout=timeout)


def last_answer(page):
    return page.locator('[data-testid="bot"]').last


def test_ask_shows_the_answer_a_working_citation_link_and_the_sources(user, sites):
    page = user.page
    page.goto(sites["guide"] + "/")
    page.get_by_role("heading", level=1, name="SEND process guide").wait_for()
    assert "information, not legal advice" in page.locator(".notice").inner_text().lower()
    assert page.get_by_role("link", name=re.compile("IPSEA")).count() >= 1
    # Record every length the answer passes through, to see it arrive in pieces. The chat may render after the
    # heading, so wait for it before observing it.
    page.locator("#conversation").wait_for(state="attached")
    page.evaluate("""() => { window.seen = new Set();
        new MutationObserver(() => { const b = document.querySelectorAll('[data-testid="bot"]');
            if (b.length) window.seen.add(b[b.length - 1].innerText.length); })
        .observe(document.querySelector('#conversation'), {subtree: true, childList: true, characterData: true}); }""")
    ask(page, SIX_WEEKS)
    assert page.evaluate("window.seen.size") >= 3, "the answer was not streamed"

    answer = last_answer(page)
    assert "6 weeks" in answer.inner_text()
    assert page.locator('[data-testid="user"]').last.inner_text().strip() == SIX_WEEKS
    link = answer.get_by_role("link", name="[1]").first
    href = link.get_attribute("href")
    source = page.locator("#sources li[value='1']")
    assert source.locator("a").get_attribute("href") == href
    assert href.startswith("https://")
    assert source.locator(".source-title").inner_text().strip()
    assert source.locator(".source-heading").inner_text().strip()
    assert "6 weeks" in source.locator("blockquote").inner_text()

    with user.context.expect_page() as opened:
        link.click()
    official = opened.value
    official.wait_for_load_state()
    assert official.url == href and "official source page" in official.content()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)


def test_feedback_is_stored_with_personal_data_redacted(user, sites, store):
    page = user.page
    page.goto(sites["guide"] + "/")
    ask(page, "My daughter Amy was born on 03/05/2016. How long does the council have to decide whether to assess "
              "her?")
    rows_before = len(store.rows())
    # Thumbs up on the answer itself, then a rating and a comment in the panel: one row, updated.
    page.locator("#conversation").get_by_role("button", name="Like", exact=True).last.click()
    page.locator("#feedback-status").get_by_text("Thank you for rating this answer.").wait_for()
    assert store.rows()[-1]["helpful"] is True
    page.locator("#rating").get_by_label("No").check()
    page.locator("#comment textarea").fill("Too slow to read. Call me on 07700 900123 or email amy.mum@example.com")
    page.get_by_role("button", name="Send feedback").click()
    page.locator("#feedback-status").get_by_text("Your feedback has been saved.").wait_for()
    rows = store.rows()
    assert len(rows) == rows_before + 1
    row = rows[-1]
    assert row["helpful"] is False and row["turn"] == 0 and row["behaviour"] == "answer"
    assert "Amy" not in row["question"] and "03/05/2016" not in row["question"]
    assert "[NAME]" in row["question"] and "[DATE OF BIRTH]" in row["question"]
    assert row["comment"] == "Too slow to read. Call me on [PHONE] or email [EMAIL]"
    assert "6 weeks" in row["answer"] and "ehc-needs-assessment-timescales" in json.loads(row["sources"])


def test_keyboard_only_use_of_examples_retry_copy_and_new_conversation(user, sites):
    page = user.page
    user.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=sites["guide"])
    page.goto(sites["guide"] + "/")
    example = page.get_by_role("button", name="What did inspectors find in Kent?")
    example.wait_for()
    for _ in range(40):  # Tab through the page until the example question has focus
        page.keyboard.press("Tab")
        if example.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the example question cannot be reached with the Tab key")
    outline = example.evaluate("el => getComputedStyle(el).outlineColor")
    assert outline == "rgb(255, 221, 0)"  # the visible yellow focus ring
    page.keyboard.press("Enter")
    wait_for_answer(page, 0)
    assert "Kent" in last_answer(page).inner_text()

    page.get_by_role("button", name="Retry").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.querySelector('#feedback')", timeout=30_000)  # the answer is redone
    wait_for_answer(page, 0)
    assert page.locator('[data-testid="user"]').count() == 1  # the retried question is not asked twice
    assert "Kent" in last_answer(page).inner_text()

    page.get_by_role("button", name="Copy answer").focus()
    page.keyboard.press("Enter")
    page.locator("#status").get_by_text("Answer copied.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Kent" in copied and "\nSources:\n[1] " in copied and "https://" in copied

    page.get_by_role("button", name="New conversation").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"bot\"]').length === 0")
    assert "appear here" in page.locator("#sources").inner_text()


def test_a_too_long_message_gets_a_clear_message_and_stays_in_the_box(user, sites, config):
    page = user.page
    page.goto(sites["guide"] + "/")
    text = "word " * (config.max_message_chars // 5 + 20)
    page.locator("#question textarea").fill(text)
    page.get_by_role("button", name="Ask", exact=True).click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert f"the limit is {config.max_message_chars:,}" in alert.inner_text()
    assert page.locator('[data-testid="user"]').count() == 0
    assert page.locator("#question textarea").input_value() == text


def test_two_people_at_once_each_see_only_their_own_conversation(playwright, sites, tmp_path):
    people = [User(playwright, tmp_path / name) for name in ("a", "b")]
    questions = ["What did inspectors find in Kent?", "When must the final EHC plan be issued?"]
    try:
        for person, question in zip(people, questions, strict=True):
            person.page.goto(sites["guide"] + "/")
            person.page.locator("#question textarea").fill(question)
        for person in people:  # both questions are in the queue together
            person.page.get_by_role("button", name="Ask", exact=True).click()
        for person in people:
            wait_for_answer(person.page, 0)
        kent, plan = (last_answer(p.page).inner_text() for p in people)
        assert "Kent" in kent and "20 weeks" in plan
        for person, other in zip(people, reversed(questions), strict=True):
            assert other not in person.page.locator("#conversation").inner_text()
    finally:
        for person in people:
            person.context.close()
    assert all(p.blocked == [] for p in people)


def test_embedded_with_the_web_component_on_another_site(user, sites):
    page = user.page
    page.goto(sites["host"] + "/embed.html")
    embedded = page.locator("gradio-app")
    embedded.locator("#question textarea").wait_for(timeout=30_000)
    assert embedded.locator("h1").count() == 0  # compact: no header of its own inside the host page
    assert "not legal advice" in embedded.locator(".notice").inner_text()
    ask(page, "What is a SENCO?")
    assert "SENCO" in last_answer(page).inner_text()
    embedded.get_by_role("button", name="Sources for this answer").click()
    assert embedded.locator("#sources li[value='1'] blockquote").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "embed-host-page.png"), full_page=True)


def test_embedded_with_the_readme_iframe_snippet(user, sites):
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"<iframe src=\"http://127\.0\.0\.1:7860/embed/\".*?</iframe>", readme, re.S)
    assert snippet, "the README's iframe snippet is missing"
    page = user.page
    page.goto(sites["host"] + "/embed.html")  # any page of the host site
    page.set_content(snippet[0].replace("http://127.0.0.1:7860", sites["guide"]))
    frame = page.frame_locator("iframe")
    frame.locator("#question textarea").fill("What is the deadline for appealing to the SEND tribunal?")
    frame.get_by_role("button", name="Ask", exact=True).click()
    frame.locator("#feedback").wait_for(timeout=60_000)
    assert "month" in frame.locator('[data-testid="bot"]').last.inner_text()


@pytest.mark.parametrize("path,width", [("/", 1100), ("/embed/", 320)])
def test_accessibility_scan_and_narrow_screens(playwright, sites, tmp_path, path, width):
    from axe_playwright_python.sync_playwright import Axe

    person = User(playwright, tmp_path / "profile", width=width)
    try:
        page = person.page
        page.goto(sites["guide"] + path)
        ask(page, "The council refused to assess my son. What can I do?")
        if not page.locator("#sources .source-list").is_visible():  # folded away in the embed
            page.get_by_role("button", name="Sources for this answer").click()
        page.locator("#sources .source-list").wait_for()  # the scan covers the open sources panel
        results = Axe().run(page).response
        name = "page-scanned" if path == "/" else "embed-320"
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(results["violations"], indent=2))
        page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)
        serious = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]])
                   for v in results["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == [], serious
        assert results["passes"], "axe ran no checks"
        # Reflow: nothing wider than the screen, so no sideways scrolling at 320 px.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        person.context.close()
    assert person.blocked == []
