"""The page's "Work out my dates" form: an event, its date (and any later dates), and the dates that follow, each with
its legal basis. `render_dates_tool(guide)` adds the components to the gr.Blocks being built."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from ..tools import clock
from ..tools import deadlines as dates

if TYPE_CHECKING:
    from ..core import Guide

# Every further date any event takes, once each, in a stable order.
EXTRA_NAMES = list(dict.fromkeys(name for ev in dates.EVENTS.values() for name, _ in ev.extras))
_EXTRA_LABELS = {name: label for ev in dates.EVENTS.values() for name, label in ev.extras}


def work_out(guide_today: str, event: str, date: str, kind: str, *extra_values: str) -> str:
    """Markdown for the result box: the dates, or what was wrong and what to type instead."""
    if not event:
        return "Choose what happened first."
    try:
        extra = dict(zip(EXTRA_NAMES, extra_values, strict=True))
        result = dates.from_text(event, date, clock.today(guide_today), extra, kind or "")
    except dates.DateError as exc:
        field, _, problem = str(exc).partition(": ")
        where = {"date": "the date box"}.get(field, _EXTRA_LABELS.get(field.removeprefix("extra."), field))
        return f"**Please check {where}:** {problem}" if problem else f"**Please check:** {exc}"
    return result.markdown()


def _fields_for(event: str):
    ev = dates.EVENTS.get(event)
    names = {n for n, _ in ev.extras} if ev else set()
    kinds = list(ev.kinds) if ev else []
    kind = gr.update(choices=[(label, key) for key, label in kinds], value=kinds[0][0] if kinds else None,
                     visible=bool(kinds))
    date_label = gr.update(label=ev.date_label if ev else "Date")
    return [date_label, kind, *(gr.update(visible=name in names) for name in EXTRA_NAMES)]


def render_dates_tool(guide: Guide) -> None:
    """The form, inside the current gr.Blocks context. Nothing typed here is stored."""
    today = guide.config.today
    with gr.Group(elem_id="dates-tool"):
        gr.Markdown("## Work out my dates\nChoose what happened and when. Write dates the way you like "
                    "(\"1 October 2026\", \"1/10/2026\" day first, \"last Tuesday\"). Nothing you type is stored.")
        event = gr.Dropdown(choices=[(ev.label, key) for key, ev in dates.EVENTS.items()], value=None,
                            label="What happened?", elem_id="dates-event")
        date = gr.Textbox(label="Date", placeholder="e.g. 1 October 2026", elem_id="dates-date")
        kind = gr.Dropdown(choices=[], label="Which kind?", visible=False, elem_id="dates-kind")
        extras = [gr.Textbox(label=_EXTRA_LABELS[name], visible=False, elem_id=f"dates-{name}")
                  for name in EXTRA_NAMES]
        button = gr.Button("Work out my dates", variant="primary", elem_id="dates-button")
        result = gr.Markdown(elem_id="dates-result")
    event.change(_fields_for, inputs=event, outputs=[date, kind, *extras], api_name=False)
    button.click(lambda *values: work_out(today, *values), inputs=[event, date, kind, *extras], outputs=result,
                 api_name=False)
