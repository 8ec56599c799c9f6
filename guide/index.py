"""The search index: Chroma (dense vectors of chunks and of their sentences) plus a BM25 index beside it.

Layout of the index folder (GUIDE_INDEX_DIR, default data/index):

    current -> builds/<build id>     symlink, swapped atomically when a build is complete
    builds/<build id>/manifest.json  embedding model, dimension, counts, collection names
    builds/<build id>/chunks.json    every chunk with its metadata and sentences
    builds/<build id>/bm25/          the bm25s index
    builds/<build id>/chroma/        the embedded Chroma store (absent when a Chroma server is used)

A rebuild copies the previous build aside, re-embeds only new or changed chunks, deletes removed ones, and only
then swaps `current`; a failed build leaves the previous one serving.

With a Chroma server (GUIDE_CHROMA_URL) each build writes new collections `<collection>-<build id>` and
`<collection>-<build id>-sentences`, and the server itself says which build is live: the metadata of the small
collection `<collection>-current` holds the build id and its manifest, replaced in one call once the build is
complete. Every chunk's record on the server carries what is needed to rebuild chunks.json and the BM25 index, so
a worker with only GUIDE_CHROMA_URL opens the live build by rebuilding those local files under builds/<build id>
(once per machine and build; they are reused when present).
"""

from __future__ import annotations

import calendar
import json
import logging
import math
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from .chunking import CHUNK_FORMAT_VERSION, Chunk

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1
_STEMMER = None
_STEMMER_LOCK = threading.Lock()
POINTER_SUFFIX = "-current"
_BUILD_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")
# A build's leftovers (a failed or abandoned build) are removed once they are this old; younger ones may belong to a
# build still running elsewhere.
STALE_SECONDS = 3600
# Below this share of matching chunks a kind/area filter is left to Chroma; above it, over-fetching without the
# filter and filtering here is much cheaper (Chroma's metadata pre-filter costs more than the vector search).
_POST_FILTER_MIN_SHARE = 0.25


class IndexError_(RuntimeError):
    """Base class for index problems (named to avoid shadowing the built-in IndexError)."""


class IndexMissingError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    pass


class CachedStemmer:
    """The Snowball stemmer with a memo per word, safe to share between threads.

    Stemming is pure Python and was a third of an answer's time (every sentence of the top passages is stemmed on
    every question); the vocabulary is small, so a memo makes it a dictionary look-up. Snowball stemmer objects keep
    state while they work, so the stemmer itself is only ever called under a lock.
    """

    MAX_WORDS = 500_000

    def __init__(self, stemmer):
        self._stemmer = stemmer
        self._memo: dict[str, str] = {}
        self._lock = threading.Lock()

    def stemWord(self, word: str) -> str:  # noqa: N802 - snowballstemmer's interface
        stem = self._memo.get(word)
        if stem is None:
            with self._lock:
                stem = self._stemmer.stemWord(word)
                if len(self._memo) >= self.MAX_WORDS:
                    self._memo = {}
                self._memo[word] = stem
        return stem

    def stemWords(self, words) -> list[str]:  # noqa: N802
        memo = self._memo
        return [memo.get(w) or self.stemWord(w) for w in words]

    def __call__(self, word: str) -> str:
        return self.stemWord(word)


def _stemmer() -> CachedStemmer:
    global _STEMMER
    if _STEMMER is None:
        with _STEMMER_LOCK:
            if _STEMMER is None:
                import snowballstemmer

                _STEMMER = CachedStemmer(snowballstemmer.stemmer("english"))
    return _STEMMER


def bm25_tokenize(texts: list[str]):
    import bm25s

    # Keep one-character tokens: "6 weeks" must keep its 6.
    return bm25s.tokenize(
        texts, token_pattern=r"(?u)\b\w+\b", stopwords="en", stemmer=_stemmer(), show_progress=False
    )


@dataclass
class BuildReport:
    chunks: int = 0
    embedded_chunks: int = 0
    embedded_sentences: int = 0
    removed_chunks: int = 0
    reused_chunks: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    build_dir: str = ""
    unchanged: bool = False
    timings: dict = field(default_factory=dict)


def make_chroma_client(path: Path | None, url: str = ""):
    """Embedded persistent Chroma by default; an HTTP client when a server URL is configured."""
    import chromadb

    settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
    if url:
        parsed = urlparse(url)
        return chromadb.HttpClient(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=settings,
        )
    assert path is not None
    return chromadb.PersistentClient(path=str(path), settings=settings)


