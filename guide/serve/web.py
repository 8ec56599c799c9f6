"""The parent's web page and its compact embed: a Gradio Blocks chat over the public `Guide.ask`.

Serving (FastAPI, the JSON API, mounting both pages) lives in api.py; this module only builds pages.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import gradio as gr

from ..answer.redact import redact
from .feedback import FeedbackError, FeedbackStore
from .limits import RateLimiter, too_long_message

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


# --- rendering -------------------------------------------------------------------------------------------------
def link_citations(text: str, citations: list[dict]) -> str:
    """Turn each [n] marker into a Markdown link to citation n's official source."""
    urls = {c["n"]: c["url"] for c in citations if _safe_url(c["url"])}
    return _MARKER.sub(lambda m: f"[[{m[1]}]]({urls[int(m[1])]})" if int(m[1]) in urls else m[0], text)


def sources_html(citations: list[dict]) -> str:
    """The sources panel: title, heading, quoted passage and a link for each citation."""
    if not citations:
        return '<p class="sources-empty">Sources for an answer appear here.</p>'
    items = []
    for c in citations:
        url = c["url"] if _safe_url(c["url"]) else ""
        title = html.escape(c["title"])
        link = (f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">{title}'
                '<span class="visually-hidden"> (opens in a new tab)</span></a>') if url else title
        heading = f'<p class="source-heading">{html.escape(c["heading"])}</p>' if c.get("heading") else ""
        quote = f"<blockquote>{html.escape(c['quote'])}</blockquote>" if c.get("quote") else ""
        items.append(f'<li value="{int(c["n"])}" id="source-{int(c["n"])}"><p class="source-title">{link}</p>'
                     f"{heading}{quote}</li>")
    return f'<ol class="source-list">{"".join(items)}</ol>'


def plain_answer(reply: dict) -> str:
    """The answer and its sources as plain text, for the copy button."""
    lines = [reply["text"]]
    if reply["citations"]:
        lines.append("\nSources:")
        lines += [f"[{c['n']}] {c['title']} - {c['heading']}\n{c['url']}" for c in reply["citations"]]
    return "\n".join(lines)


def _safe_url(url: str) -> bool:
    return url.startswith(("https://", "http://"))


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


