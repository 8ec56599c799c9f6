"""What `Guide.ask` returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Citation:
    n: int
    title: str
    url: str
    doc_id: str
    heading: str
    quote: str
    chunk_id: str = ""
    urls: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "n": self.n, "title": self.title, "url": self.url, "doc_id": self.doc_id, "heading": self.heading,
            "quote": self.quote, "chunk_id": self.chunk_id, "urls": list(self.urls),
        }



BEHAVIOURS = ("answer", "decline", "signpost", "clarify")

HELP_SIGNPOST = (
    "For free, impartial advice, contact your local SENDIASS (every council must provide one: search for "
    "\"SENDIASS\" and your council's name) or IPSEA (https://www.ipsea.org.uk)."
)


@dataclass
class Reply:
    text: str
    citations: list[Citation] = field(default_factory=list)
    behaviour: str = "answer"
    # Why this path was taken, e.g. "answered", "low-confidence", "other-nation:scotland".
    reason: str = "answered"
    retrieved: list[str] = field(default_factory=list)  # document ids in rank order
    query: str = ""  # what was searched (after using the conversation so far)
    timings: dict[str, float] = field(default_factory=dict)
    # Up to three questions the guide can answer that are near this one (headings of other sections); with
    # behaviour "clarify" they are the "did you mean" choices. The page shows them as buttons that ask them.
    suggestions: list[str] = field(default_factory=list)
    # Dates worked out from what the parent told us (see guide/tools/deadlines.py), as data as well as text.
    deadlines: list[dict] = field(default_factory=list)
    # A model letter offered for what the parent asked (see guide/tools/letters.py): id, title, text with gaps.
    letter: dict | None = None

    def __post_init__(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {BEHAVIOURS}, got {self.behaviour!r}")

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "behaviour": self.behaviour,
            "reason": self.reason,
            "retrieved": list(self.retrieved),
            "query": self.query,
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "suggestions": list(self.suggestions),
            "deadlines": [dict(d) for d in self.deadlines],
            "letter": dict(self.letter) if self.letter else None,
        }
