"""The search index: Chroma (dense vectors of chunks and of their sentences) plus a BM25 index beside it.

Layout of the index folder (GUIDE_INDEX_DIR, default data/index):

    current -> builds/<build id>     symlink, swapped atomically when a build is complete
    builds/<build id>/manifest.json  embedding model, dimension, counts, collection names
    builds/<build id>/chunks.json    every chunk with its metadata and sentences
    builds/<build id>/bm25/          the bm25s index
    builds/<build id>/chroma/        the embedded Chroma store (absent when a Chroma server is used)

A rebuild copies the previous build aside, re-embeds only new or changed chunks, deletes removed ones, and only
then swaps `current`; a failed build leaves the previous one serving.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
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


class IndexError_(RuntimeError):
    """Base class for index problems (named to avoid shadowing the built-in IndexError)."""


class IndexMissingError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    pass


def _stemmer():
    global _STEMMER
    if _STEMMER is None:
        import snowballstemmer

        _STEMMER = snowballstemmer.stemmer("english")
    return _STEMMER


def _bm25s():
    import bm25s

    # bm25s sets its own logger to DEBUG on import; keep its chatter out of the guide's output.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def bm25_tokenize(texts: list[str]):
    bm25s = _bm25s()

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


def _chunk_metadata(chunk: Chunk) -> dict:
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "kind": chunk.kind,
        "area": chunk.area,
        "heading": chunk.heading,
        "urls": " ".join(chunk.urls),
        "position": chunk.position,
        "n_sentences": len(chunk.sentences),
    }


def _sentence_id(chunk_id: str, i: int) -> str:
    return f"{chunk_id}#h" if i < 0 else f"{chunk_id}#{i}"


def _sentence_ids(chunk_id: str, n: int, heading: bool = False) -> list[str]:
    return [_sentence_id(chunk_id, i) for i in range(-1 if heading else 0, n)]


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
        # Document frequency per (stemmed) term, read off the BM25 matrix: rare words matter more.
        indptr = np.asarray(bm25.scores["indptr"])
        n_docs = max(1, int(bm25.scores["num_docs"]))
        df = np.diff(indptr)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        self.idf = {term: float(idf[i]) for term, i in bm25.vocab_dict.items() if i < len(idf)}
        self.default_idf = float(np.log(1.0 + (n_docs + 0.5) / 0.5))
        self.kind_masks = {
            kind: np.array([c.kind == kind for c in chunks], dtype=np.float32) for kind in {c.kind for c in chunks}
        }

    @staticmethod
    def current_dir(index_path: Path) -> Path:
        return Path(index_path) / "current"

    @classmethod
    def open(cls, index_path: Path, model_name: str, dimension: int, chroma_url: str = "", client=None):
        current = cls.current_dir(index_path)
        manifest_path = current / "manifest.json"
        if not manifest_path.exists():
            raise IndexMissingError(f"no search index at {index_path}; build it with `guide index`")
        manifest = json.loads(manifest_path.read_text())
        check_compatible(manifest, model_name, dimension, index_path)
        if bool(manifest.get("chroma_url")) != bool(chroma_url):
            raise IndexMismatchError(
                f"the index at {index_path} was built for "
                f"{'a Chroma server' if manifest.get('chroma_url') else 'the embedded Chroma store'}, but "
                f"GUIDE_CHROMA_URL is {'set' if chroma_url else 'not set'}; run `guide index --rebuild`"
            )
        build_dir = current.resolve()
        raw = json.loads((build_dir / "chunks.json").read_text())
        chunks = [Chunk(**{**r, "urls": tuple(r["urls"]), "sentences": tuple(r["sentences"])}) for r in raw]
        bm25s = _bm25s()
        bm25 = bm25s.BM25.load(str(build_dir / "bm25"), load_corpus=False, mmap=False)
        if client is None:
            client = make_chroma_client(build_dir / "chroma", chroma_url)
        return cls(build_dir, manifest, chunks, bm25, client)

    # --- reads -------------------------------------------------------------------------------------------
    def dense(self, query_vec: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        result = self.collection.query(
            query_embeddings=[query_vec.tolist()], n_results=min(n, len(self.chunks)), where=where or None,
            include=["distances"],
        )
        # Cosine distance -> similarity.
        return [(cid, 1.0 - float(d)) for cid, d in zip(result["ids"][0], result["distances"][0], strict=True)]

    def dense_sentences(self, query_vec: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Chunks ranked by their best-matching sentence or heading."""
        result = self.sentences.query(
            query_embeddings=[query_vec.tolist()], n_results=n, where=where or None,
            include=["distances", "metadatas"],
        )
        best: dict[str, float] = {}
        for meta, d in zip(result["metadatas"][0], result["distances"][0], strict=True):
            cid = meta["chunk_id"]
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


