"""The answer pipeline: small steps over one shared context, any of which may finish the reply.

    sanitise -> guard -> rephrase -> route -> retrieve -> compose -> check
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from ..reply import HELP_SIGNPOST, Reply
from . import guards
from .areas import AreaFinder
from .compose import ExtractiveComposer
from .conversation import expand, is_follow_up, question_focus, retrieval_query, validate_history
from .redact import redact
from .retrieval import Hit, HybridRetriever

log = logging.getLogger(__name__)

# Unicode "tag" characters and other invisible code points can smuggle instructions past a reader.
_INVISIBLE = re.compile("[\U000e0000-\U000e007f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_CITE = re.compile(r"\[(\d{1,2})\]")

NOT_FOUND_HELP = HELP_SIGNPOST + " Your council's Local Offer website also lists local SEND services."
NOT_FOUND_TEXT = "I couldn't find a reliable answer to that in my sources, so I won't guess. " + NOT_FOUND_HELP


@dataclass
class Context:
    question: str
    history: list[dict]
    safe_question: str = ""  # redacted: what may be logged
    search_text: str = ""  # what is searched after removing injected instructions and adding context
    lexical_text: str = ""  # the parent's own words (with earlier turns for a follow-up), for word matching
    query_vec: np.ndarray | None = None  # the question in the context of earlier turns
    focus_text: str = ""  # the latest message on its own
    focus_vec: np.ndarray | None = None
    follow_up: bool = False
    prefer_docs: tuple[str, ...] = ()
    only_docs: tuple[str, ...] = ()
    verdicts: list[guards.Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    reply: Reply | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def finish(self, behaviour: str, reason: str, text: str) -> None:
        self.reply = Reply(text=text, behaviour=behaviour, reason=reason, query=self.search_text)


class Sanitise:
    name = "sanitise"

    def __init__(self, max_chars: int):
        self.max_chars = max_chars

    def __call__(self, ctx: Context) -> None:
        text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", ctx.question)).strip()
        ctx.question = text
        ctx.safe_question = redact(text)
        if not text:
            ctx.finish("clarify", "empty", "Please type a question about SEND in England.")
        elif len(text) > self.max_chars:
            ctx.finish(
                "clarify",
                "too-long",
                f"Your message is {len(text)} characters long; the limit is {self.max_chars}. Please shorten it to "
                "the question you want answered (you don't need to paste whole letters).",
            )


class Guard:
    name = "guard"

    def __call__(self, ctx: Context) -> None:
        # Only a follow-up inherits the earlier turns' scope ("could he ask for one instead?" after Wales).
        context = " ".join(m["content"] for m in ctx.history if m["role"] == "user") \
            if is_follow_up(ctx.question) else ""
        ctx.verdicts = guards.check(ctx.question, has_history=bool(ctx.history), context=context)
        for verdict in ctx.verdicts:
            if verdict.stop:
                ctx.finish(verdict.behaviour, verdict.reason, verdict.text)
                return
            if verdict.only_docs:
                ctx.only_docs = verdict.only_docs


class Rephrase:
    name = "rephrase"

    def __init__(self, embed_query, embed_many):
        self.embed_query = embed_query
        self.embed_many = embed_many

    def __call__(self, ctx: Context) -> None:
        # Injected instructions are not part of the question: search without them.
        question = guards.strip_injection(ctx.question) or ctx.question
        history = [
            {"role": m["role"], "content": guards.strip_injection(m["content"]) or m["content"]}
            for m in ctx.history
        ]
        ctx.search_text = retrieval_query(question, history)
        ctx.lexical_text = retrieval_query(question, history, expand_terms=False)
        ctx.follow_up = ctx.search_text != expand(question)
        # A second view of the message: a follow-up on its own, or the questions inside a long story.
        ctx.focus_text = expand(question) if ctx.follow_up else expand(question_focus(question) or question)
        if ctx.focus_text != ctx.search_text:
            ctx.query_vec, ctx.focus_vec = self.embed_many([ctx.search_text, ctx.focus_text])
        else:
            ctx.query_vec = ctx.focus_vec = self.embed_query(ctx.search_text)


class Route:
    """Prefer an inspected area's document; say plainly when a named area is not covered."""

    name = "route"

    def __init__(self, finder: AreaFinder):
        self.finder = finder

    def __call__(self, ctx: Context) -> None:
        if ctx.only_docs:
            return
        areas = self.finder.find(ctx.focus_text)
        local = guards.is_local_topic(ctx.focus_text)
        if not areas and ctx.follow_up:
            # "What happened after that?" inherits the area, and the topic, of the earlier turns.
            areas = self.finder.find(ctx.search_text)
            local = local or guards.is_local_topic(ctx.search_text)
        known = [a for a in areas if a.doc_ids]
        unknown = [a for a in areas if not a.doc_ids]
        if known:
            ctx.prefer_docs = tuple(d for a in known for d in a.doc_ids)
        elif unknown and local:
            verdict = self.finder.verdict(unknown[0])  # never another area's findings
            ctx.finish(verdict.behaviour, verdict.reason, verdict.text)
        elif unknown:
            ctx.notes.append(
                f"This is the law for all of England. I don't hold local details for {unknown[0].name}: its "
                "Local Offer website lists local services."
            )


