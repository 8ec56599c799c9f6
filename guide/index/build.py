"""Building an index: a new build aside from the live one, reusing unchanged chunks' vectors, then an atomic swap."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..knowledge.chunking import CHUNK_FORMAT_VERSION, Chunk
from .layout import (
    _BUILD_ID,
    MANIFEST_VERSION,
    STALE_SECONDS,
    IndexError_,
    _batches,
    _build_age,
    _chunk_metadata,
    _release_client,
    _sentence_id,
    _sentence_ids,
    check_compatible,
    load_chunks,
    load_questions,
    make_chroma_client,
    materialise_server_build,
    question_id,
    question_records,
    read_server_manifest,
    write_local_files,
    write_questions,
    write_server_manifest,
)
from .store import IndexDamagedError, IndexStore

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    chunks: int = 0
    embedded_chunks: int = 0
    embedded_sentences: int = 0
    removed_chunks: int = 0
    reused_chunks: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    embedded_questions: int = 0
    build_dir: str = ""
    unchanged: bool = False
    timings: dict = field(default_factory=dict)
    # Documents that came in or went out with this build (never silently: `guide index` prints them).
    added_docs: list[str] = field(default_factory=list)
    removed_docs: list[str] = field(default_factory=list)



def _hold(path: Path) -> int:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _abandoned(tmp_dir: Path) -> bool:
    """A temporary build folder whose builder has stopped (killed, or crashed before its own clean-up)."""
    lock = tmp_dir / ".building"
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        try:
            return time.time() - tmp_dir.stat().st_mtime >= STALE_SECONDS
        except FileNotFoundError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a build is running in it
    finally:
        os.close(fd)
    return True


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
        live_docs = self._live_docs()
        previous = self._previous_manifest(rebuild)
        extra_manifest = extra_manifest or {}
        docs = {c.doc_id for c in chunks}
        if live_docs is not None:
            report.added_docs, report.removed_docs = sorted(docs - live_docs), sorted(live_docs - docs)
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
        # Held while this build runs and released by the kernel if the process is killed, so the next build
        # removes a dead build's folder at once while leaving a running one alone.
        lock = _hold(tmp_dir / ".building")
        # What `current` pointed at before: a running server may have it open, even after a --rebuild. (On a
        # Chroma server, the previous build named by the server's pointer is the one kept.)
        live_before = "" if self.chroma_url else IndexStore.current_dir(self.index_path).resolve().name
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
        finally:
            os.close(lock)
            (build_dir / ".building").unlink(missing_ok=True)
        self._swap(build_dir)
        self._prune(keep={build_id, previous.get("build_id", "") if previous else "", live_before})
        report.build_dir = str(build_dir)
        report.seconds = time.perf_counter() - start
        return report

    # --- steps ---------------------------------------------------------------------------------------------
    def _live_docs(self) -> set[str] | None:
        """The document ids of the live local build (chunk ids are "<doc id>:<digest>"), None when unknown."""
        try:
            manifest = json.loads((IndexStore.current_dir(self.index_path) / "manifest.json").read_text())
            return {cid.rsplit(":", 1)[0] for cid in manifest["chunk_ids"]}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _previous_manifest(self, rebuild: bool) -> dict | None:
        self._prev_dir = None
        if rebuild:
            return None
        if self.chroma_url:
            # The server says what is live, whichever machine built it.
            manifest = read_server_manifest(self.client, self.collection)
            if manifest is None or _other_format(manifest):
                return None
            check_compatible(manifest, self.embedder.name, self.embedder.dimension, self.chroma_url)
            self._prev_dir = materialise_server_build(self.index_path, self.client, manifest)
            return json.loads((self._prev_dir / "manifest.json").read_text())
        manifest_path = IndexStore.current_dir(self.index_path) / "manifest.json"
        if not manifest_path.exists():
            return None
        try:
            manifest = json.loads(manifest_path.read_text())
        except ValueError:
            log.warning("the live index build's manifest is damaged: building the index afresh")
            return None
        if _other_format(manifest):
            log.warning("the index at %s was built by another version of the guide: building it afresh",
                        self.index_path)
            return None
        check_compatible(manifest, self.embedder.name, self.embedder.dimension, self.index_path)
        if manifest.get("chroma_url"):
            return None  # a server build: the embedded store starts afresh
        prev_dir = IndexStore.current_dir(self.index_path).resolve()
        try:  # reuse nothing from a damaged build, and never call it "up to date"
            IndexStore.open_local_build(prev_dir, self.index_path, self.embedder.name, self.embedder.dimension).close()
        except IndexDamagedError as exc:
            log.warning("%s: building the index afresh", exc)
            return None
        self._prev_dir = prev_dir
        return manifest

    def _names(self, build_id: str) -> tuple[str, str, str]:
        if self.chroma_url:
            base = f"{self.collection}-{build_id}"
            return base, f"{base}-sentences", f"{base}-questions"
        return self.collection, f"{self.collection}-sentences", f"{self.collection}-questions"

    def _write_build(self, chunks, previous, build_id, tmp_dir: Path, report: BuildReport, extra: dict) -> dict:
        t = time.perf_counter()
        name, sentence_name, _ = self._names(build_id)
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
        t = time.perf_counter()
        manifest = self._write_questions(chunks, prev_dir, tmp_dir, build_id, manifest, report)
        report.timings["questions"] = time.perf_counter() - t
        # Chroma keeps files open through a process-wide client cache; drop ours before the folder moves.
        del col, sent_col
        if not self.chroma_url:
            _release_client(client)
        return manifest

    def _write_questions(self, chunks, prev_dir: Path | None, tmp_dir: Path, build_id: str, manifest: dict,
                         report: BuildReport) -> dict:
        """Every section's heading and parents' phrasings, embedded once per distinct text (reusing the previous
        build's vectors), saved beside the chunks; on a Chroma server also published for other workers."""
        records = question_records(chunks)
        known: dict[str, np.ndarray] = {}
        previous = load_questions(prev_dir) if prev_dir is not None else None
        if previous is not None and len(previous["texts"]):
            known = dict(zip(previous["texts"].tolist(), previous["vectors"], strict=True))
        # Longest first, so each batch pads to similar lengths.
        missing = sorted(dict.fromkeys(r[3] for r in records if r[3] not in known), key=len, reverse=True)
        if missing:
            t = time.perf_counter()
            known.update(zip(missing, self.embedder.embed(missing), strict=True))
            report.embed_seconds += time.perf_counter() - t
        report.embedded_questions = len(missing)
        dim = int(self.embedder.dimension)
        vectors = np.stack([known[r[3]] for r in records]) if records else np.zeros((0, dim), dtype=np.float32)
        write_questions(tmp_dir, records, vectors)
        manifest = {**manifest, "questions": len(records)}
        if self.chroma_url:
            name = self._names(build_id)[2]
            col = self.client.create_collection(name, embedding_function=None, metadata={"hnsw:space": "cosine"})
            for batch in _batches(list(range(len(records))), 2000):
                col.add(ids=[question_id(records[i]) for i in batch], embeddings=vectors[batch],
                        metadatas=[{"kind": records[i][1], "area": records[i][2]} for i in batch])
            manifest["question_collection"] = name
        (tmp_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
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
                # Another build may be running: remove only a folder whose builder is gone (its lock is free),
                # or, for a folder without a lock, one older than STALE_SECONDS.
                if not _abandoned(path):
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
            build_id = name[len(prefix):].removesuffix("-sentences").removesuffix("-questions")
            if not _BUILD_ID.fullmatch(build_id) or build_id in live:
                continue
            # Build ids sort by time: anything older than the live builds is superseded.
            if build_id < min(live) or _build_age(build_id) > STALE_SECONDS:
                try:
                    self.client.delete_collection(name)
                except Exception:  # noqa: BLE001 - another builder may have removed it already
                    pass


def _other_format(manifest: dict) -> bool:
    """Built by another version of the guide: nothing in it can be reused, so the next build starts afresh."""
    return (manifest.get("manifest_version") != MANIFEST_VERSION
            or manifest.get("chunk_format") != CHUNK_FORMAT_VERSION)