def _chunk_metadata(chunk: Chunk, with_sentences: bool = False) -> dict:
    meta = {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "kind": chunk.kind,
        "area": chunk.area,
        "heading": chunk.heading,
        "urls": " ".join(chunk.urls),
        "position": chunk.position,
        "n_sentences": len(chunk.sentences),
    }
    if with_sentences:
        # Server mode: the record alone rebuilds the chunk on a machine that has no build folder.
        meta["sentences"] = json.dumps(list(chunk.sentences), ensure_ascii=False)
    return meta


def _chunk_from_record(chunk_id: str, text: str, meta: dict) -> Chunk:
    return Chunk(
        id=chunk_id, doc_id=meta["doc_id"], title=meta["title"], kind=meta["kind"], area=meta["area"],
        heading=meta["heading"], urls=tuple(meta["urls"].split()), text=text,
        sentences=tuple(json.loads(meta["sentences"])), position=int(meta["position"]),
    )


def _sentence_id(chunk_id: str, i: int) -> str:
    return f"{chunk_id}#h" if i < 0 else f"{chunk_id}#{i}"


def _sentence_ids(chunk_id: str, n: int, heading: bool = False) -> list[str]:
    return [_sentence_id(chunk_id, i) for i in range(-1 if heading else 0, n)]


def _simple_where(where: dict | None) -> tuple[tuple[str, str], ...] | None:
    """The (field, value) pairs of a kind/area filter, or None when the filter has another shape."""
    if not where:
        return ()
    clauses = where["$and"] if set(where) == {"$and"} else [where]
    pairs = []
    for clause in clauses:
        if len(clause) != 1:
            return None
        ((key, value),) = clause.items()
        if key not in ("kind", "area") or not isinstance(value, str):
            return None
        pairs.append((key, value))
    return tuple(pairs)


class IndexStore:
    """An opened, read-only build: chunk records, the BM25 index and the Chroma collections."""

    def __init__(self, build_dir: Path, manifest: dict, chunks: list[Chunk], bm25, client):
        self.build_dir = build_dir
        self.manifest = manifest
        self.chunks = chunks
        self.by_id = {c.id: i for i, c in enumerate(chunks)}
        self.bm25 = bm25
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
        kinds = np.array([c.kind for c in chunks])
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
            manifest_path = current / "manifest.json"
            if not manifest_path.exists():
                raise IndexMissingError(f"no search index at {index_path}; build it with `guide index`")
            manifest = json.loads(manifest_path.read_text())
            check_compatible(manifest, model_name, dimension, index_path)
            if manifest.get("chroma_url"):
                raise IndexMismatchError(
                    f"the index at {index_path} was built for a Chroma server, but GUIDE_CHROMA_URL is not set; "
                    "set it, or run `guide index --rebuild` to build an embedded index"
                )
            build_dir = current.resolve()
        chunks = load_chunks(build_dir)
        import bm25s

        bm25 = bm25s.BM25.load(str(build_dir / "bm25"), load_corpus=False, mmap=False)
        if client is None:
            client = make_chroma_client(build_dir / "chroma", chroma_url)
        return cls(build_dir, manifest, chunks, bm25, client)

    @property
    def build_id(self) -> str:
        return self.manifest.get("build_id", "")

    # --- reads -------------------------------------------------------------------------------------------
    def mask(self, kind: str | None = None, area: str | None = None) -> np.ndarray | None:
        """A 0/1 weight per chunk for BM25: the chunks of this kind and area (None means all)."""
        if not kind and not area:
            return None
        key = (kind, area)
        if key not in self._masks:
            mask = np.ones(len(self.chunks), dtype=np.float32)
            if kind:
                mask *= self.kind_masks.get(kind, np.zeros(len(self.chunks), dtype=np.float32))
            if area:
                mask *= np.array([c.area == area for c in self.chunks], dtype=np.float32)
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
            mask = self.mask(fields.get("kind"), fields.get("area"))
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
        k = min(n, len(self.chunks))
        docs, scores = self.bm25.retrieve([words], k=k, show_progress=False, weight_mask=mask, n_threads=1)
        return [(self.chunks[int(i)].id, float(s)) for i, s in zip(docs[0], scores[0], strict=True) if s > 0]

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

    def close(self) -> None:
        """Release an embedded store's files (a server client holds nothing to release)."""
        if not self.manifest.get("chroma_url"):
            _release_client(self.client)


