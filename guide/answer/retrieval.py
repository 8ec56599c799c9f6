"""Section retrieval: rank the knowledge base's sections (a heading and its text) for a message.

Four views of the message are fused by reciprocal rank fusion, each ranking *sections*, not loose passages:
parents' phrasings and headings (question to question), the section's passage, its best sentence, and BM25 over
the passage with its phrasings (parents' own words and abbreviations). A section republished in several documents
is one section; the first document holding it (or a preferred area's) represents it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..index.store import IndexStore
from ..knowledge.chunking import Chunk


@dataclass
class Hit:
    chunk: Chunk  # the section's first chunk, in the document that represents it
    score: float  # fused RRF score
    dense: float  # best cosine similarity of the message to the section: passage, sentence, heading or phrasing
    sparse: float  # BM25 score (0 when only the dense searches found it)
    rank: int = 0
    question: float = 0.0  # best cosine similarity to the section's heading or one of its parents' phrasings
    chunks: list[Chunk] = field(default_factory=list)  # the whole section, in order

    @property
    def section(self) -> str:
        return self.chunk.section or self.chunk.id


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be been but by can could do does for from had has have how i if in into is it its me my "
    "of on or our so that the their them then there these they this to was we were what when where which who "
    "will with would you your he she his her him us am should shall may might must any all about get got "
    "want need know tell please".split()
)  # "not" and "no" are kept: "when must they say they will NOT issue a plan?" asks another question


SHORT_PHRASING_WORDS = 25  # a longer phrasing is a story: left out of the word-overlap score


class HybridRetriever:
    def __init__(self, store: IndexStore, candidates: int = 30, rrf_k: int = 60, question_weight: float = 2.0,
                 stemmer=None, rerank: dict[str, float] | None = None):
        self.store = store
        self.candidates = candidates
        self.rrf_k = rrf_k
        # Question-to-question similarity is the strongest signal a parent's message gives: the phrasings are
        # written the way parents ask.
        self.question_weight = question_weight
        self.stemmer = stemmer
        # The fused candidates are re-scored from what each says about the section: its rank score, its best
        # question similarity, and how many of the message's rarer words its heading and phrasings use (a
        # bi-encoder this small blurs "suspended: who teaches him?" into "who can suspend?"). Weights were set
        # on one dev set and checked on the other (see the closing note of the answers issue).
        self.rerank = rerank if rerank is not None else {"fused": 1.0, "question": 1.0, "words": 1.0}
        self._terms: dict[str, frozenset[str]] = {}

    def retrieve(
        self,
        query: str,
        query_vec: np.ndarray,
        k: int = 5,
        kind: str | None = None,
        area: str | None = None,
        prefer_docs: tuple[str, ...] = (),
        also: list[tuple[str, np.ndarray]] = (),
        also_weight: float = 1.0,
        words: str | None = None,
    ) -> list[Hit]:
        """The k best sections for the message; `also` adds more views of it (e.g. the question inside a story),
        their question similarity counting `also_weight` in the fusion (the main view counts `question_weight`).

        `words`: the text whose rarer words the re-score matches against headings and short phrasings, when it
        differs from `query`. The parent's own words, not the query with abbreviations' meanings added: "SEN" and
        "special educational needs" are one thing, and counting both sent "What is SEN support?" to the glossary."""
        store = self.store
        where: dict | None = None
        clauses = [{"kind": kind}] if kind else []
        if area:
            clauses.append({"area": area})
        if len(clauses) == 1:
            where = clauses[0]
        elif clauses:
            where = {"$and": clauses}
        mask = store.mask(kind, area)
        views = [(query, query_vec), *also]
        fused: dict[str, float] = {}
        dense_sim: dict[str, float] = {}
        question_sim: dict[str, float] = {}
        sparse_score: dict[str, float] = {}

        def add(ranking: list[tuple[str, float]], weight: float = 1.0) -> None:
            for rank, (section, _) in enumerate(ranking):
                fused[section] = fused.get(section, 0.0) + weight / (self.rrf_k + rank + 1)

        for i, (text, vec) in enumerate(views):
            questions = store.dense_questions(vec, self.candidates, kind)
            if area:
                questions = [(s, sim) for s, sim in questions if any(c.area == area for c in store.section_chunks(s))]
            add(questions, self.question_weight if i == 0 else also_weight)
            sparse = self._by_section(store.sparse(text, self.candidates, mask))
            add(sparse)
            for s, sim in questions:
                question_sim[s] = max(question_sim.get(s, -1.0), sim)
                dense_sim[s] = max(dense_sim.get(s, -1.0), sim)
            for s, score in sparse:
                sparse_score[s] = max(sparse_score.get(s, 0.0), score)
            if i == 0:
                passages = self._by_section(store.dense(vec, self.candidates, where))
                sentences = self._by_section(store.dense_sentences(vec, self.candidates * 3, where))
                add(passages)
                add(sentences)
                for s, sim in passages + sentences:
                    dense_sim[s] = max(dense_sim.get(s, -1.0), sim)
        if prefer_docs:
            # A message naming an inspected area leads with that area's document.
            bonus = 2.0 / (self.rrf_k + 1)
            for section in list(fused):
                if any(c.doc_id in prefer_docs for c in store.section_chunks(section)):
                    fused[section] += bonus
        ranked = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[: max(k, 10)]  # ties: by section
        if self.stemmer is not None and ranked:
            ranked = self._rescore(words if words is not None else query, ranked, question_sim)[:k]
        else:
            ranked = ranked[:k]
        hits = []
        for rank, (section, score) in enumerate(ranked):
            chunks = self._representative(section, prefer_docs)
            if not chunks:
                continue
            hits.append(Hit(chunks[0], score, dense_sim.get(section, 0.0), sparse_score.get(section, 0.0), rank,
                            question_sim.get(section, 0.0), chunks))
        missing = [h for h in hits if h.section not in dense_sim]
        if missing:
            # A BM25-only hit still needs a similarity for the confidence check.
            vectors = store.chunk_vectors([h.chunk.id for h in missing])
            for h in missing:
                if h.chunk.id in vectors:
                    h.dense = float(vectors[h.chunk.id] @ query_vec)
        return hits

    def _rescore(self, query: str, ranked: list[tuple[str, float]], question_sim: dict[str, float]):
        words = self._words(query)
        idf = self.store.idf
        default = self.store.default_idf
        total = sum(idf.get(w, default) for w in words) or 1.0
        top = ranked[0][1] or 1.0
        w = self.rerank
        scored = []
        for section, score in ranked:
            shared = words & self._section_terms(section)
            value = (w.get("fused", 0.0) * score / top + w.get("question", 0.0) * question_sim.get(section, 0.0)
                     + w.get("words", 0.0) * sum(idf.get(t, default) for t in shared) / total)
            scored.append((section, value))
        return sorted(scored, key=lambda kv: (-round(kv[1], 9), kv[0]))

    def _words(self, text: str) -> set[str]:
        return set(self.stemmer.stemWords([t for t in _WORD.findall(text.lower()) if t not in _STOP]))

    def _section_terms(self, section: str) -> frozenset[str]:
        """The stemmed words of a section's heading and its short parents' phrasings (cached per section).

        A long phrasing (a parent's whole story) carries most everyday SEND words, so with it every message
        would share its rarer words with that section; it still counts in question similarity."""
        if section not in self._terms:
            chunks = self.store.section_chunks(section)
            texts = [chunks[0].heading, *(p for p in chunks[0].phrasings if len(p.split()) <= SHORT_PHRASING_WORDS)] \
                if chunks else []
            self._terms[section] = frozenset(self._words(" ".join(texts)))
        return self._terms[section]

    def _by_section(self, ranking: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """Chunk results as section results, best first, each section once."""
        out: dict[str, float] = {}
        for chunk_id, score in ranking:
            out.setdefault(self.store.section_of(chunk_id), score)
        return list(out.items())

    def _representative(self, section: str, prefer_docs: tuple[str, ...]) -> list[Chunk]:
        """The section's chunks in the document that represents it: a preferred document's, else the first."""
        chunks = self.store.section_chunks(section)
        if not chunks:
            return []
        doc = next((c.doc_id for c in chunks if c.doc_id in prefer_docs), chunks[0].doc_id)
        return [c for c in chunks if c.doc_id == doc]
