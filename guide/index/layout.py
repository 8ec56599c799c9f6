"""The index on disk and on a Chroma server: its folder layout, manifests, records and BM25 tokens.

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
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from ..knowledge.chunking import CHUNK_FORMAT_VERSION, Chunk

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
    meta["section"] = chunk.section
    if with_sentences:
        # Server mode: the record alone rebuilds the chunk on a machine that has no build folder.
        meta["sentences"] = json.dumps(list(chunk.sentences), ensure_ascii=False)
        meta["phrasings"] = json.dumps(list(chunk.phrasings), ensure_ascii=False)
    return meta


def _chunk_from_record(chunk_id: str, text: str, meta: dict) -> Chunk:
    return Chunk(
        id=chunk_id, doc_id=meta["doc_id"], title=meta["title"], kind=meta["kind"], area=meta["area"],
        heading=meta["heading"], urls=tuple(meta["urls"].split()), text=text,
        sentences=tuple(json.loads(meta["sentences"])), position=int(meta["position"]),
        phrasings=tuple(json.loads(meta.get("phrasings", "[]"))), section=meta.get("section", ""),
    )


def question_id(record: tuple[str, str, str, str]) -> str:
    """A question record's id on a Chroma server: its section and a hash of its text."""
    return f"{record[0]}#{hashlib.sha256(record[3].encode()).hexdigest()[:16]}"


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


def _chunk_of_sentence(sentence_id: str) -> str:
    return sentence_id.rsplit("#", 1)[0]


def load_chunks(build_dir: Path) -> list[Chunk]:
    raw = json.loads((Path(build_dir) / "chunks.json").read_text())
    return [Chunk(**{**r, "urls": tuple(r["urls"]), "sentences": tuple(r["sentences"]),
                     "phrasings": tuple(r.get("phrasings", ()))}) for r in raw]


QUESTIONS_FILE = "questions.npz"


def question_records(chunks: list[Chunk]) -> list[tuple[str, str, str, str]]:
    """(section, kind, area, text) for every way into a section: its heading and each parents' phrasing.

    One set per section, however many documents repeat it (a council republishing national guidance), so copies
    never crowd the question search."""
    records: list[tuple[str, str, str, str]] = []
    seen: set[str] = set()
    for chunk in chunks:
        if not chunk.section or chunk.section in seen:
            continue
        seen.add(chunk.section)
        for text in dict.fromkeys((chunk.heading or chunk.title, *chunk.phrasings)):
            records.append((chunk.section, chunk.kind, chunk.area, text))
    return records


def write_questions(folder: Path, records: list[tuple[str, str, str, str]], vectors: np.ndarray) -> None:
    sections, kinds, areas, texts = (list(x) for x in zip(*records, strict=True)) if records else ([], [], [], [])
    np.savez(folder / QUESTIONS_FILE, vectors=np.asarray(vectors, dtype=np.float32).reshape(len(records), -1),
             sections=np.array(sections, dtype=str), kinds=np.array(kinds, dtype=str),
             areas=np.array(areas, dtype=str), texts=np.array(texts, dtype=str))


def load_questions(folder: Path) -> dict[str, np.ndarray] | None:
    path = Path(folder) / QUESTIONS_FILE
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


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
        if manifest.get("question_collection"):
            questions = client.get_collection(manifest["question_collection"], embedding_function=None)
            got = questions.get(include=["embeddings"])
            vectors = dict(zip(got["ids"], got["embeddings"], strict=True))
            records = question_records(chunks)
            write_questions(tmp, records, np.stack([vectors[question_id(r)] for r in records]) if records
                            else np.zeros((0, int(manifest["dimension"]))))
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
    # One BM25 row per distinct passage of a section (the first chunk holding it stands for the rest): a passage
    # republished in many documents is one match, not many that push every other passage out of the candidates.
    rows: dict[tuple[str, str], int] = {}
    for i, chunk in enumerate(chunks):
        rows.setdefault((chunk.section, chunk.text), i)
    bm25 = bm25s.BM25()
    bm25.index(bm25_tokenize([chunks[i].search_text for i in rows.values()]), show_progress=False)
    bm25.save(str(folder / "bm25"))
    (folder / "bm25_rows.json").write_text(json.dumps(list(rows.values())))
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


def _chunk_record(chunk: Chunk) -> dict:
    record = asdict(chunk)
    record["urls"] = list(chunk.urls)
    record["sentences"] = list(chunk.sentences)
    return record


def _batches(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _release_client(client) -> None:
    """Release one client of an embedded Chroma store; the last one out stops it, so its files are closed."""
    from chromadb.api.shared_system_client import SharedSystemClient

    # Counted: another client on the same files (a live store, while a build checks that build) keeps them open.
    SharedSystemClient._release_system(client._identifier)
