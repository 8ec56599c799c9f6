"""The "Write a letter" tool on the page: choose a model letter, edit it, copy it, download it (.docx or .txt).

Nothing the parent types is stored or sent anywhere: the letter lives in the browser; the .docx is built in memory
and handed back as data (no file is written to the server's disk), the .txt is made in the browser itself.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import gradio as gr

from ..tools.letters import to_docx

if TYPE_CHECKING:
    from ..core import Guide

INTRO = (
    "Model letters in plain words, each naming the law it relies on. Choose one, fill in the [gaps] in the box, "
    "then copy it or download it. **Nothing you type here is saved or sent anywhere**: only you can see it. "
    "This is information, not legal advice."
)

# Turns data the server sends back (or the text in the box) into a file the browser downloads.
_DOWNLOAD_JS = """
(data, name, kind) => {
  if (!data) return [];
  const bytes = kind === 'docx' ? Uint8Array.from(atob(data), c => c.charCodeAt(0)) : data;
  const type = kind === 'docx'
    ? 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' : 'text/plain;charset=utf-8';
  const url = URL.createObjectURL(new Blob([bytes], {type}));
  const a = document.createElement('a');
  a.href = url; a.download = (name || 'letter') + '.' + kind; document.body.appendChild(a); a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 1000);
  return [];
}
"""


def _about(letter) -> str:
    sources = "; ".join(f"[{s.title}]({s.url})" for s in letter.sources)
    return f"**{letter.title}** (to {letter.to})\n\n{letter.summary}\n\n*The law:* {letter.law}\n\n*Sources:* {sources}"


def render_letters_tool(guide: Guide) -> None:
    """Build the letter tool's components inside the current gr.Blocks (the page decides where it goes)."""
    book = guide.letters
    letters = list(book)
    if not letters:
        gr.Markdown("No model letters are installed.")
        return
    first = letters[0]
    with gr.Column(elem_id="letters-tool"):
        gr.Markdown("## Write a letter")
        gr.Markdown(INTRO)
        choice = gr.Dropdown(choices=[(x.title, x.id) for x in letters], value=first.id, label="Choose a letter",
                             elem_id="letter-choice")
        about = gr.Markdown(_about(first), elem_id="letter-about")
        text = gr.Textbox(value=book.fill(first).text, lines=18, max_lines=40, label="Your letter (fill in the "
                          "[gaps], then copy or download)", buttons=["copy"], elem_id="letter-text",
                          max_length=20_000)
        with gr.Row():
            docx_button = gr.Button("Download as Word (.docx)", elem_id="letter-docx")
            txt_button = gr.Button("Download as plain text (.txt)", elem_id="letter-txt")
        # Carries the .docx to the browser as base64; never shown, never stored.
        docx_data = gr.Textbox(visible=False)
        kind_docx = gr.Textbox("docx", visible=False)
        kind_txt = gr.Textbox("txt", visible=False)

    def choose(letter_id: str):
        letter = book.get(letter_id) or first
        return _about(letter), book.fill(letter).text

    def make_docx(letter_id: str, body: str) -> str:
        letter = book.get(letter_id) or first
        return base64.b64encode(to_docx(letter.title, body or "")).decode("ascii")

    choice.change(choose, inputs=choice, outputs=[about, text], show_progress="hidden")
    docx_button.click(make_docx, inputs=[choice, text], outputs=docx_data, show_progress="hidden").then(
        None, inputs=[docx_data, choice, kind_docx], outputs=None, js=_DOWNLOAD_JS)
    txt_button.click(None, inputs=[text, choice, kind_txt], outputs=None, js=_DOWNLOAD_JS)
