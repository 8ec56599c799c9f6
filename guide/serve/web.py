"""The parent's web page and its compact embed: a Gradio Blocks page over the public `Guide.ask`.

The conversation is HTML rendered here (not gr.Chatbot) so that each turn can carry what a parent needs: who is
speaking, the answer from its first line, [n] markers that take focus to the source card under that answer,
suggestion buttons, and an "incomplete" mark with a retry when an answer is cut off. The browser keeps the
conversation in sessionStorage (never the server), so it survives a reconnect and a reload.

Serving (FastAPI, the JSON API, mounting both pages) lives in api.py; this module builds pages and the small ASGI
middleware that puts the configured metadata into the page's HTML.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import gradio as gr
from markdown_it import MarkdownIt

from ..answer.redact import redact
from ..knowledge.chunking import split_sentences
from ..knowledge.documents import load_documents
from .feedback import FeedbackError, FeedbackStore
from .letters_page import render_letters_tool
from .limits import RateLimiter
from .tools_page import render_dates_tool
from .validation import RequestRejected, validate_request

if TYPE_CHECKING:
    from ..config import Config
    from ..core import Guide

log = logging.getLogger(__name__)

IPSEA_HELP_URL = "https://www.ipsea.org.uk/where-can-i-get-help"
# Streaming: the pipeline answers in well under a second, so the reply is revealed a few words at a time.
STREAM_WORDS = 4
STREAM_PAUSE = 0.02
QUEUE_CONCURRENCY = 4  # answers are short CPU work; streaming pauses should not hold others back
_MARKER = re.compile(r"\[(\d+)\](?!\()")
# html=False: Markdown from the guide (or a tampered sessionStorage) can never become markup.
_MARKDOWN = MarkdownIt("commonmark", {"html": False})
NEW_TAB = " (opens in a new tab)"


# --- rendering -------------------------------------------------------------------------------------------------
def _safe_url(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("https://", "http://"))


def source_index(config: Config) -> dict[str, tuple[str, str]]:
    """Official page title and publisher for each source URL in the knowledge base (empty if it cannot be read:
    a worker on a Chroma server may have no knowledge folder, and then cards fall back to the address)."""
    try:
        docs = load_documents(config.knowledge_dir)
    except Exception as exc:  # the page still works; cards name the site instead of the publisher
        log.warning("source titles and publishers unavailable (%s); cards show the web address", exc)
        return {}
    return {s.url: (s.title, s.publisher) for d in docs for s in d.sources}


def answer_html(turn: int, text: str, citations: list[dict]) -> str:
    """The answer's Markdown as HTML, each [n] a link to source card n of this turn."""
    known = {int(c["n"]) for c in citations}
    rendered = _MARKDOWN.render(text)

    def cite(m: re.Match) -> str:
        n = int(m[1])
        if n not in known:
            return m[0]
        return (f'<a class="cite" href="#t{turn}-s{n}" data-card="t{turn}-s{n}"><span aria-hidden="true">[</span>'
                f'<span class="visually-hidden">source </span>{n}<span aria-hidden="true">]</span></a>')

    return _MARKER.sub(cite, rendered)


def source_card(turn: int, c: dict, sources: dict[str, tuple[str, str]]) -> str:
    n = int(c["n"])
    url = c["url"] if _safe_url(c.get("url")) else ""
    page_title, publisher = sources.get(url, (c.get("title") or "", urlsplit(url).hostname or ""))
    title = html.escape(page_title or url)
    link = (f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">{title}'
            f'<span class="new-tab">{NEW_TAB}</span></a>') if url else title
    # The quote is a whole section: the card names it and shows its first sentence, so it stays card-sized.
    sentences = split_sentences(c.get("quote") or "")
    said = (f'<p class="source-said"><span class="source-label">The guide\'s answer from it'
            f'{" (" + html.escape(c["heading"]) + ")" if c.get("heading") else ""}:</span> '
            f"{html.escape(sentences[0])}{' …' if len(sentences) > 1 else ''}</p>") if sentences else ""
    return (f'<li class="source-card" id="t{turn}-s{n}" value="{n}" tabindex="-1">'
            f'<p class="source-publisher">{html.escape(publisher)}</p><p class="source-title">{link}</p>{said}</li>')


