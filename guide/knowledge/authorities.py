"""Load and validate knowledge/data/local-authorities.yaml: every English local authority with SEND duties."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .documents import KnowledgeError, Source, parse_source

AUTHORITIES_FILE = Path("data") / "local-authorities.yaml"
TYPES = ("county", "unitary", "metropolitan", "london", "sui-generis")


@dataclass(frozen=True)
class Authority:
    name: str
    type: str = ""  # empty for other_places (not one council today, or outside England)
    short_forms: tuple[str, ...] = ()
    towns: tuple[str, ...] = ()
    note: str = ""  # other_places only: what to tell a parent who names it

    @property
    def is_council(self) -> bool:
        return bool(self.type)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.short_forms, *self.towns)


@dataclass(frozen=True)
class AuthorityList:
    authorities: tuple[Authority, ...]
    other_places: tuple[Authority, ...]
    source: Source
    inspection_reports: Source
    only_when_capitalised: frozenset[str]
    path: Path

    def all(self) -> tuple[Authority, ...]:
        return self.authorities + self.other_places


def authorities_path(knowledge_dir: Path) -> Path:
    return Path(knowledge_dir) / AUTHORITIES_FILE


def _source(raw, path: Path, where: str) -> Source:
    return parse_source(raw, path, where, "is missing: give title, url and publisher")


def _texts(entry: dict, key: str, path: Path, where: str) -> tuple[str, ...]:
    value = entry.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise KnowledgeError(path, f"{where}.{key}", "must be a list of names")
    return tuple(v.strip() for v in value)


def _entry(entry, path: Path, where: str, council: bool) -> Authority:
    if not isinstance(entry, dict):
        raise KnowledgeError(path, where, "must be a mapping with at least a name")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise KnowledgeError(path, f"{where}.name", "is missing or empty")
    kind = str(entry.get("type") or "").strip()
    note = str(entry.get("note") or "").strip()
    if council and kind not in TYPES:
        raise KnowledgeError(path, f"{where}.type", f"{kind!r} must be one of {', '.join(TYPES)}")
    if not council and not note:
        raise KnowledgeError(path, f"{where}.note", "is missing: say what a parent who names this place should know")
    return Authority(name.strip(), kind if council else "", _texts(entry, "short_forms", path, where),
                     _texts(entry, "towns", path, where), note)


def load_authorities(path: Path) -> AuthorityList:
    """Parse and validate the file; raises KnowledgeError naming the file and the entry that is wrong."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise KnowledgeError(path, "file", "is missing (the list of English local authorities)") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise KnowledgeError(path, "file", f"is not valid UTF-8 YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise KnowledgeError(path, "file", "must be a YAML mapping with source and authorities")
    source = _source(raw.get("source"), path, "source")
    reports = _source(raw.get("inspection_reports"), path, "inspection_reports")
    entries = raw.get("authorities")
    if not isinstance(entries, list) or not entries:
        raise KnowledgeError(path, "authorities", "must be a list of {name, type, short_forms, towns}")
    councils = tuple(_entry(e, path, f"authorities[{i}]", True) for i, e in enumerate(entries))
    others = tuple(_entry(e, path, f"other_places[{i}]", False) for i, e in enumerate(raw.get("other_places") or []))
    seen: dict[str, str] = {}
    for authority in councils + others:
        for form in authority.names:
            key = " ".join(form.lower().replace("-", " ").split())
            if key in seen:
                raise KnowledgeError(path, authority.name, f"{form!r} is listed twice (also under {seen[key]})")
            seen[key] = authority.name
    capitalised = raw.get("only_when_capitalised") or []
    if not isinstance(capitalised, list) or not all(isinstance(v, str) for v in capitalised):
        raise KnowledgeError(path, "only_when_capitalised", "must be a list of names")
    return AuthorityList(councils, others, source, reports, frozenset(capitalised), path)


def load_authorities_if_present(knowledge_dir: Path) -> AuthorityList | None:
    """The list in this knowledge folder, or None when the folder has none (a small test or custom knowledge base:
    then only the inspected areas are recognised). A file that is there but malformed is an error."""
    path = authorities_path(knowledge_dir)
    return load_authorities(path) if path.exists() else None
