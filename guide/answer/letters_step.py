"""The chat offers a model letter when the parent asks for words to send ("help me write to the council")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ..reply import Citation
from ..tools.letters import LetterBook, wants_letter
from .areas import AreaFinder

# Only an answer (or an honest "I couldn't find that") gets a letter: never a decline, crisis support or scope note.
_OFFER_AFTER = {("answer", "answered"), ("signpost", "low-confidence")}


class Letters:
    """After compose: set reply.letter and add one cited line offering it. Runs after the reply is made."""

    name = "letters"
    after_reply = True

    def __init__(self, book: LetterBook, finder: AreaFinder | None = None,
                 today: Callable[[], dt.date] = dt.date.today):
        self.book = book
        self.finder = finder
        self.today = today

    def __call__(self, ctx) -> None:
        reply = ctx.reply
        if reply is None or not len(self.book) or (reply.behaviour, reply.reason) not in _OFFER_AFTER:
            return
        if not wants_letter(ctx.question):
            return
        letter = self.book.pick(ctx.question)
        if letter is None:
            return
        # The parent's own messages only: what the guide said is not what the parent told it.
        said = " ".join([*(m["content"] for m in ctx.history if m["role"] == "user"), ctx.question])
        council = ""
        if self.finder is not None:
            councils = [a for a in self.finder.find(said) if a.recognised and a.name and not a.note]
            council = self.finder.council_title(councils[0].name) if len(councils) == 1 else ""
        filled = self.book.fill(letter, conversation=said, council=council, today=self.today())
        n = max((c.n for c in reply.citations), default=0) + 1
        source = letter.sources[0]
        reply.citations.append(Citation(n=n, title=source.title, url=source.url, doc_id=f"letter:{letter.id}",
                                        heading=letter.title, quote=letter.law,
                                        urls=[s.url for s in letter.sources]))
        reply.letter = filled.to_dict()
        reply.text += (f"\n\nI can give you a model letter for this: \"{letter.title}\", with gaps for what only you "
                       f"know [{n}]. You can edit it, copy it or download it below; nothing you type into it is "
                       "kept.")