def turn_html(turn: int, question: str, reply: dict | None, sources: dict[str, tuple[str, str]], *,
              state: str = "done", heading: int = 3, fresh: bool = False, open_sources: bool = True) -> str:
    """One question and its answer. `state`: done, streaming, or interrupted (answer cut off: marked, retry)."""
    h = min(heading, 6)
    reply = reply or {"text": "", "citations": [], "suggestions": [], "behaviour": "answer"}
    asked = html.escape(question).replace("\n", "<br>")
    parts = [f'<article class="turn" id="t{turn}" data-state="{state}"{" data-fresh" if fresh else ""}>',
             f'<section class="message from-parent" aria-labelledby="t{turn}-you">'
             f'<h{h} class="speaker" id="t{turn}-you">You asked</h{h}><p class="asked">{asked}</p></section>',
             f'<section class="message from-guide" aria-labelledby="t{turn}-guide">'
             f'<h{h} class="speaker" id="t{turn}-guide">The guide\'s answer</h{h}>']
    if reply["text"]:
        parts.append(f'<div class="answer">{answer_html(turn, reply["text"], reply["citations"])}</div>')
    if state == "streaming" and not reply["text"]:
        parts.append('<p class="answer waiting">Finding the answer…</p>')
    if state == "interrupted":
        parts.append('<p class="incomplete"><strong>This answer is incomplete:</strong> it stopped before it '
                     'finished. <button type="button" class="retry-turn">Ask this question again</button></p>')
    parts.append("</section>")
    if state == "done" and reply.get("suggestions"):
        lead = "Did you mean:" if reply.get("behaviour") == "clarify" else "Related questions:"
        buttons = "".join(f'<li><button type="button" class="suggestion" data-question="{html.escape(s)}">'
                          f"{html.escape(s)}</button></li>" for s in reply["suggestions"][:3] if isinstance(s, str))
        parts.append(f'<div class="suggestions" role="group" aria-labelledby="t{turn}-more">'
                     f'<p class="suggestions-lead" id="t{turn}-more">{lead}</p><ul>{buttons}</ul></div>')
    if state == "done" and reply["citations"]:
        cards = "".join(source_card(turn, c, sources) for c in reply["citations"])
        count = len(reply["citations"])
        parts.append(f'<details class="sources"{" open" if open_sources else ""}><summary>Sources for this answer '
                     f'({count})</summary><ol class="source-list">{cards}</ol></details>')
    parts.append("</article>")
    return "".join(parts)


def plain_answer(reply: dict) -> str:
    """The answer and its sources as plain text, for the copy button."""
    lines = [reply["text"]]
    if reply["citations"]:
        lines.append("\nSources:")
        lines += [f"[{c['n']}] {c['title']} - {c['heading']}\n{c['url']}" for c in reply["citations"]]
    return "\n".join(lines)


def _alert(text: str) -> str:
    return f'<p class="error-message" role="alert">{html.escape(text)}</p>' if text else ""


def _pieces(text: str) -> Iterator[str]:
    """Ever longer prefixes of `text`, split at spaces so a Markdown link is never cut in half."""
    tokens = re.split(r"(\s+)", text)
    for end in range(STREAM_WORDS * 2, len(tokens), STREAM_WORDS * 2):
        yield "".join(tokens[:end])
    yield text


def _client(request: gr.Request | None) -> str:
    return request.client.host if request is not None and request.client else "unknown"


def _history(turns: list[dict]) -> list[dict]:
    history: list[dict] = []
    for t in turns:
        history += [{"role": "user", "content": t["question"]}, {"role": "assistant", "content": t["reply"]["text"]}]
    return history


_KEPT = ("text", "citations", "behaviour", "suggestions")
_CITATION_KEYS = ("n", "title", "url", "doc_id", "heading", "quote")


def _kept(reply: dict) -> dict:
    """What the browser keeps of a reply: enough to show it again and to carry the conversation on."""
    kept = {k: reply.get(k) for k in _KEPT}
    kept["citations"] = [{k: c.get(k) for k in _CITATION_KEYS} for c in reply.get("citations") or []]
    return kept


def saved_json(turns: list[dict], pending: str | None) -> str:
    return json.dumps({"turns": [{"question": t["question"], "reply": _kept(t["reply"])} for t in turns],
                       "pending": pending})


def restore_turns(data: str, config: Config) -> tuple[list[dict], str | None]:
    """The conversation the browser kept, checked like any request (it comes from the browser), else ValueError."""
    if not data:
        return [], None
    raw = json.loads(data)
    turns: list[dict] = []
    for t in raw.get("turns") or []:
        reply = t["reply"]
        citations = [{**{k: "" for k in _CITATION_KEYS}, **{k: c[k] for k in _CITATION_KEYS if k in c}}
                     for c in reply.get("citations") or []]
        for c in citations:
            c["n"] = int(c["n"])
            if not all(isinstance(c[k], str) for k in _CITATION_KEYS if k != "n"):
                raise ValueError("a kept source is not text")
        suggestions = [s for s in reply.get("suggestions") or [] if isinstance(s, str)]
        turns.append({"question": t["question"], "reply": {
            "text": reply["text"], "citations": citations, "suggestions": suggestions,
            "behaviour": reply.get("behaviour") if reply.get("behaviour") in ("answer", "decline", "signpost",
                                                                              "clarify") else "answer"}})
    pending = raw.get("pending")
    if pending is not None and not isinstance(pending, str):
        raise ValueError("the unanswered question is not text")
    validate_request(pending or "", _history(turns), config)  # the same limits as any request
    return turns, pending


