"""Load and validate the curated knowledge documents (Markdown with YAML front matter)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import yaml

KINDS = ("guidance", "inspection")
NOT_DOCUMENTS = ("letters", "data")  # top-level knowledge folders that hold no answer text
FRAMEWORKS = ("2016", "2023")
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PARTIAL_DATE_RE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
# Parents' own ways of asking a section's question: a fenced block at the end of the section (knowledge/README.md).
_PHRASINGS_RE = re.compile(r"^```parents-ask[ \t]*\n(.*?)^```[ \t]*$\n?", re.MULTILINE | re.DOTALL)
NOTE_HEADING = "what we could not confirm"
MIN_PHRASINGS, MAX_PHRASINGS, MAX_PHRASING_CHARS = 5, 12, 600


class KnowledgeError(ValueError):
    """A knowledge file is malformed. The message names the file and the field."""

    def __init__(self, path: Path | str, field_name: str, problem: str):
        self.path = Path(path)
        self.field = field_name
        self.problem = problem
        super().__init__(f"{self.path}: field '{field_name}': {problem}")


@dataclass(frozen=True)
class Source:
    title: str
    url: str
    publisher: str


@dataclass(frozen=True)
class Section:
    """One heading and the text under it: the unit the guide answers with."""

    heading: str
    level: int
    text: str  # the prose, without the parents-ask block
    phrasings: tuple[str, ...] = ()

    @property
    def is_note(self) -> bool:
        """The maintainers' "What we could not confirm" list: kept in the file, never used as an answer."""
        return self.heading.strip().lower() == NOTE_HEADING


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    kind: str
    summary: str
    sources: tuple[Source, ...]
    last_reviewed: str
    body: str
    path: Path
    area: str = ""
    aliases: tuple[str, ...] = ()
    inspected: str = ""
    published: str = ""
    framework: str = ""
    outcome: str = ""
    topics: tuple[str, ...] = field(default_factory=tuple)
    sections: tuple[Section, ...] = ()

    @property
    def answer_sections(self) -> tuple[Section, ...]:
        return tuple(s for s in self.sections if not s.is_note)

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.sources]


