"""The live index a guide queries: dense (Chroma) and BM25 search over one build."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from ..knowledge.chunking import Chunk
from .layout import (
    _POST_FILTER_MIN_SHARE,
    IndexError_,
    IndexMismatchError,
    IndexMissingError,
    _chunk_of_sentence,
    _release_client,
    _sentence_id,
    _sentence_ids,
    _simple_where,
    bm25_tokenize,
    check_compatible,
    load_chunks,
    load_questions,
    make_chroma_client,
    materialise_server_build,
    read_server_manifest,
)

log = logging.getLogger(__name__)


class IndexDamagedError(IndexError_):
    """A build's files are unreadable (corrupt, truncated, missing)."""

    def __init__(self, index_path: Path, build_dir: Path, cause: BaseException):
        detail = str(cause).splitlines()[0][:160] if str(cause) else type(cause).__name__
        super().__init__(f"the search index build {build_dir.name} at {index_path} is damaged ({detail}); "
                         "run `guide index --rebuild` to repair it")


class IndexStore:
    """An opened, read-only build: chunk records, the BM25 index and the Chroma collections."""

    def __init__(self, build_dir: Path, manifest: dict, chunks: list[Chunk], bm25, client,
                 bm25_rows: list[int] | None = None, questions: dict | None = None):
        self.build_dir = build_dir
        self.manifest = manifest
        self.chunks = chunks
        self.by_id = {c.id: i for i, c in enumerate(chunks)}
        self.bm25 = bm25
        # BM25 row -> the chunk it stands for (one row per distinct text).
        self.bm25_rows = np.asarray(bm25_rows if bm25_rows is not None else range(len(chunks)), dtype=np.int64)
        # Section -> its chunks, in order; the first document to hold a section represents it.
        self.sections: dict[str, list[int]] = {}
        self._by_heading: dict[tuple[str, str], list[Chunk]] | None = None  # built on first use
        for i, c in enumerate(chunks):
            self.sections.setdefault(c.section or c.id, []).append(i)
        dim = int(manifest.get("dimension", 0)) or 1
        q = questions or {}
        self.question_vectors = np.asarray(q.get("vectors", np.zeros((0, dim))), dtype=np.float32)
        self.question_sections = np.asarray(q.get("sections", np.zeros(0, dtype=str)))
        self.question_texts = np.asarray(q.get("texts", np.zeros(0, dtype=str)))
        self.question_kinds = np.asarray(q.get("kinds", np.zeros(0, dtype=str)))
        self.client = client
        self.collection = client.get_collection(manifest["collection"], embedding_function=None)
        self.sentences = client.get_collection(manifest["sentence_collection"], embedding_function=None)
        self.n_sentences = sum(len(c.sentences) + 1 for c in chunks)  # + the heading's vector
        # Document frequency per (stemmed) term, read off the BM25 matrix: rare words matter more.
        indptr = np.asarray(bm25.scores["indptr"])
        n_docs = max(1, int(bm25.scores["num_docs"]))
        df = np.diff(indptr)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        self.idf = {term: float(idf[i]) for term, i in bm25.vocab_dict.items() if i < len(idf)}
        self.default_idf = float(np.log(1.0 + (n_docs + 0.5) / 0.5))
        kinds = np.array([chunks[i].kind for i in self.bm25_rows]) if len(chunks) else np.zeros(0, dtype=str)
        self.kind_masks = {kind: (kinds == kind).astype(np.float32) for kind in set(kinds.tolist())}
        self._masks: dict[tuple, np.ndarray] = {}

    @staticmethod
    def current_dir(index_path: Path) -> Path:
        return Path(index_path) / "current"

    @classmethod
    def open(cls, index_path: Path, model_name: str, dimension: int, chroma_url: str = "", client=None,
             collection: str = "send_guide") -> IndexStore:
        """Open the live build: the local `current` one, or with `chroma_url` the one the server names."""
        index_path = Path(index_path)
        if chroma_url:
            if client is None:
                client = make_chroma_client(None, chroma_url)
            manifest = read_server_manifest(client, collection)
            if manifest is None:
                raise IndexMissingError(
                    f"no search index for collection {collection!r} on the Chroma server at {chroma_url}; "
                    "build it with `guide index`"
                )
            check_compatible(manifest, model_name, dimension, chroma_url)
            build_dir = materialise_server_build(index_path, client, manifest)
            manifest = json.loads((build_dir / "manifest.json").read_text())
        else:
            current = cls.current_dir(index_path)
            if not (current / "manifest.json").exists():
                raise IndexMissingError(f"no search index at {index_path}; build it with `guide index`")
            try:
                return cls.open_local_build(current.resolve(), index_path, model_name, dimension)
            except IndexDamagedError as exc:
                damage = exc
            # Serve the newest earlier build that is intact rather than nothing, and say so.
            for build_dir in sorted((index_path / "builds").glob("[0-9]*"), reverse=True):
                if build_dir == current.resolve() or not (build_dir / "manifest.json").exists():
                    continue
                try:
                    store = cls.open_local_build(build_dir, index_path, model_name, dimension)
                except IndexError_:
                    continue
                log.warning("%s; serving the earlier build %s until it is repaired", damage, build_dir.name)
                return store
            raise damage
        if client is None:
            client = make_chroma_client(build_dir / "chroma", chroma_url)
        return cls._load(build_dir, manifest, client)

    @classmethod
    def _load(cls, build_dir: Path, manifest: dict, client) -> IndexStore:
        """The build's local files (chunks, BM25 and its rows, the sections' question vectors) around `client`."""
        import bm25s

        chunks = load_chunks(build_dir)
        bm25 = bm25s.BM25.load(str(build_dir / "bm25"), load_corpus=False, mmap=False)
        rows_path = build_dir / "bm25_rows.json"
        bm25_rows = json.loads(rows_path.read_text()) if rows_path.exists() else None
        return cls(build_dir, manifest, chunks, bm25, client, bm25_rows=bm25_rows, questions=load_questions(build_dir))

    @classmethod
    def open_local_build(cls, build_dir: Path, index_path: Path, model_name: str, dimension: int) -> IndexStore:
        """Open one embedded build and query every part of it; IndexDamagedError when any part is unreadable."""
        try:
            manifest = json.loads((build_dir / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise IndexDamagedError(index_path, build_dir, exc) from exc
        check_compatible(manifest, model_name, dimension, index_path)
        if manifest.get("chroma_url"):
            raise IndexMismatchError(
                f"the index at {index_path} was built for a Chroma server, but GUIDE_CHROMA_URL is not set; "
                "set it, or run `guide index --rebuild` to build an embedded index"
            )
        client = None
        try:
            client = make_chroma_client(build_dir / "chroma")
            store = cls._load(build_dir, manifest, client)
            store.warm()
            if store.collection.count() != len(store.chunks):
                raise ValueError(f"{store.collection.count()} vectors for {len(store.chunks)} passages")
            if len(store.question_vectors) != manifest.get("questions", len(store.question_vectors)):
                raise ValueError(f"{len(store.question_vectors)} question vectors, the manifest says "
                                 f"{manifest['questions']}")
            return store
        except Exception as exc:  # noqa: BLE001 - whatever a damaged file raises (json, numpy, sqlite, Chroma)
            if client is not None:
                _release_client(client)
            raise IndexDamagedError(index_path, build_dir, exc) from exc

    @property
    def build_id(self) -> str:
        return self.manifest.get("build_id", "")

    # --- reads -------------------------------------------------------------------------------------------
    def chunk_mask(self, kind: str | None = None, area: str | None = None) -> np.ndarray | None:
        """A 0/1 flag per chunk: the chunks of this kind and area (None means all)."""
        if not kind and not area:
            return None
        key = ("chunks", kind, area)
        if key not in self._masks:
            self._masks[key] = np.array([(not kind or c.kind == kind) and (not area or c.area == area)
                                         for c in self.chunks], dtype=np.float32)
        return self._masks[key]

    def mask(self, kind: str | None = None, area: str | None = None) -> np.ndarray | None:
        """A 0/1 weight per BM25 row (one per distinct passage) for BM25: rows of this kind and area."""
        if not kind and not area:
            return None
        key = (kind, area)
        if key not in self._masks:
            rows = len(self.bm25_rows)
            mask = np.ones(rows, dtype=np.float32)
            if kind:
                mask *= self.kind_masks.get(kind, np.zeros(rows, dtype=np.float32))
            if area:
                mask *= np.array([self.chunks[i].area == area for i in self.bm25_rows], dtype=np.float32)
            if len(self._masks) > 1000:  # one per area named in questions: bounded anyway, but stay small
                self._masks = {}
            self._masks[key] = mask
        return self._masks[key]

    def _nearest(self, col, vec: np.ndarray, n: int, total: int, where: dict | None,
                 chunk_of) -> list[tuple[str, float]]:
        """The n nearest records (id, cosine distance) that pass `where`."""
        n = min(n, total)
        if n <= 0:
            return []
        pairs = _simple_where(where)
        if pairs:
            fields = dict(pairs)
            mask = self.chunk_mask(fields.get("kind"), fields.get("area"))
            share = float(mask.mean()) if mask is not None and len(mask) else 0.0
            if share == 0.0:
                return []
            if share >= _POST_FILTER_MIN_SHARE:
                # Enough for the usual question; four times more for one whose nearest records are mostly of the
                # other kind (an inspection question searched in guidance), before Chroma's own filter.
                fetch = min(total, math.ceil(n / share * 1.5) + 10)
                for attempt in range(2):
                    if attempt:
                        fetch = min(total, fetch * 4)
                    ids, dists = self._query(col, vec, fetch, None)
                    kept = []
                    for rid, d in zip(ids, dists, strict=True):
                        i = self.by_id.get(chunk_of(rid))
                        if i is not None and mask[i]:
                            kept.append((rid, d))
                    if len(kept) >= n or len(ids) < fetch:
                        return kept[:n]
        ids, dists = self._query(col, vec, n, where or None)
        return list(zip(ids, dists, strict=True))

    @staticmethod
    def _query(col, vec: np.ndarray, n: int, where: dict | None) -> tuple[list[str], list[float]]:
        result = col.query(query_embeddings=[vec.tolist()], n_results=n, where=where, include=["distances"])
        return result["ids"][0], result["distances"][0]

    def dense(self, query_vec: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        found = self._nearest(self.collection, query_vec, n, len(self.chunks), where, lambda rid: rid)
        # Cosine distance -> similarity.
        return [(cid, 1.0 - float(d)) for cid, d in found]

    def dense_sentences(self, query_vec: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Chunks ranked by their best-matching sentence or heading."""
        found = self._nearest(self.sentences, query_vec, n, self.n_sentences, where, _chunk_of_sentence)
        best: dict[str, float] = {}
        for sid, d in found:
            # The chunk id is in the sentence id, so Chroma need not return (and decode) metadata.
            cid = _chunk_of_sentence(sid)
            if cid in self.by_id and cid not in best:
                best[cid] = 1.0 - float(d)
        return list(best.items())

    def sparse(self, query: str, n: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        tokens = bm25_tokenize([query])
        if not tokens.vocab or not any(tokens.ids):
            return []
        # bm25s needs the query tokens in its own vocabulary; unknown words are dropped.
        vocab = self.bm25.vocab_dict
        inverse = {i: w for w, i in tokens.vocab.items()}
        words = [inverse[i] for i in tokens.ids[0] if inverse[i] in vocab]
        if not words:
            return []
        k = min(n, len(self.bm25_rows))
        docs, scores = self.bm25.retrieve([words], k=k, show_progress=False, weight_mask=mask, n_threads=1)
        return [(self.chunks[int(self.bm25_rows[int(i)])].id, float(s))
                for i, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def dense_questions(self, query_vec: np.ndarray, n: int, kind: str | None = None) -> list[tuple[str, float]]:
        """Sections ranked by how like the query their heading or one of their parents' phrasings is.

        A plain matrix product: one vector per distinct question, a few thousand for a national corpus."""
        if not len(self.question_vectors):
            return []
        sims = self.question_vectors @ np.asarray(query_vec, dtype=np.float32)
        if kind:
            sims = np.where(self.question_kinds == kind, sims, -1.0)
        order = np.argsort(-sims)
        best: dict[str, float] = {}
        for i in order:
            if sims[i] <= -1.0 or len(best) >= n:
                break
            best.setdefault(str(self.question_sections[i]), float(sims[i]))
        return list(best.items())

    def section_of(self, chunk_id: str) -> str:
        chunk = self.chunks[self.by_id[chunk_id]]
        return chunk.section or chunk.id

    def section_chunks(self, section: str) -> list[Chunk]:
        return [self.chunks[i] for i in self.sections.get(section, [])]

    def heading_chunks(self, doc_id: str, heading: str) -> list[Chunk]:
        """One document's section by its heading, in order (empty when the index has no such section)."""
        if self._by_heading is None:
            by: dict[tuple[str, str], list[Chunk]] = {}
            for chunk in self.chunks:
                by.setdefault((chunk.doc_id, chunk.heading), []).append(chunk)
            self._by_heading = by
        return list(self._by_heading.get((doc_id, heading), []))


    def chunk_vectors(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        if not chunk_ids:
            return {}
        got = self.collection.get(ids=list(chunk_ids), include=["embeddings"])
        return dict(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32), strict=True))

    def sentence_vectors(self, chunk_ids: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """For each chunk: (its heading's vector, a matrix of its sentences' vectors)."""
        ids: list[str] = []
        for cid in chunk_ids:
            ids.extend(_sentence_ids(cid, len(self.chunks[self.by_id[cid]].sentences), heading=True))
        if not ids:
            return {}
        got = self.sentences.get(ids=ids, include=["embeddings"])
        vectors = dict(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32), strict=True))
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for cid in chunk_ids:
            n = len(self.chunks[self.by_id[cid]].sentences)
            sents = [vectors[s] for s in _sentence_ids(cid, n)]
            matrix = np.stack(sents) if sents else np.zeros((0, self.manifest["dimension"]), dtype=np.float32)
            out[cid] = (vectors[_sentence_id(cid, -1)], matrix)
        return out

    def chunk(self, chunk_id: str) -> Chunk:
        return self.chunks[self.by_id[chunk_id]]

    def warm(self) -> None:
        """Touch every part a question uses. Chroma loads a collection's vector index on its first query (about
        5 s at 100k chunks), so a fresh worker or a freshly swapped build would make its first parent wait."""
        if not self.chunks:
            return
        probe = np.zeros(int(self.manifest["dimension"]), dtype=np.float32)
        probe[0] = 1.0
        self._query(self.collection, probe, 1, None)
        self._query(self.sentences, probe, 1, None)
        self.sentence_vectors([self.chunks[0].id])
        self.sparse(self.chunks[0].heading or self.chunks[0].title, 1)
        self.dense_questions(probe, 1)

    def close(self) -> None:
        """Release an embedded store's files (a server client holds nothing to release)."""
        if not self.manifest.get("chroma_url"):
            _release_client(self.client)


