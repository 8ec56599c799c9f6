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
from ..tools.letters import asks_for_letter
from . import guards
from .areas import AreaFinder
from .compose import SectionComposer
from .conversation import (
    earlier_user_turns,
    follow_up_cue,
    is_follow_up,
    question_focus,
    questions_in,
    topic_words,
    validate_history,
    with_context,
)
from .redact import redact
from .retrieval import Hit, HybridRetriever

log = logging.getLogger(__name__)

# Unicode "tag" characters and other invisible code points can smuggle instructions past a reader.
_INVISIBLE = re.compile("[\U000e0000-\U000e007f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_CITE = re.compile(r"\[(\d{1,2})\]")
_BOLD = re.compile(r"\*\*(.+?)\*\*")  # a reply's section headings, as the guide writes them

NOT_FOUND_HELP = HELP_SIGNPOST + " Your council's Local Offer website also lists local SEND services."
NOT_FOUND_TEXT = "I couldn't find a reliable answer to that in my sources, so I won't guess. " + NOT_FOUND_HELP
# A question inside a message is looked up on its own when it names at least this many topic words ("And can I
# appeal if they refuse?" names two: appeal, refuse).
PART_TOPIC_WORDS = 2
# A message about "my area" that names none is answered from the law when a guidance section is at least this
# like it; below, the guide asks which council it is.
AREA_ANSWER_BELOW = 0.70
AREA_NOTE = ("This is the law for all of England. Tell me your council's name if you want me to check whether I "
             "hold its SEND inspection history.")
CLARIFY_TEXT = ("I'm not sure which question you're asking, and I don't want to answer the wrong one. Is it one of "
                "these? (You can also tell me more about what happened.)")


@dataclass
class Context:
    question: str
    history: list[dict]
    safe_question: str = ""  # redacted: what may be logged
    search_text: str = ""  # what is searched after removing injected instructions and adding context
    lexical_text: str = ""  # the parent's own words
    context_lexical: str = ""  # the parent's own words with their earlier messages, for a follow-up
    query_vec: np.ndarray | None = None  # the message on its own
    focus_text: str = ""  # the questions inside a long message (else the message)
    focus_vec: np.ndarray | None = None
    context_text: str = ""  # the message with the parent's earlier turns, for a follow-up
    context_vec: np.ndarray | None = None
    cue: str = ""  # "strong", "weak" or "": how much the message leans on earlier turns
    quiet: bool = False  # earlier turns exist but the message gives no sign of continuing them
    follow_up: bool = False
    parts: list[str] = field(default_factory=list)  # the questions of a message that asks more than one
    part_vecs: list = field(default_factory=list)
    part_words: list[str] = field(default_factory=list)  # the parts in the parent's own words
    part_hits: list = field(default_factory=list)
    prefer_docs: tuple[str, ...] = ()
    only_docs: tuple[str, ...] = ()
    which_area: guards.Verdict | None = None  # "my area" with no name: asked back unless the law answers it
    letter_section: tuple[str, str] | None = None  # (doc id, heading) explaining a letter the parent asks for
    verdicts: list[guards.Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    reply: Reply | None = None
    deadlines: list = field(default_factory=list)  # the parent's own dates (deadlines_step.Finding)
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
    """Understand the message: the parent's own words, the questions inside a long story, and, for a message that
    cannot stand alone, the earlier turns it continues."""

    name = "rephrase"

    def __init__(self, embed_many, abbreviations=None):
        self.embed_many = embed_many
        self.abbreviations = abbreviations

    def _expand(self, text: str) -> str:
        return self.abbreviations.expand(text) if self.abbreviations else text

    def __call__(self, ctx: Context) -> None:
        # Injected instructions are not part of the question: search without them.
        question = guards.strip_injection(ctx.question) or ctx.question
        history = [
            {"role": m["role"], "content": guards.strip_injection(m["content"]) or m["content"]}
            for m in ctx.history
        ]
        earlier = earlier_user_turns(history)
        ctx.cue = follow_up_cue(question) if earlier else ""
        # In a conversation even a message with no pointer may lean on the earlier turns ("how long do I have to
        # ask for a review?" after a transport refusal): it is searched alone first and the conversation decides
        # only when no section clearly answers it alone (Retrieve's `stands_alone_quiet`).
        ctx.quiet = bool(earlier) and not ctx.cue
        ctx.search_text = self._expand(question)
        ctx.lexical_text = question
        ctx.focus_text = self._expand(question_focus(question) or question)
        ctx.context_lexical = with_context(question, history) if earlier else ""
        ctx.context_text = self._expand(ctx.context_lexical) if earlier else ""
        # Two questions in one message are each looked up on their own.
        asked = [q for q in questions_in(question) if len(topic_words(q)) >= PART_TOPIC_WORDS]
        ctx.parts = [self._expand(q) for q in asked] if len(asked) > 1 else []
        ctx.part_words = asked if len(asked) > 1 else []
        texts = list(dict.fromkeys(t for t in (ctx.search_text, ctx.focus_text, ctx.context_text, *ctx.parts) if t))
        vectors = dict(zip(texts, self.embed_many(texts), strict=True))
        ctx.query_vec = vectors[ctx.search_text]
        ctx.focus_vec = vectors[ctx.focus_text]
        ctx.context_vec = vectors.get(ctx.context_text)
        ctx.part_vecs = [vectors[t] for t in ctx.parts]
        ctx.follow_up = ctx.cue == "strong"


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
        if not areas and ctx.cue:
            # "What happened after that?" inherits the area, and the topic, of the earlier turns.
            areas = self.finder.find(ctx.context_text)
            local = local or guards.is_local_topic(ctx.context_text)
        known = [a for a in areas if a.doc_ids]
        unknown = [a for a in areas if not a.doc_ids]
        if known:
            ctx.prefer_docs = tuple(d for a in known for d in a.doc_ids)
        elif unknown and local and not unknown[0].name:
            # "our LA says the EP waiting list is 6 months, is that allowed?" names no area but asks the law for
            # all of England: the answer step asks which area only when no guidance section clearly answers it.
            ctx.which_area = self.finder.verdict(unknown[0])
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

    def __init__(self, retriever: HybridRetriever, k: int, stands_alone: float = 0.62,
                 stands_alone_quiet: float = 0.75, repeat_ratio: float = 0.8):
        self.retriever = retriever
        self.k = k
        # A message that only points back ("is that allowed?") stands alone when its own words find a section this
        # like it; below, the earlier turns decide what it is about. A message with no pointer at all needs a
        # clearer match to stand alone mid-conversation ("its been 7 weeks now. what can we do?" matches many
        # sections a little): below `stands_alone_quiet`, the conversation is searched. Both were set on the
        # multi-turn cases of the two dev sets (0.70 and 0.80 gave the same or fewer right answers).
        self.stands_alone = stands_alone
        self.stands_alone_quiet = stands_alone_quiet
        self.repeat_ratio = repeat_ratio

    def __call__(self, ctx: Context) -> None:
        # One area's inspection history is no answer to a general question: search guidance unless the
        # message names an inspected area or is about inspections.
        kind = None if (ctx.prefer_docs or guards.is_local_topic(ctx.search_text)) and not ctx.which_area \
            else "guidance"

        # Each search reads the text with abbreviations' meanings added; the word-overlap re-score reads `words`,
        # the same text in the parent's own words.
        def search(text: str, vec, words: str, also=(), also_weight: float = 1.0) -> list[Hit]:
            return self.retriever.retrieve(text, vec, k=self.k, prefer_docs=ctx.prefer_docs, also=list(also),
                                           kind=kind, also_weight=also_weight, words=words)

        # In a follow-up the parent's own words say what is asked ("how long do I have to appeal that?") and the
        # earlier turns what it is about: the own words weigh as much as the whole conversation, or a section
        # matching the earlier story but not the question wins.
        own = self.retriever.question_weight

        # The questions inside a long story are a second view of it, when they name a topic of their own ("is
        # that an actual rule??" alone would find any section that asks whether something is a rule).
        focus = [(ctx.focus_text, ctx.focus_vec)] if ctx.focus_text != ctx.search_text and \
            len(topic_words(ctx.focus_text)) >= 3 else []
        conversation = (ctx.context_text, ctx.context_vec, ctx.context_lexical, [(ctx.search_text, ctx.query_vec)], own)
        if ctx.follow_up:
            ctx.hits = search(*conversation)
        else:
            ctx.hits = search(ctx.search_text, ctx.query_vec, ctx.lexical_text, focus)
            bar = self.stands_alone if ctx.cue == "weak" else self.stands_alone_quiet if ctx.quiet else None
            if bar is not None and (not ctx.hits or ctx.hits[0].question < bar):
                ctx.follow_up = True
                ctx.hits = search(*conversation)
        if ctx.follow_up:
            ctx.hits = self._something_new(ctx.hits, ctx.history)
        if ctx.letter_section and not ctx.follow_up:
            ctx.hits = self._lead_with(ctx.letter_section, ctx.hits)
        ctx.part_hits = [search(text, vec, words)[:1]
                         for text, vec, words in zip(ctx.parts, ctx.part_vecs, ctx.part_words, strict=True)]
        if ctx.only_docs:
            allowed = [h for h in ctx.hits if h.chunk.doc_id in ctx.only_docs]
            if not allowed:
                # The question is about another nation: search that scope note alone, however it was worded.
                store = self.retriever.store
                found = store.dense(ctx.query_vec, self.k, {"doc_id": {"$in": list(ctx.only_docs)}})
                allowed = [Hit(store.chunk(cid), sim, sim, 0.0, rank, sim,
                               store.section_chunks(store.section_of(cid)))
                           for rank, (cid, sim) in enumerate(found)]
            nation = next((v.extra.get("nation") for v in ctx.verdicts if v.extra.get("nation")), "")
            about = [h for h in allowed if nation and nation.lower() in (h.chunk.heading + h.chunk.text).lower()]
            ctx.hits = (about or allowed)[: self.k]

    def _something_new(self, hits: list[Hit], history: list[dict]) -> list[Hit]:
        """A follow-up asks something new ("and what happens next?"): the section the last reply gave goes after
        the others when another section is nearly as strong (`repeat_ratio` of its score), since the conversation
        that found it again is the one it already answered."""
        last = next((m["content"] for m in reversed(history) if m["role"] == "assistant"), "")
        given = set(_BOLD.findall(last))
        if len(hits) < 2 or hits[0].chunk.heading not in given:
            return hits
        fresh = [h for h in hits if h.chunk.heading not in given]
        if not fresh or fresh[0].score < self.repeat_ratio * hits[0].score:
            return hits
        return fresh + [h for h in hits if h.chunk.heading in given]

    def _lead_with(self, wanted: tuple[str, str], hits: list[Hit]) -> list[Hit]:
        """The hits with the section (doc id, heading) first: found among them, or fetched from the index."""
        doc_id, heading = wanted
        found = next((h for h in hits if h.chunk.doc_id == doc_id and h.chunk.heading == heading), None)
        if found is None:
            chunks = self.retriever.store.heading_chunks(doc_id, heading)
            if not chunks:
                return hits  # an index built before the letter named it: answer as usual
            # It answers the request by the maintainers' choice: as sure as the best match the search found.
            top = hits[0] if hits else Hit(chunks[0], 1.0, 1.0, 0.0, 0, 1.0)
            found = Hit(chunks[0], top.score, top.dense, 0.0, 0, top.question, chunks)
        return [found, *(h for h in hits if h is not found)]


class LetterTopic:
    """A parent asking for a model letter ("help me write to the council to ask for an assessment") is answered
    from the section that explains what that letter asks for (the letter's `explained_by`), not from whichever
    section shares its words ("What must the council's letter tell me if it refuses?")."""

    name = "letter-topic"

    def __init__(self, book):
        self.book = book

    def __call__(self, ctx: Context) -> None:
        if ctx.only_docs or ctx.prefer_docs or not len(self.book) or not asks_for_letter(ctx.question):
            return
        letter = self.book.pick(ctx.question)
        if letter is not None and letter.explained_by:
            ctx.letter_section = letter.explained_by


class Compose:
    """Answer from the section that answers the message; when none clearly does, ask which question it is."""

    name = "compose"

    def __init__(self, composer: SectionComposer, min_score: float, clarify_below: float,
                 second_ratio: float = 0.9, second_margin: float = 0.0, suggestions: int = 3,
                 area_answer_below: float = AREA_ANSWER_BELOW):
        self.composer = composer
        self.min_score = min_score
        self.clarify_below = clarify_below
        self.second_ratio = second_ratio
        self.second_margin = second_margin
        self.suggestions = suggestions
        self.area_answer_below = area_answer_below

    def __call__(self, ctx: Context) -> None:
        retrieved = list(dict.fromkeys(h.chunk.doc_id for h in ctx.hits))
        signpost = next((v for v in ctx.verdicts if v.behaviour == "signpost"), None)
        # Crisis support or a scope note always leads, whatever the search found.
        parts = [v.text for v in ctx.verdicts if not v.stop and v.text]
        top = ctx.hits[0] if ctx.hits else None
        unrelated = None if parts else guards.guard_unrelated(ctx.question, bool(ctx.history))
        if unrelated and (top is None or top.question < self.clarify_below):
            ctx.finish(unrelated.behaviour, unrelated.reason, unrelated.text)
            ctx.reply.retrieved = retrieved
            return
        if top is None or (top.dense < self.min_score and not ctx.only_docs):
            ctx.finish("signpost", signpost.reason if signpost else "low-confidence",
                       "\n\n".join([*parts, NOT_FOUND_TEXT]))
            ctx.reply.retrieved = retrieved
            return
        if ctx.which_area is not None:
            if top.question < self.area_answer_below:
                area = ctx.which_area
                ctx.finish(area.behaviour, area.reason, "\n\n".join([*parts, area.text]))
                ctx.reply.retrieved = retrieved
                return
            ctx.notes.append(AREA_NOTE)
        if top.question < self.clarify_below and not ctx.only_docs and not ctx.prefer_docs and not signpost:
            choices = self._headings(ctx.hits, exclude=set(), n=3)
            ctx.finish("clarify", "unsure", "\n\n".join([*parts, CLARIFY_TEXT + "\n\n"
                                                          + "\n".join(f"- {c}" for c in choices)]))
            ctx.reply.suggestions = choices
            ctx.reply.retrieved = retrieved
            return
        chosen = [top]
        for found in ctx.part_hits:
            # A message asking two things gets the second answer too, when it is clearly another section.
            if found and found[0].section not in {h.section for h in chosen} and \
                    found[0].question >= self.clarify_below and len(chosen) < 2:
                chosen.append(found[0])
        if len(chosen) == 1 and len(ctx.hits) > 1:
            # A section from another topic nearly as strong as the best may be what was asked: it follows,
            # shortened. "Nearly as strong" is at least as like the message in question similarity: with 10-12
            # phrasings a section, a margin below that (0.02) added a second part to a third of the replies.
            runner = ctx.hits[1]
            if (runner.chunk.doc_id != top.chunk.doc_id and runner.question >= top.question - self.second_margin
                    and runner.score >= self.second_ratio * top.score and runner.question >= self.clarify_below):
                chosen.append(runner)
        comp = self.composer.compose(chosen)
        body = comp.text
        if ctx.notes:
            body += "\n\n" + "\n\n".join(ctx.notes)
        behaviour, reason = ("signpost", signpost.reason) if signpost else ("answer", "answered")
        answered_docs = {h.chunk.doc_id for h in chosen}
        ctx.reply = Reply(text="\n\n".join([*parts, body]), citations=comp.citations, behaviour=behaviour,
                          reason=reason, retrieved=retrieved,
                          query=ctx.context_text if ctx.follow_up else ctx.search_text,
                          suggestions=self._headings(ctx.hits[1:], exclude=answered_docs, n=self.suggestions))

    @staticmethod
    def _headings(hits: list[Hit], exclude: set[str], n: int) -> list[str]:
        """Distinct section headings (questions the guide can answer), one per document, skipping `exclude`."""
        out: list[str] = []
        docs: set[str] = set(exclude)
        for hit in hits:
            heading = hit.chunk.heading
            if hit.chunk.doc_id in docs or not heading or heading in out:
                continue
            docs.add(hit.chunk.doc_id)
            out.append(heading)
            if len(out) == n:
                break
        return out


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