def _chunk_of_sentence(sentence_id: str) -> str:
    return sentence_id.rsplit("#", 1)[0]


def load_chunks(build_dir: Path) -> list[Chunk]:
    raw = json.loads((Path(build_dir) / "chunks.json").read_text())
    return [Chunk(**{**r, "urls": tuple(r["urls"]), "sentences": tuple(r["sentences"])}) for r in raw]


def check_compatible(manifest: dict, model_name: str, dimension: int, index_path: Path | str) -> None:
    if manifest.get("manifest_version") != MANIFEST_VERSION or manifest.get("chunk_format") != CHUNK_FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index at {index_path} was built by another version of the guide; run `guide index --rebuild`"
        )
    if manifest.get("embedding_model") != model_name or int(manifest.get("dimension", -1)) != dimension:
        raise IndexMismatchError(
            f"the index at {index_path} was built with embedding model {manifest.get('embedding_model')!r} "
            f"(dimension {manifest.get('dimension')}), but the configured model is {model_name!r} "
            f"(dimension {dimension}); run `guide index --rebuild` to rebuild it with the configured model"
        )


# --- the live build on a Chroma server ------------------------------------------------------------------------
def pointer_name(collection: str) -> str:
    return f"{collection}{POINTER_SUFFIX}"


def read_server_manifest(client, collection: str) -> dict | None:
    """The manifest of the build the server's pointer names, or None when the server holds no build."""
    from chromadb.errors import NotFoundError

    try:
        pointer = client.get_collection(pointer_name(collection), embedding_function=None)
    except (NotFoundError, ValueError):
        return None
    meta = pointer.metadata or {}
    return json.loads(meta["manifest"]) if "manifest" in meta else None


def write_server_manifest(client, collection: str, manifest: dict) -> None:
    """Point every process at this build: one metadata write, so readers see the old build or the new."""
    record = {k: v for k, v in manifest.items() if k not in ("chunk_ids", "documents")}
    pointer = client.get_or_create_collection(pointer_name(collection), embedding_function=None)
    pointer.modify(metadata={"build_id": manifest["build_id"], "manifest": json.dumps(record)})


def materialise_server_build(index_path: Path, client, manifest: dict) -> Path:
    """The local files of a server build (chunks.json, BM25, manifest), rebuilt from its chunk collection.

    Reused when this machine already has them (the machine that built it, or an earlier start). Written aside and
    renamed into place, so a process never reads half of them; two processes racing both end with the same files.
    """
    builds = Path(index_path) / "builds"
    build_dir = builds / manifest["build_id"]
    if (build_dir / "manifest.json").exists():
        return build_dir
    builds.mkdir(parents=True, exist_ok=True)
    tmp = builds / f".tmp-{manifest['build_id']}-{uuid.uuid4().hex[:6]}"
    tmp.mkdir()
    try:
        start = time.perf_counter()
        col = client.get_collection(manifest["collection"], embedding_function=None)
        page = max(100, min(5000, int(client.get_max_batch_size())))
        chunks: list[Chunk] = []
        while True:
            got = col.get(include=["documents", "metadatas"], limit=page, offset=len(chunks))
            chunks += [_chunk_from_record(*rec) for rec in zip(got["ids"], got["documents"], got["metadatas"],
                                                                strict=True)]
            if len(got["ids"]) < page:
                break
        if "chunks" in manifest and len(chunks) != manifest["chunks"]:
            raise IndexError_(f"build {manifest['build_id']} on the Chroma server has {len(chunks)} chunks, "
                              f"its manifest says {manifest['chunks']}")
        chunks.sort(key=lambda c: (c.doc_id, c.position))
        write_local_files(tmp, chunks, {**manifest, "materialised": True})
        try:
            os.replace(tmp, build_dir)
        except OSError:
            if not (build_dir / "manifest.json").exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process on this machine finished first
        log.info("rebuilt the local files of server build %s (%d chunks) in %.1f s", manifest["build_id"],
                 len(chunks), time.perf_counter() - start)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return build_dir


