"""Load and validate the model letters in knowledge/letters/*.md (front matter + the letter with {{gaps}}).

Letters are knowledge a maintainer edits, but they are not answer text: the document loader skips this folder and
they are never indexed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .documents import _ID_RE, KnowledgeError, Source, _date_str, _require_str, parse_sources, split_front_matter

LETTERS_DIR = "letters"
FILLED_FROM = ("date", "council")  # what the guide may fill from the conversation; everything else is a gap
_GAP = re.compile(r"\{\{(.*?)\}\}")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Choice:
    text: str
    cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    from_conversation: str = ""  # "date" | "council" | ""
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Letter:
    id: str
    title: str
    to: str
    summary: str
    when_to_use: tuple[str, ...]
    law: str  # the legal basis in one or two sentences: quoted when the chat offers the letter
    sources: tuple[Source, ...]
    fields: tuple[Field, ...]
    body: str
    last_reviewed: str
    path: Path
    # The knowledge section that explains what the letter asks for ("What should my request letter say?"), as
    # (document id, heading): a parent asking for the letter is answered from it. Checked against the documents
    # by `guide knowledge check`.
    explained_by: tuple[str, str] | None = None

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def letters_dir(knowledge_dir: Path) -> Path:
    return Path(knowledge_dir) / LETTERS_DIR


def _sources(meta: dict, path: Path) -> tuple[Source, ...]:
    return parse_sources(meta.get("sources"), path, "must list the law the letter relies on: at least one {title, "
                         "url, publisher}")


def _fields(meta: dict, path: Path) -> tuple[Field, ...]:
    raw = meta.get("fields")
    if not isinstance(raw, list) or not raw:
        raise KnowledgeError(path, "fields", "must list the gaps the parent fills: at least one {name, label}")
    out: list[Field] = []
    for i, item in enumerate(raw):
        where = f"fields[{i}]"
        if not isinstance(item, dict):
            raise KnowledgeError(path, where, "must be a mapping with name and label")
        name, label = item.get("name"), item.get("label")
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            raise KnowledgeError(path, f"{where}.name", f"{name!r} must be lower-case words joined by _ ")
        if any(f.name == name for f in out):
            raise KnowledgeError(path, f"{where}.name", f"{name!r} is listed twice")
        if not isinstance(label, str) or not label.strip():
            raise KnowledgeError(path, f"{where}.label", "is missing or empty")
        source = str(item.get("from_conversation") or "")
        if source and source not in FILLED_FROM:
            raise KnowledgeError(path, f"{where}.from_conversation",
                                 f"{source!r} must be one of {', '.join(FILLED_FROM)}")
        choices = []
        for j, choice in enumerate(item.get("choices") or []):
            if not isinstance(choice, dict) or not isinstance(choice.get("text"), str) or not choice["text"].strip():
                raise KnowledgeError(path, f"{where}.choices[{j}].text", "is missing or empty")
            cues = choice.get("cues") or []
            if not isinstance(cues, list) or not all(isinstance(c, str) and c.strip() for c in cues):
                raise KnowledgeError(path, f"{where}.choices[{j}].cues", "must be a list of words or phrases")
            choices.append(Choice(choice["text"].strip(), tuple(c.strip().lower() for c in cues)))
        out.append(Field(name, label.strip(), source, tuple(choices)))
    return tuple(out)


def parse_letter(path: Path) -> Letter:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeError(path, "file", f"is not UTF-8 text: {exc}") from exc
    split = split_front_matter(text, path)
    if split is None:
        raise KnowledgeError(path, "front matter", "a letter must start with '---' and its front matter")
    meta, body = split
    letter_id = _require_str(meta, "id", path)
    if not _ID_RE.match(letter_id):
        raise KnowledgeError(path, "id", f"{letter_id!r} must be lower-case words joined by hyphens")
    uses = meta.get("when_to_use")
    if not isinstance(uses, list) or not uses or not all(isinstance(u, str) and u.strip() for u in uses):
        raise KnowledgeError(path, "when_to_use", "must list at least one way a parent asks for this letter")
    fields = _fields(meta, path)
    body = body.strip()
    if not body:
        raise KnowledgeError(path, "body", "the letter has no text after the front matter")
    names = {f.name for f in fields}
    used = set()
    for gap in _GAP.findall(body):
        name = gap.strip()
        if name not in names:
            raise KnowledgeError(path, "body",
                                 f"gap {{{{{gap}}}}} is not one of the fields ({', '.join(sorted(names))})")
        used.add(name)
    if "{{" in _GAP.sub("", body) or "}}" in _GAP.sub("", body):
        raise KnowledgeError(path, "body", "has an unclosed '{{' or a stray '}}'")
    if names - used:
        raise KnowledgeError(path, "fields", f"{', '.join(sorted(names - used))} never appear in the letter as a gap")
    explained = meta.get("explained_by")
    explained_by = None
    if explained is not None:
        if not isinstance(explained, dict) or not all(isinstance(explained.get(k), str) and explained[k].strip()
                                                      for k in ("doc", "heading")):
            raise KnowledgeError(path, "explained_by", "must be {doc: <document id>, heading: <its section heading>}")
        explained_by = (explained["doc"].strip(), explained["heading"].strip())
    return Letter(
        id=letter_id, title=_require_str(meta, "title", path), to=_require_str(meta, "to", path),
        summary=_require_str(meta, "summary", path), when_to_use=tuple(u.strip() for u in uses),
        law=_require_str(meta, "law", path), sources=_sources(meta, path), fields=fields, body=body + "\n",
        last_reviewed=_date_str(meta, "last_reviewed", path), path=path, explained_by=explained_by,
    )


def check_explained_by(letters: list[Letter], docs) -> None:
    """Every letter's `explained_by` names a document and one of its answer sections."""
    headings = {d.id: {s.heading for s in d.answer_sections} for d in docs}
    for letter in letters:
        if letter.explained_by is None:
            continue
        doc_id, heading = letter.explained_by
        if doc_id not in headings:
            raise KnowledgeError(letter.path, "explained_by.doc", f"no knowledge document has id {doc_id!r}")
        if heading not in headings[doc_id]:
            raise KnowledgeError(letter.path, "explained_by.heading",
                                 f"{doc_id} has no answer section headed {heading!r}")


def load_letters(knowledge_dir: Path) -> list[Letter]:
    """Every letter under knowledge/letters/, all validated before any is returned (none when there is no folder)."""
    folder = letters_dir(knowledge_dir)
    if not folder.is_dir():
        return []
    letters: list[Letter] = []
    seen: dict[str, Path] = {}
    for path in sorted(folder.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        letter = parse_letter(path)
        if letter.id in seen:
            raise KnowledgeError(path, "id", f"{letter.id!r} is already used by {seen[letter.id]}")
        seen[letter.id] = path
        letters.append(letter)
    return letters
