"""The answerer: replies with the section that answers the message, read whole and in order, every sentence cited.

The knowledge base's sections are written to be read together (knowledge/README.md): a heading that asks a
parent's question, a direct answer, the rule with its legal basis, one next step. So the reply is that section, not
sentences picked from several documents; when a message asks two things, a second section follows, shortened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..knowledge.chunking import split_sentences
from ..reply import Citation
from .retrieval import Hit

_WORD = re.compile(r"[a-z0-9]+")
_NEXT_STEP = re.compile(r"^\**next steps?:?\**:?", re.I)
_LEGAL_REF = re.compile(r"\b(regulation|section|reg\.|s\.)\s*(\d+)", re.I)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_STOP = frozenset(
    "a an and are as at be been but by can could do does for from had has have how i if in into is it its me my "
    "of on or our so that the their them then there these they this to was we were what when where which who "
    "will with would you your he she his her him us am should shall may might must not no any all about "
    "get got want need know tell please".split()
)


@dataclass
class Composition:
    text: str
    citations: list[Citation]
    sections: list[str]  # the sections answered from, in order


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




class SectionComposer:
    """Builds the reply from whole sections."""

    def __init__(self, second_sentences: int = 2, first_sentences_with_second: int | None = None):
        # A second section (a message asking two things) is cut to its first sentences and its next step; with
        # one, the first section may be cut too, so the reply stays short enough to read on a phone.
        self.second_sentences = second_sentences
        self.first_sentences_with_second = first_sentences_with_second

    def compose(self, hits: list[Hit]) -> Composition:
        """The first hit's section whole and any further hits as short second parts, each under its heading."""
        if not hits:
            return Composition("", [], [])
        parts: list[str] = []
        citations: list[Citation] = []
        for n, hit in enumerate(hits, start=1):
            limit = self.second_sentences if n > 1 else (self.first_sentences_with_second if len(hits) > 1 else None)
            paragraphs, used = self._section(hit, limit)
            if not used:
                continue
            text = "\n\n".join(" ".join(f"{s} [{n}]" for s in para) if not list_ else
                                 "\n".join(f"- {s} [{n}]" for s in para) for para, list_ in paragraphs)
            # The question the section answers leads: a parent whose message was read differently sees it at once.
            text = f"**{hit.chunk.heading}**\n\n{text}"
            parts.append(text)
            quote = " ".join(used)
            chunk = hit.chunk
            citations.append(Citation(n=n, title=chunk.title, url=pick_url(chunk.urls, quote), doc_id=chunk.doc_id,
                                      heading=chunk.heading, quote=quote, chunk_id=chunk.id, urls=list(chunk.urls)))
        return Composition("\n\n".join(parts), citations, [h.section for h in hits[: len(parts)]])

    @staticmethod
    def _section(hit: Hit, limit: int | None) -> tuple[list[tuple[list[str], bool]], list[str]]:
        """The section's paragraphs as (sentences, is a list), the next step last; `limit` keeps only the first
        sentences (and the next step). Chunks of one section overlap by a few tokens: a sentence is used once."""
        paragraphs: list[tuple[list[str], bool]] = []
        steps: list[str] = []
        seen: set[str] = set()
        count = 0
        for chunk in hit.chunks or [hit.chunk]:
            for block in re.split(r"\n\s*\n", chunk.text):
                lines = [ln for ln in block.splitlines() if ln.strip()]
                is_list = bool(lines) and all(_LIST_ITEM.match(ln) for ln in lines)
                para = []
                in_step = False
                for sentence in split_sentences(block):
                    if sentence in seen:
                        continue
                    seen.add(sentence)
                    if _NEXT_STEP.match(sentence):
                        steps.append(sentence)
                        in_step = True
                        continue
                    if in_step:
                        # The rest of a next step's paragraph belongs to it ('ask: "Is this formal? If so..."').
                        steps[-1] = f"{steps[-1]} {sentence}"
                        continue
                    if limit is not None and count >= limit:
                        continue
                    para.append(sentence)
                    count += 1
                if para:
                    paragraphs.append((para, is_list))
        if steps:
            paragraphs.append(([steps[-1]], False))
        used = [s for para, _ in paragraphs for s in para]
        return paragraphs, used