# --- the page --------------------------------------------------------------------------------------------------
def notice_html(compact: bool = False) -> str:
    help_link = (f'<a href="{IPSEA_HELP_URL}" target="_blank" rel="noopener noreferrer">IPSEA'
                 f'<span class="visually-hidden">{NEW_TAB}</span></a>')
    if compact:
        return (f'<p class="notice compact">Information, not legal advice. Free, impartial help: your local '
                f"SENDIASS or {help_link}.</p>")
    return (
        '<div class="notice"><p><strong>This is information, not legal advice.</strong> Answers come from a '
        "checked set of sources and each one links to where it says so. Check the source before you act.</p>"
        "<p>For free, impartial help, contact your council's SEND information, advice and support service "
        f"(SENDIASS; every council in England must provide one) or {help_link}.</p>"
        "<p>Please do not type names, dates of birth or contact details.</p></div>"
    )


def build_blocks(guide: Guide, config: Config, feedback: FeedbackStore, limiter: RateLimiter,
                 embed: bool = False, sources: dict[str, tuple[str, str]] | None = None) -> gr.Blocks:
    """The parent's page, or with `embed` the compact version for other sites (no banner, two examples, sources
    folded under each answer). `sources` (url -> official title, publisher) is read from the knowledge base when
    not given. The public `ask` endpoint is for gradio_client callers.
    """
    sources = source_index(config) if sources is None else sources
    top = config.embed_heading_level if embed else 1
    section = min(top + 1, 6)
    speaker = min(top + 2, 6)
    key = "send-guide:embed" if embed else "send-guide:page"

    def h(level: int, text: str, cls: str = "section-heading") -> str:
        return f'<h{level} class="{cls}">{html.escape(text)}</h{level}>'

    def render(turns: list[dict], fresh: bool = False) -> str:
        last = len(turns) - 1
        return "".join(turn_html(i, t["question"], t["reply"], sources, heading=speaker, open_sources=not embed,
                                 fresh=fresh and i == last) for i, t in enumerate(turns))

    # analytics off: the guide makes no calls off the machine.
    with gr.Blocks(title=config.app_title, analytics_enabled=False, fill_width=False) as blocks:
        turns = gr.State([])  # [{question, reply (dict)}]; per browser session, kept in its sessionStorage
        pending = gr.State(None)  # a question whose answer failed or was cut off: what Retry asks again
        if embed:
            gr.HTML(h(top, config.app_title, "embed-title"))
        else:  # moved outside <main> by the page script: a banner landmark is not part of the main content
            gr.HTML(f'<header class="site-header" id="site-header">{h(1, config.app_title)}</header>',
                    elem_id="site-header-block")
        gr.HTML(notice_html(compact=True))
        gr.HTML('<div id="announcer" role="status" aria-live="polite"></div>', js_on_load=None,
                elem_classes="visually-hidden")  # not display:none: a live region must stay in the page
        gr.HTML(f'<h{section} class="visually-hidden">Conversation</h{section}>')  # the turns' headings' parent
        conversation = gr.HTML("", elem_id="conversation", js_on_load=_PAGE_JS.replace("__KEY__", key))
        current = gr.HTML("", elem_id="current", js_on_load=_CURRENT_JS)  # the answer arriving now
        status = gr.HTML("", elem_id="status", js_on_load=None)
        with gr.Row(elem_classes="ask-row", equal_height=False):
            question = gr.Textbox(
                label="Your question", lines=1, max_lines=6, elem_id="question", scale=5,  # lines=1: Enter sends
                info="Please leave out names and contact details.", autofocus=False,
            )
            ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=0, min_width=88)
        # Suggestion buttons (in the conversation's HTML) put their question here and press ask-picked, so the
        # parent's half-typed question in the box is kept.
        picked = gr.Textbox(label="Suggested question", elem_id="picked", elem_classes="offscreen")
        ask_picked = gr.Button("Ask the suggested question", elem_id="ask-picked", elem_classes="offscreen")
        with gr.Column(elem_classes="examples"):
            gr.HTML(h(section, "Example questions"))
            examples = [gr.Button(q, variant="secondary", size="sm", elem_classes="example")
                        for q in config.app_examples[: 2 if embed else None]]
        with gr.Row(elem_classes="actions"):
            retry = gr.Button("Retry", variant="secondary", elem_id="retry", min_width=80)
            copy = gr.Button("Copy answer", variant="secondary", elem_id="copy", min_width=80)
            new = gr.Button("New conversation", variant="secondary", elem_id="new", min_width=80)
        with gr.Column(visible=False, elem_id="confirm-clear") as confirm_box:
            gr.HTML('<p class="confirm-text">Clear this conversation? It cannot be brought back.</p>')
            with gr.Row():
                really_clear = gr.Button("Yes, clear it", variant="primary", elem_id="clear-yes")
                keep = gr.Button("No, keep it", variant="secondary", elem_id="clear-no")
        copy_text = gr.Textbox(visible=False)
        saved = gr.Textbox(visible=False)
        with gr.Column(visible=False, elem_id="feedback") as feedback_box:
            gr.HTML(h(section, "Was this answer helpful?"))
            rating = gr.Radio(["Yes", "No"], label="Was the last answer helpful?", show_label=False,
                              elem_id="rating")
            comment = gr.Textbox(label="Anything to add? (optional)", lines=2, elem_id="comment",
                                 info="Please do not include names or contact details.")
            send = gr.Button("Send feedback", variant="secondary", elem_id="send-feedback")
            thanks = gr.HTML("", elem_id="feedback-status")
        # The dates and letters tools are built in their own modules and render here, below the conversation,
        # on the page and the embed alike.
        with gr.Column(elem_id="tools", elem_classes="tools"):
            render_dates_tool(guide)
            render_letters_tool(guide)
        if not embed:
            with gr.Column(elem_classes="about"):
                gr.HTML(h(section, "About this guide"))
                gr.Markdown(config.app_intro, elem_classes="intro")
                gr.HTML(notice_html())
            gr.HTML('<footer class="site-footer" id="site-footer"><p>'
                    f"{html.escape(config.app_title)}: information about SEND in England, not legal advice. "
                    "Your conversation stays in this browser tab and is cleared when you close it.</p></footer>",
                    elem_id="site-footer-block")

        answer_outputs = [question, conversation, current, turns, pending, status, copy_text, feedback_box, rating,
                          comment, thanks, saved]

        def refuse(message: str, history: list[dict], request: gr.Request | None) -> str | None:
            """Why this message is not answered (the shared request limits or the rate limit), else None."""
            try:
                validate_request(message, _history(history), config)
            except RequestRejected as exc:
                return exc.message
            wait = limiter.check(_client(request))
            return limiter.message(wait) if wait else None

        def respond(message: str, history: list[dict], request: gr.Request, *, clear_box: bool = True
                    ) -> Iterator[dict]:
            message = (message or "").strip()
            if not message:
                yield {status: _alert("Please type a question first.")}
                return
            problem = refuse(message, history, request)
            if problem:
                yield {status: _alert(problem)}  # the question stays in the box so it can be shortened or resent
                return
            i = len(history)
            start = {current: turn_html(i, message, None, sources, state="streaming", heading=speaker),
                     pending: message, status: "", feedback_box: gr.update(visible=False),
                     saved: saved_json(history, message)}
            yield {**start, question: ""} if clear_box else start
            try:
                reply = guide.ask(message, history=_history(history)).to_dict()
            except Exception:
                log.exception("answering %r failed", redact(message)[:200])
                yield {current: turn_html(i, message, None, sources, state="interrupted", heading=speaker)}
                return
            for piece in _pieces(reply["text"]):
                shown = {**reply, "text": piece}
                yield {current: turn_html(i, message, shown, sources, state="streaming", heading=speaker)}
                time.sleep(STREAM_PAUSE)
            history = [*history, {"question": message, "reply": reply}]
            yield {conversation: render(history, fresh=True), current: "", turns: history, pending: None,
                   copy_text: plain_answer(reply), feedback_box: gr.update(visible=True), rating: None,
                   comment: "", thanks: "", saved: saved_json(history, None)}

        def ask_typed(message: str, history: list[dict], request: gr.Request) -> Iterator[dict]:
            yield from respond(message, history, request)

        def ask_other(message: str, history: list[dict], request: gr.Request) -> Iterator[dict]:
            yield from respond(message, history, request, clear_box=False)

        def do_retry(history: list[dict], failed: str | None, request: gr.Request) -> Iterator[dict]:
            if failed:  # the question that failed or was cut off, not the one before it
                yield from respond(failed, history, request, clear_box=False)
            elif history:  # otherwise ask the last question again, in place of its answer
                yield {conversation: render(history[:-1])}
                yield from respond(history[-1]["question"], history[:-1], request, clear_box=False)
            else:
                yield {status: _alert("There is no answer to retry yet.")}

        def clear() -> dict:
            return {conversation: "", current: "", turns: [], pending: None, status: "", copy_text: "",
                    feedback_box: gr.update(visible=False), rating: None, comment: "", thanks: "",
                    saved: saved_json([], None), confirm_box: gr.update(visible=False)}

        def restore(data: str, draft: str) -> dict:
            try:
                kept, failed = restore_turns(data, config)
            except (ValueError, KeyError, TypeError, AttributeError, RequestRejected):
                log.warning("a kept conversation could not be read; starting a new one")
                return {status: _alert("Your earlier conversation could not be shown again, so a new one has "
                                       "started."), saved: saved_json([], None)}
            shown = {conversation: render(kept), turns: kept, pending: failed, saved: saved_json(kept, failed)}
            if draft:  # only then: a parent may already be typing when this arrives
                shown[question] = draft
            if failed:  # it was being answered when the page went away
                shown[current] = turn_html(len(kept), failed, None, sources, state="interrupted", heading=speaker)
            if kept:
                shown[copy_text] = plain_answer(kept[-1]["reply"])
            return shown

        def send_feedback(helpful: str | None, text: str, history: list[dict], request: gr.Request) -> dict:
            if not history:
                return {thanks: _alert("Ask a question first, then tell us about the answer.")}
            t = history[-1]
            try:
                feedback.record(session=request.session_hash or _client(request), turn=len(history) - 1,
                                question=t["question"], answer=t["reply"]["text"],
                                helpful={"Yes": True, "No": False}.get(helpful or ""), comment=text,
                                behaviour=t["reply"]["behaviour"],
                                sources=[c["doc_id"] for c in t["reply"]["citations"]])
            except FeedbackError as exc:
                return {thanks: _alert(str(exc))}
            return {thanks: '<p class="confirmation" role="status">Thank you. Your feedback has been saved.</p>'}

        def ask_api(question: str, history: list[dict] | None = None, request: gr.Request = None) -> dict:
            """Answer one question (with earlier role/content turns); returns the reply as JSON."""
            try:
                question, history = validate_request(question, history, config)
            except RequestRejected as exc:
                raise gr.Error(exc.message) from exc
            wait = limiter.check(_client(request))
            if wait:
                raise gr.Error(limiter.message(wait))
            return guide.ask(question, history=history).to_dict()

        # The page's own events are private: gradio_client callers get the one documented `ask` endpoint.
        private = dict(api_visibility="private", show_progress="hidden")
        answer = dict(outputs=answer_outputs, concurrency_id="answer", **private)
        save = dict(fn=None, inputs=[saved], js=_SAVE_JS.replace("__KEY__", key), **private)
        # Before the question goes: keep it as "being answered", so a reload after a cut-off can offer a retry.
        pre = _PENDING_JS.replace("__KEY__", key)
        events = [ask.click(ask_typed, inputs=[question, turns], js=pre, **answer),
                  question.submit(ask_typed, inputs=[question, turns], js=pre, **answer),
                  ask_picked.click(ask_other, inputs=[picked, turns], js=pre, **answer),
                  retry.click(do_retry, inputs=[turns, pending], **answer)]
        events += [b.click(ask_other, inputs=[b, turns], js=pre, **answer) for b in examples]
        for event in events:
            event.success(**save)
            event.failure(None, js=_INTERRUPTED_JS, **private)  # the server went away mid-answer
        new.click(lambda: gr.update(visible=True), outputs=[confirm_box], **private).then(
            None, js=_focus_js("#clear-no"), **private)
        keep.click(lambda: gr.update(visible=False), outputs=[confirm_box], **private).then(
            None, js=_focus_js("#new"), **private)
        really_clear.click(clear, outputs=[*answer_outputs, confirm_box], **private).then(**save).then(
            None, js=_focus_js("#question textarea"), **private)
        copy.click(None, inputs=[copy_text], outputs=[status], js=_COPY_JS, **private)
        send.click(send_feedback, inputs=[rating, comment, turns], outputs=[thanks], **private)
        blocks.load(restore, inputs=[saved, question], outputs=[*answer_outputs],
                    js=_RESTORE_JS.replace("__KEY__", key), **private)
        gr.api(ask_api, api_name="ask", concurrency_id="answer")
    blocks.queue(default_concurrency_limit=QUEUE_CONCURRENCY)
    return blocks


