"""Split documents into retrievable chunks: one per section (a heading and its text), split by tokens only when a
section is longer than GUIDE_CHUNK_TOKENS."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..offline import ensure_tiktoken_encoding
from .documents import Document

# Bump when the chunk text or the text given to the embedder changes shape, so every chunk id changes.
CHUNK_FORMAT_VERSION = "3"


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    title: str
    kind: str
    area: str
    heading: str
    urls: tuple[str, ...]
    text: str
    sentences: tuple[str, ...]
    position: int
    # Parents' ways of asking this section's question: searched, never shown.
    phrasings: tuple[str, ...] = ()
    # The section this chunk belongs to, by content (heading and text), not by document: the same section
    # republished in several documents is one section to rank.
    section: str = ""

    @property
    def embed_text(self) -> str:
        """What the embedder sees: the passage with its title and heading for context."""
        return f"{self.title}. {self.heading}.\n{self.text}" if self.heading else f"{self.title}.\n{self.text}"

    @property
    def search_text(self) -> str:
        """What BM25 matches: the passage and the parents' own words for its question."""
        return "\n".join((self.embed_text, *self.phrasings))


_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "No.", "para.", "paras.", "reg.", "regs.", "s.", "ss.", "Mr.", "Mrs.",
                  "Ms.", "Dr.", "St.", "vs.", "approx.", "Cllr.")
_ABBREV_END = re.compile(r"(?:^|[\s(])(?:" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + r")$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z0-9\"“‘(\[*])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def split_sentences(text: str) -> list[str]:
    """Split a passage into sentences; each Markdown list item is its own unit."""
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.rstrip() for ln in block.splitlines() if ln.strip()]
        buffer: list[str] = []
        for line in lines:
            if _LIST_ITEM.match(line):
                if buffer:
                    sentences.extend(_split_prose(" ".join(buffer)))
                    buffer = []
                sentences.extend(_split_prose(_LIST_ITEM.sub("", line)))
            else:
                buffer.append(line.strip())
        if buffer:
            sentences.extend(_split_prose(" ".join(buffer)))
    return [s for s in sentences if len(s) > 1]


def _split_prose(text: str) -> list[str]:
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        piece = text[start : match.end()].strip()
        if _ABBREV_END.search(piece):
            continue
        out.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


class Chunker:
    """Heading-aware, token-bounded chunking with stable content-hash ids."""

    def __init__(self, chunk_tokens: int, overlap_tokens: int, encoding_name: str, data_dir: Path):
        # Imported here: answering questions needs Chunk but not the splitters (0.15 s of every `guide ask`).
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        # Seeds tiktoken's offline cache before langchain asks tiktoken for the encoding.
        self.encoding = ensure_tiktoken_encoding(encoding_name, data_dir)
        self.chunk_tokens = chunk_tokens
        self._tokens = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
            encoding_name=encoding_name,
            chunk_size=chunk_tokens,
            chunk_overlap=overlap_tokens,
            separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
            keep_separator="end",
        )

    def count_tokens(self, text: str) -> int:
        return len(self.encoding.encode(text, disallowed_special=()))

    def chunk(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        for section in doc.answer_sections:
            heading = section.heading
            key = hashlib.sha256("\x1f".join((heading, section.text)).encode()).hexdigest()[:20]
            pieces = [section.text]
            if self.count_tokens(section.text) > self.chunk_tokens:
                pieces = self._tokens.split_text(section.text)
            for piece in pieces:
                text = piece.strip()
                if not text:
                    continue
                digest = hashlib.sha256(
                    "\x1f".join((CHUNK_FORMAT_VERSION, doc.id, doc.title, heading, text, *doc.urls,
                                 *section.phrasings)).encode()
                ).hexdigest()[:24]
                chunks.append(
                    Chunk(
                        id=f"{doc.id}:{digest}",
                        doc_id=doc.id,
                        title=doc.title,
                        kind=doc.kind,
                        area=doc.area,
                        heading=heading,
                        urls=tuple(doc.urls),
                        text=text,
                        sentences=tuple(split_sentences(text)),
                        position=len(chunks),
                        phrasings=section.phrasings,
                        section=key,
                    )
                )
        return chunks

    def chunk_all(self, docs: list[Document]) -> list[Chunk]:
        return [c for doc in docs for c in self.chunk(doc)]