def split_front_matter(text: str, path: Path) -> tuple[dict, str] | None:
    """Return (front matter, body), or None when the file has no front matter at all."""
    if not text.startswith("---"):
        return None
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        raise KnowledgeError(path, "front matter", "opening '---' has no closing '---' line")
    head = parts[0][3:]
    body = parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""
    try:
        meta = yaml.safe_load(head) or {}
    except yaml.YAMLError as exc:
        raise KnowledgeError(path, "front matter", f"is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise KnowledgeError(path, "front matter", "must be a YAML mapping of field: value")
    return meta, body


def _require_str(meta: dict, name: str, path: Path) -> str:
    value = meta.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise KnowledgeError(path, name, "is missing or empty")
    if not isinstance(value, str):
        raise KnowledgeError(path, name, f"must be text, got {type(value).__name__}")
    return value.strip()


def _date_str(meta: dict, name: str, path: Path, partial: bool = False) -> str:
    value = meta.get(name)
    if value is None or value == "":
        raise KnowledgeError(path, name, "is missing or empty")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if partial and _PARTIAL_DATE_RE.match(text):
        return text
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError as exc:
        form = "YYYY-MM-DD or YYYY-MM" if partial else "YYYY-MM-DD"
        raise KnowledgeError(path, name, f"{text!r} is not a date ({form})") from exc


def check_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and "." in parsed.netloc and " " not in url


def parse_sources(raw, path: Path, missing: str) -> tuple[Source, ...]:
    """A front matter's `sources` list: each a {title, url, publisher}; `missing` says what to write when absent."""
    if not isinstance(raw, list) or not raw:
        raise KnowledgeError(path, "sources", missing)
    return tuple(parse_source(item, path, f"sources[{i}]") for i, item in enumerate(raw))


def parse_source(item, path: Path, where: str, missing: str = "must be a mapping with title, url and publisher"
                 ) -> Source:
    """One {title, url, publisher}: every part present, the URL well formed."""
    if not isinstance(item, dict):
        raise KnowledgeError(path, where, missing)
    for key in ("title", "url", "publisher"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise KnowledgeError(path, f"{where}.{key}", "is missing or empty")
    if not check_url(item["url"].strip()):
        raise KnowledgeError(path, f"{where}.url", f"{item['url']!r} is not a well-formed http(s) URL")
    return Source(item["title"].strip(), item["url"].strip(), item["publisher"].strip())


def parse_document(path: Path, text: str | None = None) -> Document | None:
    """Parse one file. Returns None for a README.md; any other file that is not a valid document is an error."""
    if text is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KnowledgeError(path, "file", f"cannot be read: {exc.strerror}") from exc
        if not data.strip():
            raise KnowledgeError(path, "file", "is empty; restore its text or delete the file")
        try:
            text = data.decode("utf-8-sig")  # a byte-order mark (some Windows editors save one) is accepted
        except UnicodeDecodeError as exc:
            raise KnowledgeError(path, "file", f"is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    text = text.lstrip("\ufeff")
    split = split_front_matter(text, path)
    if split is None:
        if path.name.lower() == "readme.md":  # notes for maintainers, not a document
            return None
        raise KnowledgeError(path, "front matter", "is missing: a document starts with a '---' line, its fields, "
                                                   "and another '---' line (see knowledge/README.md)")
    meta, body = split
    doc_id = _require_str(meta, "id", path)
    if not _ID_RE.match(doc_id):
        raise KnowledgeError(path, "id", f"{doc_id!r} must be lower-case words joined by hyphens")
    kind = _require_str(meta, "kind", path)
    if kind not in KINDS:
        raise KnowledgeError(path, "kind", f"{kind!r} must be one of {', '.join(KINDS)}")
    sources = parse_sources(meta.get("sources"), path, "must be a list with at least one {title, url, publisher}")
    if not body.strip():
        raise KnowledgeError(path, "body", "the document has no text after the front matter")
    _check_sections(body, path)
    sections = parse_sections(body, path)
    extra: dict = {}
    if kind == "inspection":
        extra["area"] = _require_str(meta, "area", path)
        extra["inspected"] = _date_str(meta, "inspected", path, partial=True)
        extra["published"] = _date_str(meta, "published", path, partial=True)
        framework = str(meta.get("framework", "")).strip()
        if framework not in FRAMEWORKS:
            raise KnowledgeError(path, "framework", f"{framework!r} must be one of {', '.join(FRAMEWORKS)}")
        extra["framework"] = framework
        extra["outcome"] = _require_str(meta, "outcome", path)
    aliases = meta.get("aliases") or []
    topics = meta.get("topics") or []
    for name, value in (("aliases", aliases), ("topics", topics)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise KnowledgeError(path, name, "must be a list of text values")
    return Document(
        id=doc_id,
        title=_require_str(meta, "title", path),
        kind=kind,
        summary=_require_str(meta, "summary", path),
        sources=sources,
        last_reviewed=_date_str(meta, "last_reviewed", path),
        body=_PHRASINGS_RE.sub("", body).strip() + "\n",
        path=path,
        sections=sections,
        aliases=tuple(aliases),
        topics=tuple(topics),
        **extra,
    )


def _check_sections(body: str, path: Path) -> None:
    """Every heading must have some text before the next heading of the same or higher level."""
    matches = list(_HEADING_RE.finditer(body))
    for i, match in enumerate(matches):
        level = len(match.group(1))
        end = len(body)
        for nxt in matches[i + 1 :]:
            if len(nxt.group(1)) <= level:
                end = nxt.start()
                break
        section = body[match.end() : end]
        if not _HEADING_RE.sub("", section).strip():
            raise KnowledgeError(path, "body", f"section {match.group(2)!r} is empty")


def parse_sections(body: str, path: Path) -> tuple[Section, ...]:
    """Split a body into sections and check each answer section's parents-ask block (knowledge/README.md)."""
    matches = list(_HEADING_RE.finditer(body))
    if not matches:
        raise KnowledgeError(path, "body", "has no headings: every answer is a section under a '## question' heading")
    if _PHRASINGS_RE.sub("", body[: matches[0].start()]).strip():
        raise KnowledgeError(path, "body", "has text before its first heading: put it under a heading")
    sections: list[Section] = []
    seen: dict[str, str] = {}
    for i, match in enumerate(matches):
        heading = match.group(2).strip()
        raw = body[match.end() : matches[i + 1].start() if i + 1 < len(matches) else len(body)]
        blocks = _PHRASINGS_RE.findall(raw)
        text = _PHRASINGS_RE.sub("", raw).strip()
        where = f"section {heading!r}"
        if heading.lower() == NOTE_HEADING:
            if blocks:
                raise KnowledgeError(path, where, "is the maintainers' note: it takes no parents-ask block")
            sections.append(Section(heading, len(match.group(1)), text))
            continue
        if len(blocks) != 1:
            raise KnowledgeError(path, where, f"needs one ```parents-ask block at its end, found {len(blocks)} "
                                 f"(see knowledge/README.md)")
        if raw.strip()[-3:] != "```":
            raise KnowledgeError(path, where, "its parents-ask block must be the last thing in the section")
        lines = [ln.strip() for ln in blocks[0].splitlines() if ln.strip()]
        if not MIN_PHRASINGS <= len(lines) <= MAX_PHRASINGS:
            raise KnowledgeError(path, where, f"has {len(lines)} parents' phrasings; write {MIN_PHRASINGS} to "
                                 f"{MAX_PHRASINGS}, one per line")
        for line in lines:
            if len(line) > MAX_PHRASING_CHARS:
                raise KnowledgeError(path, where, f"a phrasing is {len(line)} characters long (at most "
                                     f"{MAX_PHRASING_CHARS}): {line[:60]!r}...")
            key = phrasing_key(line)
            if key in seen:
                raise KnowledgeError(path, where, f"the phrasing {line[:60]!r} is already used in section "
                                     f"{seen[key]!r}")
            seen[key] = heading
        sections.append(Section(heading, len(match.group(1)), text, tuple(lines)))
    return tuple(sections)


def phrasing_key(line: str) -> str:
    """A phrasing as compared for duplicates: case and spacing do not make it another way of asking."""
    return " ".join(line.lower().split())


def load_documents(knowledge_dir: Path) -> list[Document]:
    """Load every document, validating all of them before returning any (nothing is half-loaded)."""
    knowledge_dir = Path(knowledge_dir)
    if not knowledge_dir.is_dir():
        raise KnowledgeError(knowledge_dir, "knowledge_dir", "folder does not exist (set GUIDE_KNOWLEDGE_DIR)")
    docs: list[Document] = []
    seen: dict[str, Path] = {}
    for path in sorted(knowledge_dir.rglob("*.md")):
        if path.relative_to(knowledge_dir).parts[0] in NOT_DOCUMENTS:
            continue  # model letters and data files are validated by their own loaders and never indexed
        doc = parse_document(path)
        if doc is None:
            continue
        if doc.id in seen:
            raise KnowledgeError(path, "id", f"{doc.id!r} is already used by {seen[doc.id]}")
        seen[doc.id] = path
        docs.append(doc)
    if not docs:
        raise KnowledgeError(knowledge_dir, "documents", "no Markdown files with front matter were found")
    return docs
