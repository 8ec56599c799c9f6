"""Recognise the local authority area a question names: by council name, short form, town or a close misspelling.

Every English council comes from knowledge/data/local-authorities.yaml; the inspection documents add which of
them the knowledge base holds a report for. A name that looks like a place but is no council we know is reported
as unrecognised, so the guide never answers "Zzyzxshire" with another area's inspection findings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from ..knowledge.authorities import AuthorityList
from ..reply import HELP_SIGNPOST
from . import guards

OFSTED_REPORTS_URL = "https://reports.ofsted.gov.uk/"


@dataclass(frozen=True)
class AreaMatch:
    name: str  # the council's name ("Norfolk"), or the words the parent used when we do not recognise them
    doc_ids: tuple[str, ...]  # inspection documents for this area (empty when the knowledge base has none)
    recognised: bool = True  # False: it looks like a place name, but no English council we know
    said: str = ""  # the parent's own spelling, when it differs from the name (a town, short form or misspelling)
    note: str = ""  # for a former or non-English place ("Northamptonshire now has two councils ...")
    fuzzy: bool = False  # matched as a close misspelling


def _key(text: str) -> str:
    return " ".join(re.sub(r"[-‐‑–]", " ", text.lower()).split())


# A misspelling must be this close (rapidfuzz ratio, 0-100) and this far ahead of the next council to count.
FUZZY_MIN_SCORE = 85
FUZZY_MIN_LEAD = 5
FUZZY_MIN_LENGTH = 5
# Words after which a place name usually comes, and words that follow one ("Norfok council").
_BEFORE = {"in", "for", "from", "near", "around", "at", "about", "of", "covers", "covering", "live", "living"}
_AFTER = {"council", "county", "borough", "area", "la", "local", "sendiass", "send"}
# Endings of English place names: a word ending like this after "in" is taken to name a place.
_PLACE_ENDING = re.compile(
    r"(shire|borough|burgh|bury|ham|ton|ford|field|pool|mouth|wich|chester|caster|cester|minster|worth|ley|"
    r"by|dale|land|stoke|port|bridge|gate|combe|ing)$", re.I)
# Capitalised words after "in" that are not places in England's councils.
_NOT_PLACES = frozenset(
    "england english britain uk send sen ehc ehcp ehcps ofsted cqc year reception the a an my our their this that "
    "these those which what when where september october november december january february march april may june "
    "july august monday tuesday wednesday thursday friday saturday sunday mainstream primary secondary school "
    "schools tribunal court law section regulation i it they we you he she his her council councils area areas "
    "local inspection inspections report reports".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
_MY_AREA = re.compile(r"\b(my|our)\s+(local\s+)?(area|council|local authority|la|county|borough|town|city)\b|"
                      r"\bwhere (i|we) live\b", re.I)


def _pattern(forms: list[str], capitalised: frozenset[str]) -> re.Pattern | None:
    ordered = sorted({f for f in forms if f}, key=len, reverse=True)
    if not ordered:
        return None

    def alt(form: str) -> str:
        escaped = re.escape(form).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]+")
        # Names that are also everyday words ("Reading", "Bath") only count when capitalised.
        return "(?-i:" + escaped + ")" if form in capitalised else escaped

    return re.compile(r"(?<![\w-])(" + "|".join(alt(f) for f in ordered) + r")(?![\w-])", re.I)


class AreaFinder:
    """Finds the areas a question names: councils with an inspection document, any other English council, and
    place-like names it does not recognise (only in questions about an area's inspections or services)."""

    def __init__(self, inspection_areas: dict[str, tuple[str, ...]], authorities: AuthorityList | None = None):
        # inspection_areas: area name or alias (any case) -> inspection doc ids
        known = {_key(k): tuple(v) for k, v in inspection_areas.items()}
        self.reports_url = authorities.inspection_reports.url if authorities else OFSTED_REPORTS_URL
        capitalised = authorities.only_when_capitalised if authorities else frozenset()
        # form -> (canonical name, note, "name" | "short" | "town"); every form shares the council's documents.
        self._forms: dict[str, tuple[str, str, str]] = {}
        self._docs: dict[str, tuple[str, ...]] = {}
        self._display: dict[str, str] = {}
        self._types = {a.name: a.type for a in (authorities.all() if authorities else ())}
        for authority in authorities.all() if authorities else ():
            docs: tuple[str, ...] = ()
            for form in authority.names:
                kind = "name" if form == authority.name else "town" if form in authority.towns else "short"
                self._forms[_key(form)] = (authority.name, authority.note, kind)
                self._display[_key(form)] = form
                docs += tuple(d for d in known.get(_key(form), ()) if d not in docs)
            self._docs[authority.name] = docs
        for form, docs in known.items():
            if form in self._forms:
                continue
            # An alias only the inspection document gives ("Oxfordshire local area partnership").
            owner = next((name for name, d in self._docs.items() if set(d) & set(docs)), form)
            self._forms[form] = (owner if owner != form else form.title(), "", "short")
            self._display[form] = form
            self._docs.setdefault(self._forms[form][0], docs)
        self.covered = sorted(name for name, docs in self._docs.items() if docs)
        forms = [self._display[f] for f in self._forms]
        self._re = _pattern(forms, capitalised)
        # Misspellings are matched against council names and short forms of two or more letters' worth of
        # difference from everyday words; towns are matched exactly only (too many near-homonyms).
        self._fuzzy_choices = {
            _key(f): self._forms[_key(f)][0] for a in (authorities.all() if authorities else ())
            for f in (a.name, *a.short_forms) if len(f) >= FUZZY_MIN_LENGTH and f not in capitalised
        }

    # --- finding ------------------------------------------------------------------------------------------------
    def find(self, text: str) -> list[AreaMatch]:
        found: dict[str, AreaMatch] = {}
        spans: list[tuple[int, int]] = []
        for m in self._re.finditer(text) if self._re else ():
            name, note, kind = self._forms[_key(m.group(1))]
            said = m.group(1) if kind == "town" else ""
            found.setdefault(name, AreaMatch(name, self._docs.get(name, ()), said=said, note=note))
            spans.append(m.span())
        local = guards.is_local_topic(text)
        words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
        for i, (word, start, end) in enumerate(words):
            if any(s <= start < e for s, e in spans) or not self._place_position(words, i):
                continue
            match = self._fuzzy(words, i)
            if match is not None:
                found.setdefault(match.name, match)
                spans.append((start, end))
                continue
            if local and self._looks_like_place(word, words, i):
                found.setdefault(_key(word), AreaMatch(word, (), recognised=False, said=word))
                spans.append((start, end))
        if not found and local and _MY_AREA.search(text):
            # "What did inspectors find in my area?" names no area: ask which, never pick one.
            found["my area"] = AreaMatch("", (), recognised=False)
        return list(found.values())

    @staticmethod
    def _place_position(words: list[tuple[str, int, int]], i: int) -> bool:
        word = words[i][0]
        before = words[i - 1][0].lower() if i else ""
        after = words[i + 1][0].lower() if i + 1 < len(words) else ""
        return word[:1].isupper() or before in _BEFORE or after in _AFTER

    def _fuzzy(self, words: list[tuple[str, int, int]], i: int) -> AreaMatch | None:
        best: AreaMatch | None = None
        best_score = 0.0
        # The word alone, and with the one or two words after it ("South Glouctershire").
        for n in (1, 2, 3):
            if i + n > len(words):
                break
            said = " ".join(w for w, _, _ in words[i : i + n])
            if len(said) < FUZZY_MIN_LENGTH or said.lower() in _NOT_PLACES:
                continue
            scored = process.extract(_key(said), list(self._fuzzy_choices), scorer=fuzz.ratio, limit=6,
                                     score_cutoff=FUZZY_MIN_SCORE - FUZZY_MIN_LEAD)
            if not scored:
                continue
            top_form, top, _ = scored[0]
            owner = self._fuzzy_choices[top_form]
            rival = max((s for f, s, _ in scored[1:] if self._fuzzy_choices[f] != owner), default=0.0)
            # Only when close and unambiguous: "Oxfordshre" is Oxfordshire, "Zzyzxshire" is nothing.
            if top >= FUZZY_MIN_SCORE and top - rival >= FUZZY_MIN_LEAD and top > best_score:
                name, note, _ = self._forms[top_form]
                best, best_score = AreaMatch(name, self._docs.get(name, ()), said=said, note=note, fuzzy=True), top
        return best

    @staticmethod
    def _looks_like_place(word: str, words: list[tuple[str, int, int]], i: int) -> bool:
        if word.lower() in _NOT_PLACES or word.isupper() or len(word) < 4:
            return False
        before = words[i - 1][0].lower() if i else ""
        if _PLACE_ENDING.search(word) and (word[:1].isupper() or before in _BEFORE):
            return True
        # A capitalised word after "in"/"for"/"from" in a question about an area: "What did Ofsted find in Narnia?"
        return word[:1].isupper() and before in {"in", "for", "from", "near", "around"}

    def council_title(self, name: str) -> str:
        """How a letter addresses the council: "Kent County Council", "Rutland Council"."""
        kind = self._types.get(name, "")
        if kind == "county":
            return f"{name} County Council"
        if name == "Isles of Scilly":
            return "Council of the Isles of Scilly"
        if name == "City of London":
            return "City of London Corporation"
        return f"{name} Council" if kind else name

    # --- replying -----------------------------------------------------------------------------------------------
    def covered_list(self) -> str:
        names = self.covered
        if not names:
            return ""
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"The guide holds inspection documents for {listed}."

    def verdict(self, match: AreaMatch) -> guards.Verdict:
        """The honest reply when a question about an area's inspection or services names an area with no
        inspection document (or one we do not recognise): never another area's findings."""
        where = (f"Ofsted publishes every area SEND inspection report: search for the council's name on Ofsted's "
                 f"reports site ({self.reports_url}) and choose \"Local area SEND\".")
        covered = self.covered_list()
        if not match.name:
            return guards.Verdict(
                "clarify", "which-area",
                "Which council area are you in? Tell me the council's name (or your town) and I'll check what I "
                f"hold. {covered} {where}".replace("  ", " "))
        if not match.recognised:
            return guards.Verdict(
                "clarify", f"unrecognised-area:{_key(match.name)}",
                f"I don't recognise \"{match.name}\" as a council area in England, so I can't tell you about its "
                "inspections, and I won't give you another area's report instead. Please check the spelling, or "
                f"tell me your council's name or town. {covered} {where}".replace("  ", " "))
        heard = f"I've taken \"{match.said}\" to mean {match.name}. " if match.said and match.fuzzy else ""
        if match.note:
            return guards.Verdict("signpost", f"unknown-area:{_key(match.name)}",
                                  f"{heard}{match.note} {covered} {where} " + HELP_SIGNPOST)
        place = f"{match.said} is in {match.name}. " if match.said and not match.fuzzy else ""
        return guards.Verdict(
            "signpost", f"unknown-area:{_key(match.name)}",
            f"{heard}{place}The guide holds no inspection document for {match.name}, so I can't tell you what "
            f"inspectors found there, and I won't describe another area's report instead. {where} {covered} "
            f"{match.name}'s Local Offer website describes its local SEND services. " + HELP_SIGNPOST)