def _focus_js(selector: str) -> str:
    # The element appears after Gradio re-renders; wait for it (a few frames) before moving focus.
    return ("() => { let n = 0; const go = () => { const el = document.querySelector(" + json.dumps(selector) +
            "); if (el && el.offsetParent !== null) el.focus(); else if (n++ < 60) requestAnimationFrame(go); };"
            " go(); return []; }")


_COPY_JS = """
async (text) => {
  const say = (m) => `<p class="confirmation" role="status">${m}</p>`;
  if (!text) return say("There is no answer to copy yet.");
  try { await navigator.clipboard.writeText(text); return say("Answer copied."); }
  catch (e) { return say("Your browser did not allow copying. Select the answer text and copy it instead."); }
}
"""

_SAVE_JS = """(s) => { try { if (s) sessionStorage.setItem("__KEY__", s); } catch (e) {} return []; }"""

_PENDING_JS = """(...args) => {
  try { sessionStorage.removeItem("__KEY__:draft");
        const kept = JSON.parse(sessionStorage.getItem("__KEY__") || '{"turns": []}');
        if (typeof args[0] === "string" && args[0].trim()) kept.pending = args[0].trim();
        sessionStorage.setItem("__KEY__", JSON.stringify(kept)); } catch (e) {}
  return args; }"""

