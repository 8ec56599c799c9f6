"""Parents' abbreviations (knowledge/data/abbreviations.yaml): loaded, validated, and added to searched words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .documents import KnowledgeError

FILE = Path("data") / "abbreviations.yaml"


@dataclass(frozen=True)
class Abbreviations:
    entries: tuple[tuple[str, str, bool], ...] = ()  # (abbreviation, meaning, exact case)

    def __post_init__(self) -> None:
        patterns = []
        for abbr, means, exact in self.entries:
            flags = 0 if exact else re.I
            patterns.append((re.compile(rf"(?<![\w-]){re.escape(abbr)}(?![\w-])", flags), means))
        object.__setattr__(self, "_patterns", tuple(patterns))

    def expand(self, text: str) -> str:
        """The text with the meaning of each abbreviation it uses added at the end (for searching only)."""
        extra = list(dict.fromkeys(means for pattern, means in self._patterns if pattern.search(text)))
        return f"{text} ({'; '.join(extra)})" if extra else text


def load_abbreviations(knowledge_dir: Path) -> Abbreviations:
    """The knowledge base's abbreviations file; none when the file is absent (a small test knowledge base)."""
    path = Path(knowledge_dir) / FILE
    if not path.exists():
        return Abbreviations()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise KnowledgeError(path, "file", f"is not valid UTF-8 YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("abbreviations"), list):
        raise KnowledgeError(path, "abbreviations", "must be a list of {abbreviation, means}")
    if not isinstance(data.get("source"), str) or not data["source"].strip():
        raise KnowledgeError(path, "source", "is missing: say where the meanings come from")
    entries, seen = [], set()
    for i, item in enumerate(data["abbreviations"]):
        where = f"abbreviations[{i}]"
        if not isinstance(item, dict):
            raise KnowledgeError(path, where, "must be a mapping with abbreviation and means")
        abbr, means = str(item.get("abbreviation", "")).strip(), str(item.get("means", "")).strip()
        if not abbr or not means:
            raise KnowledgeError(path, where, "needs both 'abbreviation' and 'means'")
        case = item.get("case", "any")
        if case not in ("any", "exact"):
            raise KnowledgeError(path, f"{where}.case", f"{case!r} must be 'any' or 'exact'")
        key = abbr if case == "exact" else abbr.lower()
        if key in seen:
            raise KnowledgeError(path, where, f"{abbr!r} is listed twice")
        seen.add(key)
        entries.append((abbr, means, case == "exact"))
    return Abbreviations(tuple(entries))
