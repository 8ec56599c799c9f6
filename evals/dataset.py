"""Load and validate evaluation datasets (JSONL, one case a line)."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

BEHAVIOURS = ("answer", "decline", "signpost", "clarify")
REQUIRED = ("id", "category", "turns", "must_include", "must_not_include", "expected_behaviour")


class DatasetError(ValueError):
    """A dataset line is malformed; the message names the file, the line and the field."""


@dataclass(frozen=True)
class DatasetMeta:
    """What a dataset's sidecar `<name>.meta.toml` says about how to run it (the case format stays unchanged)."""

    name: str
    # The guide's "today" (ISO date) for this dataset's cases; "" keeps the guide's own clock.
    today: str = ""
    # The table of thresholds.toml that gates this dataset; the dataset's name when the sidecar does not say.
    thresholds: str = ""
    dataset: Path | None = None
    # The sidecar file, when the dataset has one.
    sidecar: Path | None = None


META_KEYS = {"today", "thresholds"}


def dataset_name(path: Path) -> str:
    """`public` for `.../public.jsonl`: the name reports, thresholds tables and sidecars use."""
    return Path(path).name.removesuffix(".jsonl")


def meta_path(path: Path) -> Path:
    return Path(path).with_name(dataset_name(path) + ".meta.toml")


def load_meta(path: Path) -> DatasetMeta:
    """The sidecar beside a dataset, if there is one; a bad sidecar names its file, key and fix."""
    name = dataset_name(path)
    side = meta_path(path)
    if not side.exists():
        return DatasetMeta(name=name, thresholds=name, dataset=Path(path))
    try:
        raw = tomllib.loads(side.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DatasetError(f"{side}: cannot read the dataset's sidecar: {exc}") from exc
    unknown = sorted(set(raw) - META_KEYS)
    if unknown:
        raise DatasetError(f"{side}: unknown key(s) {', '.join(unknown)}; a sidecar may set only "
                           f"{', '.join(sorted(META_KEYS))}")
    today = raw.get("today", "")
    if isinstance(today, dt.date):  # TOML's own date literal: today = 2026-12-01
        today = today.isoformat()
    try:
        if today:
            dt.date.fromisoformat(str(today))
    except ValueError:
        raise DatasetError(f"{side}: key 'today' = {today!r} is not a date; write it as \"YYYY-MM-DD\"") from None
    table = raw.get("thresholds", name)
    if not isinstance(table, str) or not table:
        raise DatasetError(f"{side}: key 'thresholds' must name a table of thresholds.toml, e.g. \"{name}\"")
    return DatasetMeta(name=name, today=str(today), thresholds=table, dataset=Path(path), sidecar=side)


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