class Retrieve:
    name = "retrieve"

    def __init__(self, retriever: HybridRetriever, k: int):
        self.retriever = retriever
        self.k = k

    def __call__(self, ctx: Context) -> None:
        extra = [(ctx.focus_text, ctx.focus_vec)] if ctx.focus_text != ctx.search_text else []
        # One area's inspection history is no answer to a general question: search guidance unless the
        # question names an inspected area or is about inspections.
        kind = None if ctx.prefer_docs or guards.is_local_topic(ctx.search_text) else "guidance"
        ctx.hits = self.retriever.retrieve(ctx.search_text, ctx.query_vec, k=self.k, prefer_docs=ctx.prefer_docs,
                                           also=extra, kind=kind)
        if ctx.only_docs:
            allowed = [h for h in ctx.hits if h.chunk.doc_id in ctx.only_docs]
            if not allowed:
                # The question is about another nation: search that scope note alone, however it was worded.
                store = self.retriever.store
                found = store.dense(ctx.query_vec, self.k, {"doc_id": {"$in": list(ctx.only_docs)}})
                allowed = [Hit(store.chunk(cid), sim, sim, 0.0, rank) for rank, (cid, sim) in enumerate(found)]
            nation = next((v.extra.get("nation") for v in ctx.verdicts if v.extra.get("nation")), "")
            about = [h for h in allowed if nation and nation.lower() in (h.chunk.heading + h.chunk.text).lower()]
            ctx.hits = (about or allowed)[: self.k]


class Compose:
    name = "compose"

    def __init__(self, composer: ExtractiveComposer, store, min_score: float, coverage=None,
                 min_score_unknown: float = 0.5):
        self.composer = composer
        self.store = store
        self.min_score = min_score
        self.coverage = coverage
        self.min_score_unknown = min_score_unknown

    def __call__(self, ctx: Context) -> None:
        retrieved = list(dict.fromkeys(h.chunk.doc_id for h in ctx.hits))
        signpost = next((v for v in ctx.verdicts if v.behaviour == "signpost"), None)
        # Crisis support or a scope note always leads, whatever the search found.
        parts = [v.text for v in ctx.verdicts if not v.stop and v.text]
        top = max((h.dense for h in ctx.hits), default=0.0)
        if not ctx.hits or (top < self.min_score and not ctx.only_docs):
            ctx.finish("signpost", signpost.reason if signpost else "low-confidence",
                       "\n\n".join([*parts, NOT_FOUND_TEXT]))
            ctx.reply.retrieved = retrieved
            return
        unknown = self.coverage.unknown_words(ctx.focus_text) if self.coverage and not ctx.only_docs else []
        if unknown and top < self.min_score_unknown:
            words = ", ".join(f'"{w}"' for w in unknown[:3])
            ctx.finish("signpost", signpost.reason if signpost else "low-confidence",
                       "\n\n".join([*parts, f"My sources don't cover {words}, so I can't answer that reliably. "
                                      + NOT_FOUND_HELP]))
            ctx.reply.retrieved = retrieved
            return
        vectors = self.store.sentence_vectors([h.chunk.id for h in ctx.hits[: self.composer.passages]])
        # Words are matched against what the parent asked (with earlier turns for a follow-up).
        focus = ctx.query_vec if ctx.focus_vec is None else (ctx.query_vec + ctx.focus_vec) / 2
        comp = self.composer.compose(ctx.lexical_text, focus, ctx.hits, vectors)
        if not comp.text:
            ctx.finish("signpost", signpost.reason if signpost else "low-confidence",
                       "\n\n".join([*parts, NOT_FOUND_TEXT]))
            ctx.reply.retrieved = retrieved
            return
        body = comp.text
        if ctx.notes:
            body += "\n\n" + "\n\n".join(ctx.notes)
        behaviour, reason = ("signpost", signpost.reason) if signpost else ("answer", "answered")
        ctx.reply = Reply(text="\n\n".join([*parts, body]), citations=comp.citations, behaviour=behaviour,
                          reason=reason, retrieved=retrieved, query=ctx.search_text)


class Check:
    """Last look before the reply leaves: every [n] must point at a citation we return."""

    name = "check"

    def __call__(self, ctx: Context) -> None:
        reply = ctx.reply
        if reply is None:
            return
        numbers = {c.n for c in reply.citations}
        dangling = {int(n) for n in _CITE.findall(reply.text)} - numbers
        if dangling:
            log.error("reply had citation markers without citations: %s", sorted(dangling))
            reply.text = _CITE.sub(lambda m: m.group(0) if int(m.group(1)) in numbers else "", reply.text)


class Pipeline:
    def __init__(self, steps: list):
        self.steps = steps

    def run(self, question: str, history=None) -> Reply:
        ctx = Context(question=question if isinstance(question, str) else str(question),
                      history=validate_history(history))
        start = time.perf_counter()
        for step in self.steps:
            if ctx.reply is not None and step.name != "check" and not getattr(step, "after_reply", False):
                continue
            t = time.perf_counter()
            step(ctx)
            ctx.timings[step.name] = (time.perf_counter() - t) * 1000
        assert ctx.reply is not None, "the pipeline finished without a reply"
        ctx.timings["total"] = (time.perf_counter() - start) * 1000
        ctx.reply.timings = ctx.timings
        if not ctx.reply.query:
            ctx.reply.query = redact(ctx.search_text)
        else:
            ctx.reply.query = redact(ctx.reply.query)
        log.info("ask %r -> %s (%s) in %.0f ms", ctx.safe_question[:200], ctx.reply.behaviour, ctx.reply.reason,
                 ctx.timings["total"])
        return ctx.reply