def check_compatible(manifest: dict, model_name: str, dimension: int, index_path: Path) -> None:
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


class IndexBuilder:
    """Builds a new index aside from the current one, reusing every unchanged chunk's vectors."""

    def __init__(self, index_path: Path, embedder, collection: str = "send_guide", chroma_url: str = ""):
        self.index_path = Path(index_path)
        self.embedder = embedder
        self.collection = collection
        self.chroma_url = chroma_url

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
        if (previous and previous["chunk_ids"] == ids and not rebuild
                and all(previous.get(k) == v for k, v in extra_manifest.items())):
            report.unchanged = True
            report.reused_chunks = len(ids)
            report.build_dir = str(IndexStore.current_dir(self.index_path).resolve())
            report.seconds = time.perf_counter() - start
            return report

        build_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        builds = self.index_path / "builds"
        build_dir = builds / build_id
        tmp_dir = builds / f".tmp-{build_id}"
        tmp_dir.mkdir(parents=True)
        try:
            self._write_build(chunks, previous, build_id, tmp_dir, report, extra_manifest)
            os.replace(tmp_dir, build_dir)
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            if self.chroma_url:
                self._drop_collections(build_id)
            raise
        self._swap(build_dir)
        self._prune(keep={build_dir.name, previous.get("build_id", "") if previous else ""})
        report.build_dir = str(build_dir)
        report.seconds = time.perf_counter() - start
        return report

    # --- steps ---------------------------------------------------------------------------------------------
    def _previous_manifest(self, rebuild: bool) -> dict | None:
        manifest_path = IndexStore.current_dir(self.index_path) / "manifest.json"
        if rebuild or not manifest_path.exists():
            return None
        manifest = json.loads(manifest_path.read_text())
        check_compatible(manifest, self.embedder.name, self.embedder.dimension, self.index_path)
        if manifest.get("chroma_url", "") != self.chroma_url:
            return None  # a different store: start afresh
        return manifest

    def _names(self, build_id: str) -> tuple[str, str]:
        if self.chroma_url:
            return f"{self.collection}-{build_id}", f"{self.collection}-{build_id}-sentences"
        return self.collection, f"{self.collection}-sentences"

    def _write_build(self, chunks, previous, build_id, tmp_dir: Path, report: BuildReport, extra: dict) -> None:
        t = time.perf_counter()
        name, sentence_name = self._names(build_id)
        prev_ids: set[str] = set(previous["chunk_ids"]) if previous else set()
        prev_dir = IndexStore.current_dir(self.index_path).resolve() if previous else None
        if self.chroma_url:
            client = make_chroma_client(None, self.chroma_url)
            col = client.create_collection(name, embedding_function=None, metadata={"hnsw:space": "cosine"})
            sent_col = client.create_collection(
                sentence_name, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
            if previous:
                self._copy_collections(client, previous, col, sent_col, prev_ids & {c.id for c in chunks})
                keep = prev_ids & {c.id for c in chunks}
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

        current_ids = {c.id for c in chunks}
        removed = sorted(prev_ids - current_ids)
        if removed and not self.chroma_url:
            prev_chunks = {r["id"]: len(r["sentences"]) for r in json.loads((prev_dir / "chunks.json").read_text())}
            for batch in _batches(removed, 500):
                col.delete(ids=batch)
                sent_ids = [s for cid in batch for s in _sentence_ids(cid, prev_chunks.get(cid, 0), heading=True)]
                if sent_ids:
                    sent_col.delete(ids=sent_ids)
        report.removed_chunks = len(removed)

        new_chunks = [c for c in chunks if c.id not in prev_ids]
        report.reused_chunks = len(chunks) - len(new_chunks)
        t = time.perf_counter()
        self._embed_and_add(new_chunks, col, sent_col, report)
        report.embed_seconds = time.perf_counter() - t

        t = time.perf_counter()
        bm25 = _bm25s().BM25()
        bm25.index(bm25_tokenize([c.embed_text for c in chunks]), show_progress=False)
        bm25.save(str(tmp_dir / "bm25"))
        report.timings["bm25"] = time.perf_counter() - t

        (tmp_dir / "chunks.json").write_text(json.dumps([_chunk_record(c) for c in chunks], ensure_ascii=False))
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
            "chunk_ids": [c.id for c in chunks],
            "documents": sorted({c.doc_id for c in chunks}),
            **extra,
        }
        (tmp_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
        # Chroma keeps files open through a process-wide client cache; drop ours before the folder moves.
        del col, sent_col
        if not self.chroma_url:
            _release_client(client)

    def _embed_and_add(self, new_chunks: list[Chunk], col, sent_col, report: BuildReport) -> None:
        if not new_chunks:
            return
        # Each chunk's heading (a parent's question) is embedded beside its sentences: a question finds the
        # section whose heading asks it, even when the passage's own words differ.
        sentences = [(c, i, s) for c in new_chunks for i, s in enumerate(c.sentences)]
        sentences += [(c, -1, c.heading or c.title) for c in new_chunks]
        # One pass over everything, longest first, so batches are padded to similar lengths.
        texts = [c.embed_text for c in new_chunks] + [s for _, _, s in sentences]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.empty((len(texts), self.embedder.dimension), dtype=np.float32)
        for batch in _batches(order, 256):
            vectors[batch] = self.embedder.embed([texts[i] for i in batch])
        chunk_vecs, sent_vecs = vectors[: len(new_chunks)], vectors[len(new_chunks) :]
        for batch in _batches(list(range(len(new_chunks))), 1000):
            col.add(
                ids=[new_chunks[i].id for i in batch],
                embeddings=chunk_vecs[batch],
                documents=[new_chunks[i].text for i in batch],
                metadatas=[_chunk_metadata(new_chunks[i]) for i in batch],
            )
        for batch in _batches(list(range(len(sentences))), 2000):
            sent_col.add(
                ids=[_sentence_id(sentences[i][0].id, sentences[i][1]) for i in batch],
                embeddings=sent_vecs[batch],
                documents=[sentences[i][2] for i in batch],
                metadatas=[
                    {"chunk_id": sentences[i][0].id, "i": sentences[i][1], "kind": sentences[i][0].kind,
                     "area": sentences[i][0].area}
                    for i in batch
                ],
            )
        report.embedded_chunks = len(new_chunks)
        report.embedded_sentences = len(sentences)

    def _copy_collections(self, client, previous: dict, col, sent_col, keep: set[str]) -> None:
        """Server mode: copy the kept vectors from the previous build's collections into the new ones."""
        old = client.get_collection(previous["collection"], embedding_function=None)
        old_sent = client.get_collection(previous["sentence_collection"], embedding_function=None)
        keep_list = sorted(keep)
        for batch in _batches(keep_list, 500):
            got = old.get(ids=batch, include=["embeddings", "documents", "metadatas"])
            col.add(ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"],
                    metadatas=got["metadatas"])
            got_s = old_sent.get(where={"chunk_id": {"$in": batch}}, include=["embeddings", "documents", "metadatas"])
            if got_s["ids"]:
                sent_col.add(ids=got_s["ids"], embeddings=got_s["embeddings"], documents=got_s["documents"],
                             metadatas=got_s["metadatas"])

    def _drop_collections(self, build_id: str) -> None:
        client = make_chroma_client(None, self.chroma_url)
        for name in self._names(build_id):
            try:
                client.delete_collection(name)
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
                if time.time() - path.stat().st_mtime < 3600:
                    continue
            manifest = path / "manifest.json"
            if self.chroma_url and manifest.exists():
                old = json.loads(manifest.read_text())
                client = make_chroma_client(None, self.chroma_url)
                for name in (old["collection"], old["sentence_collection"]):
                    try:
                        client.delete_collection(name)
                    except Exception:  # noqa: BLE001
                        pass
            shutil.rmtree(path, ignore_errors=True)


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