# --- the page --------------------------------------------------------------------------------------------------
def notice_html(compact: bool = False) -> str:
    help_link = (f'<a href="{IPSEA_HELP_URL}" target="_blank" rel="noopener noreferrer">IPSEA'
                 '<span class="visually-hidden"> (opens in a new tab)</span></a>')
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
                 embed: bool = False) -> gr.Blocks:
    """The parent's page, or with `embed` the compact version for other sites (no header, shorter chat).

    `config` gives the texts and limits; the public `ask` endpoint is for gradio_client callers.
    """

    # analytics off: the guide makes no calls off the machine.
    with gr.Blocks(title=config.app_title, analytics_enabled=False, fill_width=False) as blocks:
        turns = gr.State([])  # [{question, reply (dict), start (chat length before it)}]; per browser session
        if not embed:
            gr.HTML(f'<header class="site-header"><h1>{html.escape(config.app_title)}</h1></header>')
            gr.Markdown(config.app_intro, elem_classes="intro")
        gr.HTML(notice_html(compact=embed))
        gr.HTML('<h2 class="section-heading">Conversation</h2>')  # Gradio's floating label covered the text
        chatbot = gr.Chatbot(
            label="Conversation", show_label=False, height=360 if embed else 480, buttons=["copy"],
            elem_id="conversation",
            feedback_options=("Like", "Dislike"),
            placeholder="Ask a question below, or choose one of the example questions.",
        )
        status = gr.HTML("", elem_id="status")
        question = gr.Textbox(
            label="Your question", lines=1, max_lines=6, elem_id="question",  # lines=1: Enter sends
            info="Press Enter to send, Shift+Enter for a new line. Leave out names and contact details.",
        )
        with gr.Row(elem_classes="actions"):
            ask = gr.Button("Ask", variant="primary", elem_id="ask", min_width=80)
            retry = gr.Button("Retry", variant="secondary", elem_id="retry", min_width=80)
            copy = gr.Button("Copy answer", variant="secondary", elem_id="copy", min_width=80)
            new = gr.Button("New conversation", variant="secondary", elem_id="new", min_width=80)
        copy_text = gr.Textbox(visible=False)
        with gr.Column(elem_classes="examples"):
            gr.HTML('<h2 class="section-heading">Example questions</h2>')
            examples = [gr.Button(q, variant="secondary", size="sm", elem_classes="example")
                        for q in config.app_examples[: 2 if embed else None]]
        with gr.Accordion("Sources for this answer", open=not embed, elem_id="sources-panel"):
            sources = gr.HTML(sources_html([]), elem_id="sources")
        with gr.Column(visible=False, elem_id="feedback") as feedback_box:
            gr.HTML('<h2 class="section-heading">Was this answer helpful?</h2>')
            rating = gr.Radio(["Yes", "No"], label="Was this answer helpful?", show_label=False, elem_id="rating")
            comment = gr.Textbox(label="Anything to add? (optional)", lines=2, elem_id="comment",
                                 info="Please do not include names or contact details.")
            send = gr.Button("Send feedback", variant="secondary", elem_id="send-feedback")
            thanks = gr.HTML("", elem_id="feedback-status")

        answer_outputs = [question, chatbot, turns, sources, status, copy_text, feedback_box, rating, comment, thanks]

        def refuse(message: str, request: gr.Request | None) -> str | None:
            """Why this message is not answered (over the length cap or the rate limit), else None."""
            problem = too_long_message(len(message), config.max_message_chars)
            if problem is None:
                wait = limiter.check(_client(request))
                problem = limiter.message(wait) if wait else None
            return problem

        def respond(message: str, chat: list, history: list[dict], request: gr.Request) -> Iterator[dict]:
            message = (message or "").strip()
            if not message:
                yield {status: _alert("Please type a question first.")}
                return
            problem = refuse(message, request)
            if problem:
                yield {status: _alert(problem)}  # the question stays in the box so it can be shortened or resent
                return
            start = len(chat)
            chat = [*chat, {"role": "user", "content": message}, {"role": "assistant", "content": "…"}]
            yield {question: "", chatbot: chat, status: "", feedback_box: gr.update(visible=False)}
            try:
                reply = guide.ask(message, history=_history(history)).to_dict()
            except Exception:
                log.exception("answering %r failed", redact(message)[:200])
                yield {chatbot: chat[:-1], status: _alert("Sorry, something went wrong. Please try again.")}
                return
            text = link_citations(reply["text"], reply["citations"])
            for piece in _pieces(text):
                chat[-1] = {"role": "assistant", "content": piece}
                yield {chatbot: chat}
                time.sleep(STREAM_PAUSE)
            history = [*history, {"question": message, "reply": reply, "start": start}]
            yield {chatbot: chat, turns: history, sources: sources_html(reply["citations"]),
                   copy_text: plain_answer(reply), feedback_box: gr.update(visible=True), rating: None,
                   comment: "", thanks: ""}

        def do_retry(chat: list, history: list[dict], request: gr.Request) -> Iterator[dict]:
            if not history:
                yield {status: _alert("There is no answer to retry yet.")}
                return
            last = history[-1]
            yield from respond(last["question"], chat[: last["start"]], history[:-1], request)

        def clear() -> dict:
            return {chatbot: [], turns: [], sources: sources_html([]), status: "", copy_text: "",
                    feedback_box: gr.update(visible=False), rating: None, comment: "", thanks: ""}

        def send_feedback(helpful: str | None, text: str, history: list[dict], request: gr.Request) -> dict:
            if not history:
                return {thanks: _alert("Ask a question first, then tell us about the answer.")}
            return _store(len(history) - 1, {"Yes": True, "No": False}.get(helpful or ""), text, history, request,
                          "Thank you. Your feedback has been saved.")

        def like(history: list[dict], data: gr.LikeData, request: gr.Request) -> dict:
            index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
            turn = next((i for i, t in enumerate(history) if t["start"] + 1 == index), None)
            if turn is None or data.liked not in (True, False):
                return {}
            return _store(turn, bool(data.liked), None, history, request, "Thank you for rating this answer.")

        def _store(turn: int, helpful: bool | None, text: str | None, history: list[dict], request: gr.Request,
                   done: str) -> dict:
            t = history[turn]
            try:
                feedback.record(session=request.session_hash or _client(request), turn=turn,
                                question=t["question"], answer=t["reply"]["text"], helpful=helpful, comment=text,
                                behaviour=t["reply"]["behaviour"],
                                sources=[c["doc_id"] for c in t["reply"]["citations"]])
            except FeedbackError as exc:
                return {thanks: _alert(str(exc))}
            return {thanks: f'<p class="confirmation" role="status">{done}</p>'}

        def ask_api(question: str, history: list[dict] | None = None, request: gr.Request = None) -> dict:
            """Answer one question (with earlier role/content turns); returns the reply as JSON."""
            problem = refuse((question or "").strip(), request)
            if problem:
                raise gr.Error(problem)
            try:
                return guide.ask(question, history=history).to_dict()
            except ValueError as exc:  # a malformed history says what is wrong
                raise gr.Error(str(exc)) from exc

        # The page's own events are private: gradio_client callers get the one documented `ask` endpoint.
        private = dict(api_visibility="private")
        answer = dict(outputs=answer_outputs, concurrency_id="answer", **private)
        ask.click(respond, inputs=[question, chatbot, turns], **answer)
        question.submit(respond, inputs=[question, chatbot, turns], **answer)
        for button in examples:
            button.click(respond, inputs=[button, chatbot, turns], **answer)
        retry.click(do_retry, inputs=[chatbot, turns], **answer)
        new.click(clear, outputs=answer_outputs, **private)
        chatbot.clear(clear, outputs=answer_outputs, **private)  # the chat's own bin icon starts again too
        copy.click(None, inputs=[copy_text], outputs=[status], js=_COPY_JS, **private)
        send.click(send_feedback, inputs=[rating, comment, turns], outputs=[thanks], **private)
        chatbot.like(like, inputs=[turns], outputs=[thanks], **private)
        gr.api(ask_api, api_name="ask", concurrency_id="answer")
    blocks.queue(default_concurrency_limit=QUEUE_CONCURRENCY)
    return blocks