def write_local_files(folder: Path, chunks: list[Chunk], manifest: dict) -> dict:
    """chunks.json, the BM25 index and manifest.json (with the chunk ids and documents) into `folder`."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its logger to DEBUG when imported
    bm25 = bm25s.BM25()
    bm25.index(bm25_tokenize([c.embed_text for c in chunks]), show_progress=False)
    bm25.save(str(folder / "bm25"))
    (folder / "chunks.json").write_text(json.dumps([_chunk_record(c) for c in chunks], ensure_ascii=False))
    manifest = {**manifest, "chunks": len(chunks), "chunk_ids": [c.id for c in chunks],
                "documents": sorted({c.doc_id for c in chunks})}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def prune_local_server_builds(index_path: Path, keep: set[str]) -> None:
    """Server mode: remove local files of builds other than `keep` (they are only caches of the server's)."""
    builds = Path(index_path) / "builds"
    if not builds.is_dir():
        return
    for path in builds.iterdir():
        if path.name in keep or path.name.startswith(".tmp-"):
            continue
        manifest = path / "manifest.json"
        try:
            if json.loads(manifest.read_text()).get("chroma_url"):
                shutil.rmtree(path, ignore_errors=True)
        except (OSError, ValueError):
            continue


def _build_age(build_id: str) -> float:
    try:
        return time.time() - calendar.timegm(time.strptime(build_id[:15], "%Y%m%d-%H%M%S"))
    except ValueError:
        return 0.0


class IndexBuilder:
    """Builds a new index aside from the current one, reusing every unchanged chunk's vectors."""

    def __init__(self, index_path: Path, embedder, collection: str = "send_guide", chroma_url: str = ""):
        self.index_path = Path(index_path)
        self.embedder = embedder
        self.collection = collection
        self.chroma_url = chroma_url
        self._client = None
        self._prev_dir: Path | None = None

    @property
    def client(self):
        """Server mode: one HTTP client for the whole build."""
        if self._client is None:
            self._client = make_chroma_client(None, self.chroma_url)
        return self._client

    def build(self, chunks: list[Chunk], rebuild: bool = False, extra_manifest: dict | None = None) -> BuildReport:
        start = time.perf_counter()
        report = BuildReport(chunks=len(chunks))
        ids = [c.id for c in chunks]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise IndexError_(f"duplicate chunk ids (the same passage twice in one document?): {dupes[:3]}")
        self.index_path.mkdir(parents=True, exist_ok=True)
        previous = self._previous_manifest(rebuild)
        extra_manifest = extra_manifest or {}
        # Order does not matter (BM25 is rebuilt from the chunk list); a server build read back on another machine
        # lists its chunks in another order.
        if (previous and set(previous["chunk_ids"]) == set(ids) and not rebuild
                and all(previous.get(k) == v for k, v in extra_manifest.items())):
            report.unchanged = True
            report.reused_chunks = len(ids)
            report.build_dir = str(self._prev_dir)
            report.seconds = time.perf_counter() - start
            return report

        # UTC, so build ages compare across machines in server mode.
        build_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
        builds = self.index_path / "builds"
        build_dir = builds / build_id
        tmp_dir = builds / f".tmp-{build_id}"
        tmp_dir.mkdir(parents=True)
        moved = False
        try:
            manifest = self._write_build(chunks, previous, build_id, tmp_dir, report, extra_manifest)
            os.replace(tmp_dir, build_dir)
            moved = True
            if self.chroma_url:
                t = time.perf_counter()
                write_server_manifest(self.client, self.collection, manifest)
                report.timings["publish"] = time.perf_counter() - t
        except BaseException:
            shutil.rmtree(build_dir if moved else tmp_dir, ignore_errors=True)
            if self.chroma_url:
                self._drop_collections(build_id)
            raise
        self._swap(build_dir)
        self._prune(keep={build_id, previous.get("build_id", "") if previous else ""})
        report.build_dir = str(build_dir)
        report.seconds = time.perf_counter() - start
        return report

    # --- steps ---------------------------------------------------------------------------------------------
    def _previous_manifest(self, rebuild: bool) -> dict | None:
        self._prev_dir = None
        if rebuild:
            return None
        if self.chroma_url:
            # The server says what is live, whichever machine built it.
            manifest = read_server_manifest(self.client, self.collection)
            if manifest is None:
                return None
            check_compatible(manifest, self.embedder.name, self.embedder.dimension, self.chroma_url)
            self._prev_dir = materialise_server_build(self.index_path, self.client, manifest)
            return json.loads((self._prev_dir / "manifest.json").read_text())
        manifest_path = IndexStore.current_dir(self.index_path) / "manifest.json"
        if not manifest_path.exists():
            return None
        manifest = json.loads(manifest_path.read_text())
        check_compatible(manifest, self.embedder.name, self.embedder.dimension, self.index_path)
        if manifest.get("chroma_url"):
            return None  # a server build: the embedded store starts afresh
        self._prev_dir = IndexStore.current_dir(self.index_path).resolve()
        return manifest

    def _names(self, build_id: str) -> tuple[str, str]:
        if self.chroma_url:
            return f"{self.collection}-{build_id}", f"{self.collection}-{build_id}-sentences"
        return self.collection, f"{self.collection}-sentences"

    def _write_build(self, chunks, previous, build_id, tmp_dir: Path, report: BuildReport, extra: dict) -> dict:
        t = time.perf_counter()
        name, sentence_name = self._names(build_id)
        prev_ids: set[str] = set(previous["chunk_ids"]) if previous else set()
        prev_dir = self._prev_dir if previous else None
        current_ids = {c.id for c in chunks}
        report.removed_chunks = len(prev_ids - current_ids)
        if self.chroma_url:
            client = self.client
            col = client.create_collection(name, embedding_function=None, metadata={"hnsw:space": "cosine"})
            sent_col = client.create_collection(
                sentence_name, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
            if previous:
                keep = prev_ids & current_ids
                self._copy_collections(client, previous, col, sent_col, keep)
                prev_ids = keep
        else:
            if prev_dir is not None and (prev_dir / "chroma").exists():
                shutil.copytree(prev_dir / "chroma", tmp_dir / "chroma")
            client = make_chroma_client(tmp_dir / "chroma")
            col = client.get_or_create_collection(name, embedding_function=None, metadata={"hnsw:space": "cosine"})
            sent_col = client.get_or_create_collection(
                sentence_name, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
        report.timings["copy"] = time.perf_counter() - t

        removed = sorted(prev_ids - current_ids)
        if removed and not self.chroma_url:
            prev_chunks = {c.id: len(c.sentences) for c in load_chunks(prev_dir)}
            for batch in _batches(removed, 500):
                col.delete(ids=batch)
                sent_ids = [s for cid in batch for s in _sentence_ids(cid, prev_chunks.get(cid, 0), heading=True)]
                if sent_ids:
                    sent_col.delete(ids=sent_ids)

        new_chunks = [c for c in chunks if c.id not in prev_ids]
        report.reused_chunks = len(chunks) - len(new_chunks)
        t = time.perf_counter()
        self._embed_and_add(new_chunks, col, sent_col, report)
        report.embed_seconds = time.perf_counter() - t

        t = time.perf_counter()
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "chunk_format": CHUNK_FORMAT_VERSION,
            "build_id": build_id,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedding_model": self.embedder.name,
            "embedding_weights_sha256": self.embedder.weights_sha256,
            "dimension": self.embedder.dimension,
            "collection": name,
            "sentence_collection": sentence_name,
            "chroma_url": self.chroma_url,
            **extra,
        }
        manifest = write_local_files(tmp_dir, chunks, manifest)
        report.timings["bm25"] = time.perf_counter() - t
        # Chroma keeps files open through a process-wide client cache; drop ours before the folder moves.
        del col, sent_col
        if not self.chroma_url:
            _release_client(client)
        return manifest

    def _embed_and_add(self, new_chunks: list[Chunk], col, sent_col, report: BuildReport) -> None:
        if not new_chunks:
            return
        # Each chunk's heading (a parent's question) is embedded beside its sentences: a question finds the
        # section whose heading asks it, even when the passage's own words differ.
        sentences = [(c, i, s) for c in new_chunks for i, s in enumerate(c.sentences)]
        sentences += [(c, -1, c.heading or c.title) for c in new_chunks]
        texts = [c.embed_text for c in new_chunks] + [s for _, _, s in sentences]
        # Longest first, so batches are padded to similar lengths; embedded and written in blocks, so memory
        # stays bounded however large the build. (Writing on a second thread while the next block is embedded
        # gained nothing measurable on 2 cores: the model keeps both busy.)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        server = bool(self.chroma_url)
        n_chunks = len(new_chunks)
        stored = [0.0]

        def store(block: list[int], vectors: np.ndarray) -> None:
            t = time.perf_counter()
            rows = dict(zip(block, vectors, strict=True))
            chunk_idx = [i for i in block if i < n_chunks]
            sent_idx = [i for i in block if i >= n_chunks]
            for batch in _batches(chunk_idx, 1000):
                col.add(
                    ids=[new_chunks[i].id for i in batch],
                    embeddings=np.stack([rows[i] for i in batch]),
                    documents=[new_chunks[i].text for i in batch],
                    metadatas=[_chunk_metadata(new_chunks[i], with_sentences=server) for i in batch],
                )
            for batch in _batches(sent_idx, 2000):
                picked = [sentences[i - n_chunks] for i in batch]
                # Vectors and the two filter fields only: the texts live in the chunk records, and Chroma's
                # full-text index of documents doubled the cost of writing a sentence.
                sent_col.add(
                    ids=[_sentence_id(c.id, i) for c, i, _ in picked],
                    embeddings=np.stack([rows[i] for i in batch]),
                    metadatas=[{"kind": c.kind, "area": c.area} for c, _, _ in picked],
                )
            stored[0] += time.perf_counter() - t

        for block in _batches(order, 2048):
            store(block, self.embedder.embed([texts[i] for i in block]))
        report.timings["store"] = stored[0]
        report.embedded_chunks = len(new_chunks)
        report.embedded_sentences = len(sentences)

    def _copy_collections(self, client, previous: dict, col, sent_col, keep: set[str]) -> None:
        """Server mode: copy the kept vectors from the previous build's collections into the new ones."""
        old = client.get_collection(previous["collection"], embedding_function=None)
        old_sent = client.get_collection(previous["sentence_collection"], embedding_function=None)
        sentence_counts = {c.id: len(c.sentences) for c in load_chunks(self._prev_dir)}
        for batch in _batches(sorted(keep), 200):  # ~8 sentence records a chunk: under Chroma's batch limit
            got = old.get(ids=batch, include=["embeddings", "documents", "metadatas"])
            col.add(ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"],
                    metadatas=got["metadatas"])
            ids = [s for cid in batch for s in _sentence_ids(cid, sentence_counts[cid], heading=True)]
            got_s = old_sent.get(ids=ids, include=["embeddings", "metadatas"])
            if got_s["ids"]:
                sent_col.add(ids=got_s["ids"], embeddings=got_s["embeddings"], metadatas=got_s["metadatas"])

    def _drop_collections(self, build_id: str) -> None:
        for name in self._names(build_id):
            try:
                self.client.delete_collection(name)
            except Exception:  # noqa: BLE001 - best effort clean-up after a failed build
                pass

    def _swap(self, build_dir: Path) -> None:
        current = IndexStore.current_dir(self.index_path)
        link = self.index_path / f".current-{uuid.uuid4().hex[:6]}"
        os.symlink(Path("builds") / build_dir.name, link)
        os.replace(link, current)  # atomic on POSIX: readers see the old build or the new, never half

    def _prune(self, keep: set[str]) -> None:
        builds = self.index_path / "builds"
        for path in builds.iterdir():
            if path.name in keep:
                continue
            if path.name.startswith(".tmp-"):
                # Another build may be running; only remove stale leftovers.
                if time.time() - path.stat().st_mtime < STALE_SECONDS:
                    continue
            shutil.rmtree(path, ignore_errors=True)
        if self.chroma_url:
            self._prune_server(keep)

    def _prune_server(self, keep: set[str]) -> None:
        """Delete the server collections of builds before the previous one, whichever machine made them; a
        build younger than STALE_SECONDS that never went live may still be running elsewhere, so it stays."""
        prefix = f"{self.collection}-"
        live = {b for b in keep if b}
        for col in self.client.list_collections():
            name = getattr(col, "name", col)
            if not name.startswith(prefix):
                continue
            build_id = name[len(prefix):].removesuffix("-sentences")
            if not _BUILD_ID.fullmatch(build_id) or build_id in live:
                continue
            # Build ids sort by time: anything older than the live builds is superseded.
            if build_id < min(live) or _build_age(build_id) > STALE_SECONDS:
                try:
                    self.client.delete_collection(name)
                except Exception:  # noqa: BLE001 - another builder may have removed it already
                    pass


def _chunk_record(chunk: Chunk) -> dict:
    record = asdict(chunk)
    record["urls"] = list(chunk.urls)
    record["sentences"] = list(chunk.sentences)
    return record


def _batches(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _release_client(client) -> None:
    """Stop the embedded Chroma system behind one client so its files are flushed and closed."""
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(client._identifier, None)
    SharedSystemClient._identifier_to_refcount.pop(client._identifier, None)
    if system is not None:
        system.stop()
