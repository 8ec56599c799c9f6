"""Load and validate evaluation datasets (JSONL, one case a line)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

BEHAVIOURS = ("answer", "decline", "signpost", "clarify")
REQUIRED = ("id", "category", "turns", "must_include", "must_not_include", "expected_behaviour")


class DatasetError(ValueError):
    """A dataset line is malformed; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    turns: tuple[str, ...]
    must_include: tuple[tuple[str, ...], ...]
    must_not_include: tuple[str, ...]
    expected_behaviour: str
    reference_answer: str = ""
    sources: tuple[str, ...] = ()
    origin: str = ""
    notes: str = ""


def _fail(path: Path, line: int, field: str, problem: str) -> DatasetError:
    return DatasetError(f"{path}:{line}: field '{field}': {problem}")


def parse_case(raw: dict, path: Path, line: int) -> Case:
    for name in REQUIRED:
        if name not in raw:
            raise _fail(path, line, name, "is missing")
    if not isinstance(raw["id"], str) or not raw["id"]:
        raise _fail(path, line, "id", "must be non-empty text")
    turns = raw["turns"]
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
        raise _fail(path, line, "turns", "must be a non-empty list of non-empty messages")
    facts = raw["must_include"]
    if not isinstance(facts, list) or not all(
        isinstance(f, list) and f and all(isinstance(p, str) and p for p in f) for f in facts
    ):
        raise _fail(path, line, "must_include", "must be a list of facts, each a non-empty list of phrasings")
    banned = raw["must_not_include"]
    if not isinstance(banned, list) or not all(isinstance(p, str) and p for p in banned):
        raise _fail(path, line, "must_not_include", "must be a list of phrases")
    if raw["expected_behaviour"] not in BEHAVIOURS:
        raise _fail(path, line, "expected_behaviour", f"must be one of {', '.join(BEHAVIOURS)}")
    sources = raw.get("sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise _fail(path, line, "sources", "must be a list of URLs")
    return Case(
        id=raw["id"], category=str(raw["category"]), turns=tuple(turns),
        must_include=tuple(tuple(f) for f in facts), must_not_include=tuple(banned),
        expected_behaviour=raw["expected_behaviour"], reference_answer=str(raw.get("reference_answer") or ""),
        sources=tuple(sources), origin=str(raw.get("origin") or ""), notes=str(raw.get("notes") or ""),
    )


def load_dataset(path: Path) -> list[Case]:
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such dataset file")
    cases: list[Case] = []
    seen: set[str] = set()
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{line_no}: not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise DatasetError(f"{path}:{line_no}: each line must be a JSON object")
        case = parse_case(raw, path, line_no)
        if case.id in seen:
            raise _fail(path, line_no, "id", f"{case.id!r} is used twice")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise DatasetError(f"{path}: the dataset has no cases")
    return cases