_RESTORE_JS = """() => { try { return [sessionStorage.getItem("__KEY__") || "",
                               sessionStorage.getItem("__KEY__:draft") || ""]; } catch (e) { return ["", ""]; } }"""

_INTERRUPTED_JS = """() => {
  document.querySelectorAll('#current .turn[data-state="streaming"]').forEach((t) => {
    t.dataset.state = "interrupted";
    t.querySelector(".waiting")?.remove();
    const p = document.createElement("p");
    p.className = "incomplete";
    p.setAttribute("role", "alert");
    p.innerHTML = '<strong>This answer is incomplete:</strong> the connection to the guide was lost before it ' +
      'finished. <button type="button" class="retry-turn">Ask this question again</button>';
    t.querySelector(".from-guide").appendChild(p);
  });
  return [];
}"""

# The answer arriving now: show its question and first line (not its end). A stream that stops (the server or
# the connection gone; Gradio does not always report it as a failure) is marked incomplete after a quiet spell.
_CURRENT_JS = """
let shown = null;
let changed = Date.now();
setInterval(() => {
  const turn = element.querySelector('.turn[data-state="streaming"]');
  if (!turn) return;
  const quiet = Date.now() - changed;
  if (quiet > (turn.querySelector('.answer p') ? 6000 : 30000)) (__INTERRUPTED__)();
}, 1000);
watch('value', () => {
  changed = Date.now();
  const turn = element.querySelector('.turn');
  if (turn && turn.id !== shown) {
    shown = turn.id;
    const top = turn.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.5) turn.scrollIntoView({block: 'start'});
  }
  if (!turn) shown = null;
});
""".replace("__INTERRUPTED__", _INTERRUPTED_JS)

