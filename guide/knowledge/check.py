"""`guide knowledge check`: validate every document and report how readable each one is."""

from __future__ import annotations

import json
import re
import statistics
from functools import cache
from pathlib import Path

from .abbreviations import load_abbreviations
from .authorities import load_authorities_if_present
from .documents import KnowledgeError, load_documents, phrasing_key
from .letters import check_explained_by, load_letters

_WORD = re.compile(r"[a-z0-9]+")
# Words that do not change which question a heading asks ("What ...?" and "How ...?" about the same thing are one).
_QUESTION_WORDS = frozenset(
    "a an and are as at be been by can could do does for from has have how i if in is it its me my of on or our "
    "the their them there they this to was what when where which who why will with would you your must should "
    "we get".split()
)
NEAR_TWIN = 0.75  # share of a heading's words another document's heading also uses: reported, not failed


@cache
def _stem():
    import snowballstemmer

    return snowballstemmer.stemmer("english").stemWord


def _question_words(heading: str) -> frozenset[str]:
    stem = _stem()
    return frozenset(stem(w) for w in _WORD.findall(heading.lower()) if w not in _QUESTION_WORDS)


def asked_twice(docs) -> tuple[list[str], list[str]]:
    """Sections of different documents asking the same question (failures) or nearly the same (warnings).

    Twins split a question's facts and parents' phrasings between two answers, and the search then picks one of
    them almost at random: one question, one section."""
    heads = [(d.id, d.kind, s.heading, _question_words(s.heading)) for d in docs for s in d.answer_sections]
    same, near = [], []
    for i, (doc_a, kind_a, head_a, words_a) in enumerate(heads):
        for doc_b, kind_b, head_b, words_b in heads[i + 1:]:
            # Two areas' inspection histories ask the same questions of different areas.
            if doc_a == doc_b or not words_a or not words_b or kind_a == kind_b == "inspection":
                continue
            line = f"{doc_a}: {head_a!r} and {doc_b}: {head_b!r}"
            if words_a == words_b:
                same.append(line)
            elif len(words_a & words_b) / len(words_a | words_b) >= NEAR_TWIN:
                near.append(line)
    return same, near


def phrasings_twice(docs) -> list[str]:
    """Parents' phrasings written under sections of two documents: a phrasing is a way into one answer."""
    seen: dict[str, str] = {}
    twice = []
    for doc in docs:
        for section in doc.answer_sections:
            for line in section.phrasings:
                key = phrasing_key(line)
                where = f"{doc.id}: {section.heading!r}"
                if key in seen and not seen[key].startswith(f"{doc.id}:"):
                    twice.append(f"{line!r} in {seen[key]} and {where}")
                seen.setdefault(key, where)
    return twice


_MARKUP = re.compile(r"^#+\s*|\*\*|__|`|\[(.*?)\]\([^)]*\)", re.MULTILINE)


def plain_text(markdown: str) -> str:
    text = _MARKUP.sub(lambda m: m.group(1) or "", markdown)
    return re.sub(r"^\s*[-*+]\s+", "", text, flags=re.MULTILINE)


_WORDS = re.compile(r"[A-Za-z0-9'’]+")
_SENTENCES = re.compile(r"[.!?]+(?:\s|$)|\n\s*\n")


def readability(markdown: str) -> float:
    """Flesch reading ease, with syllables from Pyphen's British English dictionary.

    textstat's own syllable counter wants NLTK's CMU dictionary, which it downloads at run time; the formula
    is the same, so we count with Pyphen (textstat's fallback) and stay offline.
    """
    import pyphen

    text = plain_text(markdown)
    words = _WORDS.findall(text)
    if not words:
        return 0.0
    sentences = max(1, len([s for s in _SENTENCES.split(text) if _WORDS.search(s)]))
    dic = pyphen.Pyphen(lang="en_GB")
    syllables = sum(len(dic.positions(w.lower())) + 1 for w in words)
    return 206.835 - 1.015 * (len(words) / sentences) - 84.6 * (syllables / len(words))


def check(knowledge_dir: Path) -> list[dict]:
    """Validate (raises KnowledgeError naming the file and field) and score every document."""
    return _check(knowledge_dir)[0]


def _check(knowledge_dir: Path) -> tuple[list[dict], list[str]]:
    """check()'s rows, and the nearly-twin questions a maintainer should look at."""
    docs = load_documents(knowledge_dir)
    # The model letters and the list of councils are not indexed, but a maintainer edits them too.
    check_explained_by(load_letters(knowledge_dir), docs)
    load_authorities_if_present(knowledge_dir)
    load_abbreviations(knowledge_dir)
    same, near = asked_twice(docs)
    if same:
        raise KnowledgeError(Path(knowledge_dir), "sections", "the same question is answered in two documents "
                             f"({'; '.join(same)}): merge their facts and phrasings into one section, or ask two "
                             "different questions")
    twice = phrasings_twice(docs)
    if twice:
        raise KnowledgeError(Path(knowledge_dir), "parents-ask", "a phrasing is written under sections of two "
                             f"documents ({'; '.join(twice)}): keep it under the section that answers it")
    rows = []
    for doc in docs:
        rows.append({
            "id": doc.id, "kind": doc.kind, "path": str(doc.path), "sources": len(doc.sources),
            "words": len(plain_text(doc.body).split()), "flesch": round(readability(doc.body), 1),
            "last_reviewed": doc.last_reviewed, "sections": len(doc.answer_sections),
            "phrasings": sum(len(s.phrasings) for s in doc.answer_sections),
        })
    return rows, near


def run_check(knowledge_dir: Path, as_json: bool = False, min_median: float = 60.0) -> int:
    try:
        rows, near = _check(knowledge_dir)
    except KnowledgeError as exc:
        print(f"FAIL {exc}")
        return 1
    median = statistics.median(r["flesch"] for r in rows)
    if as_json:
        print(json.dumps({"documents": rows, "median_flesch": median}, indent=1))
    else:
        width = max(len(r["id"]) for r in rows)
        print(f"{'document':<{width}}  kind        words  sources  Flesch")
        for r in sorted(rows, key=lambda r: r["flesch"]):
            print(f"{r['id']:<{width}}  {r['kind']:<10}  {r['words']:>5}  {r['sources']:>7}  {r['flesch']:>6.1f}")
        print(f"\n{len(rows)} documents valid. Median Flesch reading ease: {median:.1f} (target {min_median:.0f}+).")
        print(f"{sum(r['sections'] for r in rows)} answer sections, every one with its parents' phrasings "
              f"({sum(r['phrasings'] for r in rows)} in all).")
        letters = load_letters(knowledge_dir)
        councils = load_authorities_if_present(knowledge_dir)
        councils_line = (f" {len(councils.authorities)} local authorities valid (source: {councils.source.url})."
                         if councils else "")
        print(f"{len(letters)} model letters valid.{councils_line}")
        for line in near:
            print(f"WARN nearly the same question in two documents, check one answers it: {line}")
    if median < min_median:
        print(f"FAIL median Flesch reading ease {median:.1f} is below {min_median:.0f}")
        return 1
    return 0
