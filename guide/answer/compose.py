"""The offline answerer: picks the sentences from the top passages that answer the question, with citations."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..reply import Citation
from .retrieval import Hit

_WORD = re.compile(r"[a-z0-9]+")
_TIME = re.compile(r"\b(\d+|one|two|three|four|five|six|eight|ten|twelve|fifteen|sixteen|twenty|seventy)\s+"
                   r"(working\s+)?(days?|weeks?|months?|years?)\b|\b\d{1,2}\s+(january|february|march|april|may|"
                   r"june|july|august|september|october|november|december)\b", re.I)
_TIME_QUESTION = re.compile(r"\b(how long|how many (days|weeks|months)|deadlines?|time ?limits?|timescales?|"
                            r"timeline|by when|how soon|how quickly|when (will|must|should|do|does|can|is) "
                            r"(i|we|they|it|the council|the la|the school|my))\b", re.I)
_NEXT_STEP = re.compile(r"^\**next steps?:?\**:?", re.I)
_LEGAL_REF = re.compile(r"\b(regulation|section|reg\.|s\.)\s*(\d+)", re.I)
_STOP = frozenset(
    "a an and are as at be been but by can could do does for from had has have how i if in into is it its me my "
    "of on or our so that the their them then there these they this to was we were what when where which who "
    "will with would you your yours he she his her him us am should shall may might must not no any all about "
    "get got want need know tell please".split()
)


def content_terms(text: str, stemmer) -> set[str]:
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
    return set(stemmer.stemWords(words))


@dataclass
class Composition:
    text: str
    citations: list[Citation]
    best_score: float
    sentences: list[tuple[str, int]]  # (sentence, citation number)


def pick_url(urls: tuple[str, ...], quote: str) -> str:
    """The document's source that best fits the quote: the regulation or section it names, else the source
    whose address shares most words with it (e.g. the council's own page for a sentence about that area)."""
    for kind, num in _LEGAL_REF.findall(quote):
        segment = "regulation" if kind.lower().startswith("reg") else "section"
        for url in urls:
            if re.search(rf"/{segment}/{num}(?:/|$|\?|#)", url):
                return url
    if not urls:
        return ""
    words = {w for w in _WORD.findall(quote.lower()) if len(w) > 3 and w not in _STOP}
    if re.search(r"\b(regulation|section) \d", quote, re.I) is None:
        # A sentence that names no law is better supported by a non-legislation page: official first, then
        # trusted services, then the press; among equals, the page whose address shares most words with it.
        ranked = sorted(urls, key=lambda u: -(_authority(u) + 2 * len(words & set(_WORD.findall(u.lower())))))
        return ranked[0]
    return urls[0]


def _authority(url: str) -> int:
    host = re.sub(r"^https?://(www\.)?", "", url.lower()).split("/")[0]
    if host.endswith("legislation.gov.uk"):
        return 1  # right for a legal claim, but not the most helpful page for anything else
    if host.endswith((".gov.uk", ".nhs.uk", "nhs.uk", ".police.uk", "gov.scot", "gov.wales", "senedd.wales")):
        return 3
    if host.endswith((".org.uk", ".org", ".ac.uk")) or "sendias" in host or "ipsea" in host:
        return 2
    return 0


_YES_NO = re.compile(r"^(yes|no)[,.:;]\s+(?=\w)", re.I)


def _standalone(sentence: str) -> str:
    """A sentence lifted from under a yes/no heading loses its "Yes," or "No,": the rest still says it."""
    rest = _YES_NO.sub("", sentence)
    return rest[:1].upper() + rest[1:] if rest != sentence else sentence


# Openings that lean on the sentence before ("This means ...", "It must ...", "The second date is ...").
_ANAPHOR = re.compile(
    r"^((this|that|these|those)\s+(is|was|are|were|means|meant|will|would|can|could|does|did|has|have|applies|"
    r"also|includes|happens|counts|gives|lets)\b|(it|they|both|either|such)\s|the (first|second|other|same|latter|"
    r"former)\b|(however|but|so|also|then)\b,?)",
    re.I,
)


class ExtractiveComposer:
    def __init__(self, stemmer, max_sentences: int = 5, max_per_passage: int = 4, passages: int = 5,
                 idf: dict[str, float] | None = None, default_idf: float = 1.0, max_docs: int = 3,
                 heading_lead: float = 0.75):
        self.max_docs = max_docs
        self.heading_lead = heading_lead
        self.stemmer = stemmer
        self.idf = idf or {}
        self.default_idf = default_idf
        self.max_sentences = max_sentences
        self.max_per_passage = max_per_passage
        self.passages = passages

    def compose(
        self,
        question: str,
        query_vec: np.ndarray,
        hits: list[Hit],
        sentence_vectors: dict[str, tuple[np.ndarray, np.ndarray]],
    ) -> Composition:
        """Score every sentence of the top passages; keep the best few that agree with each other."""
        q_terms = content_terms(question, self.stemmer)
        q_weight = sum(self._idf(t) for t in q_terms) or 1.0
        wants_time = bool(_TIME_QUESTION.search(question))
        candidates: list[tuple[float, int, int, str, np.ndarray]] = []
        next_steps: list[tuple[int, str]] = []
        heading_sims: dict[int, float] = {}
        top_docs = list(dict.fromkeys(h.chunk.doc_id for h in hits))[: self.max_docs]
        for rank, hit in enumerate(hits[: self.passages]):
            if hit.chunk.doc_id not in top_docs:
                continue
            if hit.chunk.id not in sentence_vectors or not hit.chunk.sentences:
                continue
            heading_vec, vecs = sentence_vectors[hit.chunk.id]
            # A section whose heading asks the parent's question is the best place to answer it from.
            heading_sim = float(heading_vec @ query_vec)
            heading_sims[rank] = heading_sim
            sims = vecs @ query_vec
            for pos, (sentence, sim) in enumerate(zip(hit.chunk.sentences, sims, strict=True)):
                if _NEXT_STEP.match(sentence):
                    next_steps.append((rank, sentence))
                    continue
                terms = content_terms(sentence, self.stemmer)
                overlap = sum(self._idf(t) for t in q_terms & terms) / q_weight
                score = 0.7 * float(sim) + 0.3 * heading_sim + 0.5 * overlap + 0.04 / (1 + rank)
                if wants_time:
                    # A "how long / when" question is answered by a sentence that states a time.
                    score += 0.12 if _TIME.search(sentence) else -0.05
                if len(sentence) < 25 or sentence.endswith(":"):
                    score -= 0.15  # fragments and list lead-ins read badly on their own
                candidates.append((score, rank, pos, sentence, vecs[pos]))
        if not candidates:
            return Composition("", [], 0.0, [])
        candidates.sort(key=lambda c: -c[0])
        best = candidates[0][0]
        pool = [c for c in candidates if c[0] >= best - 0.3]
        chosen: list[tuple[float, int, int, str, np.ndarray]] = []
        per_passage: dict[int, int] = {}
        # The knowledge base's headings are the questions parents ask. When one clearly asks this question, its
        # section is the answer: read it in order, as written, before adding anything from elsewhere.
        lead_rank = max(heading_sims, key=heading_sims.get) if heading_sims else None
        if lead_rank is not None and heading_sims[lead_rank] >= self.heading_lead:
            section = sorted((c for c in candidates if c[1] == lead_rank and c[0] >= best - 0.45),
                             key=lambda c: c[2])
            chosen = section[: self.max_sentences - 1]
            per_passage[lead_rank] = len(chosen)
            pool = [c for c in pool if c not in chosen]
            best = max([best, *(c[0] for c in chosen)])
        for cand in pool:
            if len(chosen) >= self.max_sentences:
                break
            if per_passage.get(cand[1], 0) >= self.max_per_passage:
                continue
            if any(float(cand[4] @ c[4]) > 0.88 for c in chosen):
                continue  # a near-duplicate of a sentence already chosen
            chosen.append(cand)
            per_passage[cand[1]] = per_passage.get(cand[1], 0) + 1
        # Lead with the passage holding the best sentence; keep each passage's sentences in their own order.
        lead: dict[int, float] = {}
        for score, rank, *_ in chosen:
            lead[rank] = max(lead.get(rank, score), score)
        if lead_rank is not None and lead_rank in lead and heading_sims[lead_rank] >= self.heading_lead:
            lead[lead_rank] = float("inf")
        chosen = self._with_antecedents(chosen, hits)
        chosen.sort(key=lambda c: (-lead.get(c[1], 0.0), c[2]))

        numbers: dict[int, int] = {}
        quotes: dict[int, list[str]] = {}
        lines: list[tuple[str, int]] = []
        for _, rank, _, sentence, _ in chosen:
            n = numbers.setdefault(rank, len(numbers) + 1)
            quotes.setdefault(rank, []).append(sentence)
            lines.append((sentence, n))
        # Keep the rank with the step: the same sentence can sit in several passages (a council republishing
        # national guidance), and only a cited one has a number.
        rank, step = next(((r, s) for r, s in next_steps if r in numbers), (None, None))
        if step:
            quotes[rank].append(step)
            lines.append((step, numbers[rank]))

        citations = []
        for rank, n in sorted(numbers.items(), key=lambda kv: kv[1]):
            chunk = hits[rank].chunk
            quote = " ".join(quotes[rank])
            citations.append(
                Citation(n=n, title=chunk.title, url=pick_url(chunk.urls, quote), doc_id=chunk.doc_id,
                         heading=chunk.heading, quote=quote, chunk_id=chunk.id, urls=list(chunk.urls))
            )
        text = "\n\n".join(f"{_standalone(s)} [{n}]" for s, n in lines)
        return Composition(text, citations, best, lines)

    @staticmethod
    def _with_antecedents(chosen: list, hits: list[Hit]) -> list:
        """A sentence opening with "This ..." or "The first ..." brings the sentence before it along."""
        have = {(c[1], c[2]) for c in chosen}
        extra = []
        for score, rank, pos, _, vec in chosen:
            if pos > 0 and _ANAPHOR.match(hits[rank].chunk.sentences[pos]) and (rank, pos - 1) not in have:
                have.add((rank, pos - 1))
                extra.append((score, rank, pos - 1, hits[rank].chunk.sentences[pos - 1], vec))
        return chosen + extra

    def _idf(self, term: str) -> float:
        return self.idf.get(term, self.default_idf)