# Installed once with the conversation: [n] -> its source card, suggestions, retry from a turn, the typed draft,
# one announcement per finished answer, and the banner and footer moved outside <main>.
_PAGE_JS = """
const root = element.closest('.gradio-container') || document;
if (window.__gradio_mode__ === 'app') {  // the guide's own page or iframe, not a host page's web component
  // Gradio sets lang from the browser's locale ("en"); the guide is written in British English.
  const html = document.documentElement;
  const british = () => { if (html.lang !== 'en-GB') html.lang = 'en-GB'; };
  british();
  new MutationObserver(british).observe(html, {attributes: true, attributeFilter: ['lang']});
}
const main = root.querySelector('main');
let frames = 0;
const moveOut = () => {  // the footer may render a little after this script runs
  let done = 0;
  for (const [id, where] of [['site-header', 'before'], ['site-footer', 'after']]) {
    const el = root.querySelector('#' + id);
    if (el && main && el.closest('main')) {
      el.closest('.block')?.classList.add('moved-out');
      main[where](el);
    }
    if (el && !el.closest('main')) done++;
  }
  if (done < 2 && frames++ < 300) requestAnimationFrame(moveOut);
};
if (root.querySelector('#site-header-block, #site-header')) moveOut();
root.addEventListener('click', (event) => {
  const cite = event.target.closest('a.cite');
  if (cite) {
    const card = root.querySelector('#' + cite.dataset.card);
    if (card) {
      event.preventDefault();
      const details = card.closest('details');
      if (details) details.open = true;
      card.focus();
      card.scrollIntoView({block: 'nearest'});
    }
    return;
  }
  const suggestion = event.target.closest('button.suggestion');
  if (suggestion) {
    const box = root.querySelector('#picked textarea, #picked input');
    box.value = suggestion.dataset.question;
    box.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => root.querySelector('#ask-picked').click(), 0);
    return;
  }
  if (event.target.closest('button.retry-turn')) root.querySelector('#retry').click();
});
root.addEventListener('input', (event) => {
  if (event.target.closest('#question')) {
    try { sessionStorage.setItem("__KEY__:draft", event.target.value); } catch (e) {}
  }
});
const announce = () => {
  const turn = element.querySelector('.turn[data-fresh]');
  if (!turn) return;
  turn.removeAttribute('data-fresh');
  const top = turn.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight * 0.5) turn.scrollIntoView({block: 'start'});
  const answer = turn.querySelector('.answer');
  const region = root.querySelector('#announcer');
  // Once, when the whole answer is in: a streamed answer would otherwise be read out piece by piece.
  if (region && answer) region.textContent = "The guide's answer: " + answer.innerText;
};
watch('value', announce);
// Gradio's Radio gives Yes and No no group name: name the group once it is on the page.
const nameRating = () => {
  const group = root.querySelector('#rating');
  if (group && !group.getAttribute('role')) {
    group.setAttribute('role', 'radiogroup');
    group.setAttribute('aria-label', 'Was the last answer helpful?');
  }
};
new MutationObserver(nameRating).observe(root, {childList: true, subtree: true});
if (window.__gradio_mode__ === 'app' && window.parent !== window) {
  // In an iframe: tell the host page how tall the embed is, so its snippet can size the iframe (README).
  const tell = () => window.parent.postMessage({sendGuideHeight: document.documentElement.scrollHeight}, '*');
  new ResizeObserver(tell).observe(document.body);
  tell();
}
"""


# --- metadata: Gradio's page template carries its own link-preview tags and an image on another host ----------
_PREVIEW_TAGS = re.compile(r'<meta\s+(?:property="og:[^"]*"|name="twitter:[^"]*")[^>]*/?>\s*', re.S)