_COPY_JS = """
async (text) => {
  const say = (m) => `<p class="confirmation" role="status">${m}</p>`;
  if (!text) return say("There is no answer to copy yet.");
  try { await navigator.clipboard.writeText(text); return say("Answer copied."); }
  catch (e) { return say("Your browser did not allow copying. Select the answer text and copy it instead."); }
}
"""


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
.gradio-container { max-width: 960px !important; margin: 0 auto; color: #0b0c0c; }
.site-header { border-bottom: 10px solid #1d70b8; padding: 8px 0 12px; margin-bottom: 8px; }
.site-header h1 { font-size: 2rem; line-height: 1.2; margin: 0; color: #0b0c0c; }
.intro p { font-size: 1.1875rem; line-height: 1.5; }
.notice { border-left: 10px solid #b1b4b6; padding: 4px 0 4px 15px; margin: 8px 0; }
.notice p { margin: 0.4em 0; line-height: 1.5; }
.notice.compact { font-size: 0.95rem; }
.section-heading { font-size: 1.25rem; margin: 12px 0 6px; color: #0b0c0c; }
.notice a, .source-list a, #conversation a { padding: 0 !important; }
#conversation a { color: #1d70b8; text-decoration: underline; }
#conversation .md.chatbot.prose { opacity: 1; }  /* Gradio fades messages to 0.8: links fell below 4.5:1 */
.source-list { padding-left: 1.5em; margin: 0; }
.source-list p { display: block; }
.source-list li { margin-bottom: 1em; }
.source-title { font-weight: bold; margin: 0; }
.source-heading { color: #505a5f; margin: 0.2em 0; }
.source-list blockquote { border-left: 5px solid #b1b4b6; margin: 0.4em 0; padding: 0 0 0 10px; }
.error-message { color: #d4351c; font-weight: bold; border-left: 5px solid #d4351c; padding-left: 10px; }
.confirmation { color: #00703c; font-weight: bold; }
.actions { flex-wrap: wrap; gap: 8px; }
.examples { gap: 6px; }
.examples .example { text-align: left; justify-content: flex-start; white-space: normal; font-size: 1rem; }
.visually-hidden { position: absolute !important; width: 1px !important; height: 1px !important;
  margin: 0 !important; padding: 0 !important; overflow: hidden !important; clip: rect(0 0 0 0) !important;
  clip-path: inset(50%) !important; border: 0 !important; white-space: nowrap !important; }
a:focus-visible, button:focus-visible, textarea:focus-visible, input:focus-visible, [tabindex]:focus-visible {
  outline: 3px solid #ffdd00 !important; outline-offset: 0; box-shadow: 0 0 0 6px #0b0c0c !important;
  transition: none !important; }
a:focus-visible { background: #ffdd00; color: #0b0c0c !important; text-decoration: none; }
footer { display: none !important; }
@media (max-width: 400px) { .site-header h1 { font-size: 1.5rem; } .gradio-container { padding: 0 8px !important; } }
"""
