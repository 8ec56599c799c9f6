"""Honest confidence: notice when a question is about something the knowledge base never mentions.

A small embedding model finds *some* passage similar to almost any SEND-flavoured question, so similarity alone
cannot tell "we hold this" from "we hold something near this". Words the knowledge base never uses (after
stemming, and allowing for typos) can: "llama therapy on Mars" names two things no document mentions.
"""

from __future__ import annotations

import difflib
import re

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]{3,}")
# Everyday words a parent uses that the documents need not contain for a question to be answerable.
_COMMON = frozenset(
    "about after again also always anyone anything because been before being child childs children could does "
    "doing done dont down each even ever every feel from getting give going gone good great have having help "
    "here just keep know last like little long look lot make many maybe more most much need needs never next "
    "nothing only other over really right said same seem should since some someone something still such sure "
    "take tell than thank thanks that them then there these they thing things think this those though time told "
    "want wants was well went were what when where which while will with without would year years your yours "
    "daughter son kid kids mum dad husband wife partner please hello worried worry honestly literally basically "
    "actually anyway week weeks month months today tomorrow yesterday ages days".split()
)


class TermCoverage:
    def __init__(self, vocab: set[str], stemmer, extra_known: frozenset[str] = frozenset()):
        self.vocab = set(vocab) | set(extra_known)
        self.stemmer = stemmer
        self._vocab_list = sorted(vocab)
        self._cache: dict[str, bool] = {}

    def known(self, stem: str) -> bool:
        if stem in self.vocab:
            return True
        if stem not in self._cache:
            # A typo ("assesment") is still a word we know.
            self._cache[stem] = bool(difflib.get_close_matches(stem, self._vocab_list, n=1, cutoff=0.8))
        return self._cache[stem]

    def unknown_words(self, text: str) -> list[str]:
        words = [w.strip("'’-") for w in _WORD.findall(text)]
        # Contractions ("won't") are split differently by the index's tokenizer; they carry no topic anyway.
        words = [w for w in words if w.lower() not in _COMMON and "'" not in w and "’" not in w]
        stems = self.stemmer.stemWords([w.lower() for w in words])
        seen: dict[str, str] = {}
        for word, stem in zip(words, stems, strict=True):
            if not self.known(stem):
                seen.setdefault(stem, word)
        return list(seen.values())