def page_description(config: Config) -> str:
    if config.app_description:
        return config.app_description
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", config.app_intro)  # Markdown links -> their words
    return re.sub(r"[*_`#>]", "", text).strip()


def page_head(config: Config) -> str:
    title, description = html.escape(config.app_title), html.escape(page_description(config))
    return (f"<title>{title}</title>"
            f'<meta name="description" content="{description}" />'
            f'<meta property="og:title" content="{title}" />'
            f'<meta property="og:description" content="{description}" />'
            '<meta property="og:type" content="website" />'
            '<meta name="twitter:card" content="summary" />')


class PageMetadata:
    """ASGI middleware for the two pages' HTML: lang="en-GB" and the configured title and description in place of
    Gradio's link-preview tags (its "Click to try out the app!" and an image fetched from GitHub)."""

    def __init__(self, app: Any, config: Config, paths: tuple[str, ...] = ("/", "/embed/")):
        self.app = app
        self.head = page_head(config)
        self.paths = paths

    def rewrite(self, page: str) -> str:
        page = _PREVIEW_TAGS.sub("", page)
        page = page.replace('lang="en"', 'lang="en-GB"', 1)
        return page.replace("<head>", "<head>" + self.head, 1)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            body = b"".join(chunks)
            if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                body = self.rewrite(body.decode("utf-8")).encode("utf-8")
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


# --- look: calm, GOV.UK-like, WCAG 2.2 AA ---------------------------------------------------------------------
def theme() -> gr.themes.Base:
    t = gr.themes.Base(
        primary_hue=gr.themes.colors.green, neutral_hue=gr.themes.colors.gray, radius_size="sm",
        font=["Arial", "Helvetica", "sans-serif"], font_mono=["Consolas", "monospace"],  # no web fonts to fetch
    ).set(
        body_background_fill="#ffffff", body_text_color="#0b0c0c", body_text_color_subdued="#505a5f",
        background_fill_primary="#ffffff", background_fill_secondary="#f3f2f1",
        border_color_primary="#b1b4b6", border_color_accent="#1d70b8", color_accent="#1d70b8",
        color_accent_soft="#f3f2f1",
        link_text_color="#1d70b8", link_text_color_visited="#4c2c92", link_text_color_hover="#003078",
        link_text_color_active="#0b0c0c",
        block_label_text_color="#0b0c0c", block_title_text_color="#0b0c0c", block_info_text_color="#505a5f",
        block_label_background_fill="#ffffff", block_title_text_size="*text_lg", block_title_text_weight="700",
        block_info_text_size="*text_md",
        input_background_fill="#ffffff", input_border_color="#0b0c0c", input_border_width="2px",
        input_placeholder_color="#505a5f",
        button_primary_background_fill="#00703c", button_primary_background_fill_hover="#005a30",
        button_primary_text_color="#ffffff", button_primary_border_color="#002d18",
        button_secondary_background_fill="#f3f2f1", button_secondary_background_fill_hover="#dbdad9",
        button_secondary_text_color="#0b0c0c", button_secondary_border_color="#929191",
        checkbox_label_text_color="#0b0c0c", checkbox_border_color="#0b0c0c",
        checkbox_background_color_selected="#0b0c0c",
        loader_color="#1d70b8",
    )
    # One look in light and dark mode: the colours above are the ones checked for contrast.
    for name in list(vars(t)):
        if name.endswith("_dark") and hasattr(t, name[:-5]):
            setattr(t, name, getattr(t, name[:-5]))
    return t


