"""Per-case scores. Each function takes a reply (or its parts) and the case; none of them calls the guide."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import numpy as np

from .dataset import Case

_CITE = re.compile(r"\s*\[(\d{1,2})\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"(])|\n{2,}")
_FACTUAL = re.compile(r"\d|\b(must|law|section|regulation|deadline|weeks?|days?|months?|tribunal|duty)\b", re.I)


def contains(text: str, phrase: str) -> bool:
    return phrase.lower() in text.lower()


def key_facts(text: str, case: Case) -> tuple[int, int, list[list[str]]]:
    """(facts found, facts expected, the missing facts' phrasings)."""
    missing = [list(f) for f in case.must_include if not any(contains(text, p) for p in f)]
    return len(case.must_include) - len(missing), len(case.must_include), missing


def wrong_facts(text: str, case: Case) -> list[str]:
    return [p for p in case.must_not_include if contains(text, p)]


def normalise_url(url: str) -> str:
    parsed = urlparse(url.strip().lower())
    host = parsed.netloc.removeprefix("www.")
    path = re.sub(r"/(data\.(htm|xht|xml)|made|enacted|contents)$", "", parsed.path.rstrip("/"))
    path = re.sub(r"/(made|enacted)(?=/|$)", "", path)
    return host + path.rstrip("/")


def relevant_docs(case: Case, doc_urls: dict[str, list[str]]) -> set[str]:
    """Documents whose front-matter sources include one of the case's source URLs."""
    wanted = {normalise_url(u) for u in case.sources}
    return {doc_id for doc_id, urls in doc_urls.items() if wanted & {normalise_url(u) for u in urls}}


def retrieval_scores(retrieved: list[str], relevant: set[str], k: int = 5) -> dict | None:
    if not relevant:
        return None
    rank = next((i + 1 for i, d in enumerate(retrieved) if d in relevant), None)
    return {"hit_at_k": bool(rank and rank <= k), "mrr": 1.0 / rank if rank else 0.0, "first_relevant_rank": rank}


def split_cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Sentences of an answer with the citation numbers attached to each."""
    out = []
    for part in _SENTENCE.split(text):
        part = part.strip()
        if not part:
            continue
        numbers = [int(n) for n in _CITE.findall(part)]
        out.append((_CITE.sub("", part).strip(), numbers))
    return out


class EmbedCache:
    """`embed` remembered by text for one run: answers are extractive and the same sections come back case after
    case, so most sentences were embedded already (without it, support checking is most of an eval's time)."""

    def __init__(self, embed):
        self._embed = embed
        self._vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        # By length, so a batch is padded to texts of about its own length, not to the longest of the case.
        missing = sorted(dict.fromkeys(t for t in texts if t not in self._vectors), key=len)
        if missing:
            self._vectors.update(zip(missing, self._embed(missing), strict=True))
        return np.stack([self._vectors[t] for t in texts])


def _flat(text: str) -> str:
    return " ".join(text.lower().split())


def citation_scores(reply, embed, threshold: float) -> dict:
    """Markers must point at returned citations; each cited sentence must be supported by the quote it cites.

    Support is the cosine similarity of sentence and quote under the guide's embedding model (no NLI
    cross-encoder ships offline). `embed` maps a list of texts to unit vectors.
    """
    numbers = {c.n for c in reply.citations}
    quotes = {c.n: c.quote for c in reply.citations}
    sentences = split_cited_sentences(reply.text)
    markers = [n for _, ns in sentences for n in ns]
    dangling = sorted({n for n in markers if n not in numbers})
    pairs = [(s, n) for s, ns in sentences for n in ns if n in quotes]
    # A sentence found word for word in the quote it cites is supported as its own quote is (cosine 1.0), so only
    # the others are embedded: most of an extractive answer needs no model call. (Three words at least: "Yes."
    # in a quote supports nothing.)
    flat_quotes = {n: _flat(q) for n, q in quotes.items()}
    verbatim = [len(s.split()) >= 3 and _flat(s) in flat_quotes[n] for s, n in pairs]
    scores: list[float | None] = [1.0 if v else None for v in verbatim]
    todo = [(i, s, n) for i, ((s, n), v) in enumerate(zip(pairs, verbatim, strict=True)) if not v]
    if todo:
        # A sentence is supported by the best-matching sentence of the quote it cites.
        quote_parts = {n: [p for p, _ in split_cited_sentences(quotes[n])] or [quotes[n]] for _, _, n in todo}
        flat = [p for n in quote_parts for p in quote_parts[n]]
        vecs = embed([s for _, s, _ in todo] + flat)
        sent_vecs, part_vecs = vecs[: len(todo)], vecs[len(todo):]
        offsets, i = {}, 0
        for n, parts in quote_parts.items():
            offsets[n] = (i, i + len(parts))
            i += len(parts)
        for (index, _, n), vec in zip(todo, sent_vecs, strict=True):
            lo, hi = offsets[n]
            scores[index] = float(np.max(part_vecs[lo:hi] @ vec))
    supports = [x for x in scores if x is not None]
    uncited = [s for s, ns in sentences if not ns and _FACTUAL.search(s)] if reply.citations else []
    return {
        "markers": len(markers),
        "dangling_markers": dangling,
        "unused_citations": sorted(numbers - set(markers)),
        "supported": sum(1 for x in supports if x >= threshold),
        "support_checked": len(supports),
        "min_support": min(supports) if supports else None,
        "uncited_factual_sentences": uncited,
    }
