"""Hybrid retrieval: dense (Chroma) and BM25 results fused by reciprocal rank fusion."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..index.store import IndexStore
from ..knowledge.chunking import Chunk


@dataclass
class Hit:
    chunk: Chunk
    score: float  # fused RRF score
    dense: float  # cosine similarity to the query: the passage's, or its best sentence's if higher
    sparse: float  # BM25 score (0 when only the dense search found it)
    rank: int = 0


class HybridRetriever:
    def __init__(self, store: IndexStore, candidates: int = 30, rrf_k: int = 60):
        self.store = store
        self.candidates = candidates
        self.rrf_k = rrf_k

    def retrieve(
        self,
        query: str,
        query_vec: np.ndarray,
        k: int = 5,
        kind: str | None = None,
        area: str | None = None,
        prefer_docs: tuple[str, ...] = (),
        also: list[tuple[str, np.ndarray]] = (),
    ) -> list[Hit]:
        """Fuse dense passage, dense sentence/heading and BM25 rankings; `also` adds more query views."""
        where: dict | None = None
        clauses = [{"kind": kind}] if kind else []
        if area:
            clauses.append({"area": area})
        if len(clauses) == 1:
            where = clauses[0]
        elif clauses:
            where = {"$and": clauses}
        mask = self.store.mask(kind, area)
        dense = self.store.dense(query_vec, self.candidates, where)
        by_sentence = self.store.dense_sentences(query_vec, self.candidates * 3, where)
        sparse = self.store.sparse(query, self.candidates, mask)
        rankings = [dense, by_sentence, sparse]
        for text, vec in also:
            rankings += [self.store.dense_sentences(vec, self.candidates * 3, where),
                         self.store.sparse(text, self.candidates, mask)]
        fused: dict[str, float] = {}
        for results in rankings:
            for rank, (cid, _) in enumerate(results):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        if prefer_docs:
            # A question naming an inspected area should lead with that area's document.
            bonus = 2.0 / (self.rrf_k + 1)
            for cid in list(fused):
                if self.store.chunk(cid).doc_id in prefer_docs:
                    fused[cid] += bonus
        dense_sim = dict(dense)
        for cid, sim in by_sentence:
            dense_sim[cid] = max(dense_sim.get(cid, sim), sim)
        sparse = [pair for results in rankings[2::2] for pair in results]
        sparse_score = dict(sparse)
        ranked = []
        seen: set[str] = set()
        for cid, score in sorted(fused.items(), key=lambda kv: -kv[1]):
            # The same passage word for word in several documents (a council republishing national guidance) is
            # one hit, the best-ranked copy: k copies of one passage would crowd out the rest of the answer.
            text = self.store.chunk(cid).text
            if text in seen:
                continue
            seen.add(text)
            ranked.append((cid, score))
            if len(ranked) == k:
                break
        missing = [cid for cid, _ in ranked if cid not in dense_sim]
        if missing:
            # BM25-only hits still need a similarity for the confidence check (only the ones returned).
            for cid, vec in self.store.chunk_vectors(missing).items():
                dense_sim[cid] = float(vec @ query_vec)
        return [
            Hit(self.store.chunk(cid), score, dense_sim.get(cid, 0.0), sparse_score.get(cid, 0.0), rank)
            for rank, (cid, score) in enumerate(ranked)
        ]