CSS = """
.gradio-container { max-width: 960px !important; margin: 0 auto; color: #0b0c0c; padding-top: 4px !important;
  padding-left: clamp(8px, 2.5vw, 32px) !important; padding-right: clamp(8px, 2.5vw, 32px) !important; }
.site-header { border-bottom: 6px solid #1d70b8; padding: 4px 0 6px; margin: 0 0 4px; }
/* No @media for the banner and footer: Gradio scopes @media rules to <main>, and they sit outside it. */
.site-header h1 { font-size: clamp(1.375rem, 6vw, 1.75rem); line-height: 1.2; margin: 0; color: #0b0c0c; }
.embed-title { font-size: 1.375rem; margin: 0 0 4px; color: #0b0c0c; }
.moved-out { display: none !important; }
.intro p { font-size: 1.1875rem; line-height: 1.5; }
.notice { border-left: 10px solid #b1b4b6; padding: 4px 0 4px 15px; margin: 8px 0; }
.notice p { margin: 0.4em 0; line-height: 1.5; }
.notice.compact { font-size: 0.95rem; line-height: 1.35; border-left-width: 5px; padding: 2px 0 2px 10px;
  margin: 0; }
.section-heading { font-size: 1.25rem; margin: 8px 0 4px; color: #0b0c0c; }
.notice a, .source-list a, #conversation a, #current a { padding: 0 !important; }
.turn { border-bottom: 1px solid #b1b4b6; padding: 8px 0 12px; scroll-margin-top: 8px; }
.turn .speaker { font-size: 0.95rem; font-weight: 700; margin: 0 0 2px; color: #505a5f; text-transform: none; }
.from-parent .asked { background: #f3f2f1; border-left: 5px solid #1d70b8; padding: 6px 10px; margin: 0 0 10px;
  white-space: normal; overflow-wrap: anywhere; }
.answer p { margin: 0 0 0.7em; line-height: 1.5; font-size: 1.0625rem; }
.answer a.cite { display: inline-block; min-width: 24px; min-height: 24px; text-align: center; color: #1d70b8;
  text-decoration: underline; }
.incomplete { border-left: 5px solid #d4351c; padding: 6px 10px; margin: 6px 0; }
.suggestions ul { list-style: none; padding: 0; margin: 4px 0 8px; display: flex; flex-direction: column; gap: 6px; }
.suggestions-lead { font-weight: 700; margin: 4px 0 0; }
.turn button { min-height: 44px; padding: 8px 12px; border: 2px solid #929191; background: #f3f2f1;
  color: #0b0c0c; border-radius: 4px; font-size: 1rem; text-align: left; cursor: pointer; }
.turn button:hover { background: #dbdad9; }
details.sources summary { min-height: 44px; display: flex; align-items: center; cursor: pointer; font-weight: 700;
  color: #1d70b8; text-decoration: underline; }
.source-list { padding-left: 1.5em; margin: 0; }
.source-card { margin-bottom: 0.8em; padding: 4px 6px; }
.source-card:focus { outline: 3px solid #ffdd00; box-shadow: 0 0 0 6px #0b0c0c; }
.source-card p { margin: 0.15em 0; display: block !important; }
/* Empty parts of the page (no answer arriving, no message) take no room on the first screen. */
#conversation:not(:has(.turn)), #current:not(:has(.turn)), #status:not(:has(p)),
#tools:empty, #tools:not(:has(*)) { display: none !important; }
.source-publisher { color: #505a5f; font-size: 0.95rem; }
.source-title { font-weight: bold; }
.source-title a { display: inline-block; min-height: 24px; color: #1d70b8; }
.new-tab { font-weight: normal; }
.source-label { font-weight: bold; }
.error-message { color: #d4351c; font-weight: bold; border-left: 5px solid #d4351c; padding-left: 10px; }
.confirmation { color: #00703c; font-weight: bold; }
.ask-row { align-items: flex-end; gap: 8px; flex-wrap: nowrap; }
#ask { min-height: 48px; }
.actions { flex-wrap: wrap; gap: 8px; }
.actions button, #confirm-clear button, #send-feedback { min-height: 44px; }
#question textarea { min-height: 44px; font-size: 1rem; }
#rating label { min-height: 44px; min-width: 64px; }
.examples { gap: 4px; }
.examples .example { text-align: left; justify-content: flex-start; white-space: normal; font-size: 1rem;
  min-height: 44px; padding: 4px 10px; line-height: 1.3; }
.offscreen { display: none !important; }
.visually-hidden { position: absolute !important; width: 1px !important; height: 1px !important;
  margin: 0 !important; padding: 0 !important; overflow: hidden !important; clip: rect(0 0 0 0) !important;
  clip-path: inset(50%) !important; border: 0 !important; white-space: nowrap !important; }
a:focus-visible, button:focus-visible, textarea:focus-visible, input:focus-visible, summary:focus-visible,
[tabindex]:focus-visible {
  outline: 3px solid #ffdd00 !important; outline-offset: 0; box-shadow: 0 0 0 6px #0b0c0c !important;
  transition: none !important; }
a:focus-visible { background: #ffdd00; color: #0b0c0c !important; text-decoration: none; }
footer:not(.site-footer) { display: none !important; }
.site-footer { border-top: 2px solid #1d70b8; margin: 16px 0 0; padding: 8px 0; color: #505a5f;
  font-size: 0.95rem; max-width: 960px; }
/* Phones: the question box and every example question on the first screen (320 x 568 and up). */
main .column, main .form { gap: 4px !important; }
.ask-row .block { padding: 6px 8px !important; }
@media (max-width: 480px) {
  .notice.compact { font-size: 0.875rem; }
  .examples .example { font-size: 0.9375rem; padding: 2px 6px; line-height: 1.2; }
  main.contain { padding-left: 0 !important; padding-right: 0 !important; }
  .examples .section-heading { margin: 0; font-size: 1.125rem; }
  .notice.compact { line-height: 1.25; }
}
/* The tools below the conversation make the page scroll: on the narrowest phones the scroll bar takes width, so
   the examples are set a little tighter to stay on the first screen. */
@media (max-width: 340px) {
  .examples .example { font-size: 0.875rem; line-height: 1.15; }
  .examples .section-heading { font-size: 1rem; }
}
"""
