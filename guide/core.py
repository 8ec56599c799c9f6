"""`Guide`: the public entry point. Wires configuration, model, index and pipeline together once."""

from __future__ import annotations

import collections
import copy
import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from .answer.areas import AreaFinder
from .answer.compose import SectionComposer
from .answer.deadlines_step import Deadlines, DeadlinesReply
from .answer.letters_step import Letters
from .answer.pipeline import Check, Compose, Guard, LetterTopic, Pipeline, Rephrase, Retrieve, Route, Sanitise
from .answer.retrieval import HybridRetriever
from .config import Config
from .index.build import BuildReport, IndexBuilder
from .index.embeddings import Embedder
from .index.layout import IndexMissingError, _stemmer, prune_local_server_builds, read_server_manifest
from .index.store import IndexStore
from .knowledge.abbreviations import load_abbreviations
from .knowledge.authorities import load_authorities_if_present
from .knowledge.chunking import Chunker
from .knowledge.documents import Document, load_documents
from .offline import set_offline_switches
from .reply import Reply
from .tools.letters import LetterBook

if TYPE_CHECKING:
    from .answer.langchain_retriever import GuideRetriever

log = logging.getLogger(__name__)


class Guide:
    """Answers parents' questions from the curated knowledge base, with citations.

    Heavy objects (the embedding model, the Chroma client) are created once here and passed to the steps.
    """

    def __init__(self, config: Config, embedder: Embedder | None = None, build_if_missing: bool = True):
        set_offline_switches()
        self.config = config
        self.embedder = embedder or Embedder(config.embedding_model, config.embedding_sha256,
                                             config.embedding_batch_size, runtime=config.embedding_runtime,
                                             cache_dir=config.data_dir / "cache")
        # Small knowledge files read once: the councils of England, and the model letters.
        self.authorities = load_authorities_if_present(config.knowledge_dir)
        self.letters = LetterBook.load(config.knowledge_dir)
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        # Answering is CPU work: more questions at once than cores only makes every one slower and lets some
        # wait far longer than others (the web server runs up to 40 at once). Extra questions queue here, in
        # arrival order, so under load latency grows evenly instead of a long tail.
        self._running = FifoGate(_cores())
        self._retired: IndexStore | None = None
        self.abbreviations = load_abbreviations(config.knowledge_dir)
        self._next_check = time.monotonic() + max(0.0, config.index_refresh_seconds)
        try:
            self.store = self._open_store()
        except IndexMissingError:
            if not build_if_missing:
                raise
            log.warning("no index at %s: building it now", config.index_path)
            self.build_index()
        self._wire()
        self._warm(self.store)

    @classmethod
    def from_env(cls, build_if_missing: bool = True, embedder: Embedder | None = None, **overrides) -> Guide:
        """Configuration from GUIDE_* environment variables (keyword arguments override them)."""
        return cls(Config.from_env(**overrides), embedder=embedder, build_if_missing=build_if_missing)

    def with_config(self, **changes) -> Guide:
        """The same guide (model, open index, queue) answering with some settings changed, e.g. `today=...`.

        Shares every heavy object: a second Guide would open a second client on the same embedded store, and
        closing either would close both."""
        other = copy.copy(self)
        other.config = self.config.replace(**changes)
        other._wire()
        return other

    # --- index -------------------------------------------------------------------------------------------------
    def _open_store(self) -> IndexStore:
        return IndexStore.open(self.config.index_path, self.embedder.name, self.embedder.dimension,
                               self.config.chroma_url, collection=self.config.collection)

    def _swap_store(self, store: IndexStore) -> None:
        """Serve from `store` from the next question on; questions already running finish on the old one."""
        with self._lock:
            old = self.store if hasattr(self, "store") else None
            self.store = store
            if hasattr(self, "pipeline"):
                self._wire()
            # An embedded build keeps its Chroma files (and HNSW graph) open; release the one retired at the
            # previous swap, which no running question can still be using. Reopening the same build shares its
            # files, so those are never released.
            retired, self._retired = self._retired, old
            in_use = {store.build_dir, old.build_dir if old else None}
            if retired is not None and retired.build_dir not in in_use:
                retired.close()

    def _warm(self, store: IndexStore) -> None:
        # The model's first forward pass and Chroma's first query on a collection are slow; pay them at start-up.
        self.embedder.embed_query("warm up")
        store.warm()

    def live_build_id(self) -> str:
        """The build other processes serve: the server's pointer, or the local `current` link."""
        if self.config.chroma_url:
            manifest = read_server_manifest(self.store.client, self.config.collection)
            return manifest["build_id"] if manifest else ""
        try:
            return IndexStore.current_dir(self.config.index_path).resolve(strict=True).name
        except OSError:
            return ""

    def refresh(self) -> bool:
        """Switch to the live build if another process published a newer one; True when it switched.

        Called by `ask` every GUIDE_INDEX_REFRESH_SECONDS (in the background), so several workers serving one
        Chroma server, or a server whose index a cron job rebuilds, follow every `guide index`.
        """
        with self._refresh_lock:
            live = self.live_build_id()
            if not live or live == self.store.build_id:
                return False
            old = self.store
            store = self._open_store()
            self._warm(store)  # before it serves, so no question waits for its indexes to load
            self._swap_store(store)
            log.info("now serving index build %s (was %s)", self.store.build_id, old.build_id)
            if self.config.chroma_url:
                prune_local_server_builds(self.config.index_path, keep={self.store.build_id, old.build_id})
            return True

    def _maybe_refresh(self) -> None:
        interval = self.config.index_refresh_seconds
        if interval <= 0 or time.monotonic() < self._next_check or self._refresh_lock.locked():
            return
        self._next_check = time.monotonic() + interval
        # In the background: opening a new server build may rebuild its local files, which no question should wait
        # for.
        threading.Thread(target=self._refresh_quietly, name="guide-index-refresh", daemon=True).start()

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception:  # noqa: BLE001 - keep serving the build we have; say why
            log.warning("could not switch to the live index build; still serving %s", self.store.build_id,
                        exc_info=True)

    def load_documents(self) -> list[Document]:
        return load_documents(self.config.knowledge_dir)

    def build_index(self, rebuild: bool = False) -> BuildReport:
        """Build or update the index from the knowledge folder, then serve from the new build."""
        return build_index(self.config, self.embedder, rebuild=rebuild, guide=self)

    def _wire(self) -> None:
        docs = {c.doc_id: c for c in self.store.chunks}
        areas: dict[str, tuple[str, ...]] = {}
        for doc_id, chunk in docs.items():
            if chunk.kind == "inspection" and chunk.area:
                areas.setdefault(chunk.area.lower(), ())
                areas[chunk.area.lower()] += (doc_id,)
        for alias, doc_ids in self.store.manifest.get("aliases", {}).items():
            areas[alias.lower()] = tuple(doc_ids)
        self.retriever = HybridRetriever(self.store, self.config.candidates, self.config.rrf_k, stemmer=_stemmer())
        self.area_finder = AreaFinder(areas, self.authorities)
        self.pipeline = Pipeline([
            Sanitise(self.config.max_message_chars),
            Guard(),
            Deadlines(self.config.today),
            Rephrase(self.embedder.embed, self.abbreviations),
            Route(self.area_finder),
            LetterTopic(self.letters),
            Retrieve(self.retriever, self.config.top_k),
            Compose(SectionComposer(), self.config.min_passage_score, self.config.clarify_below),
            DeadlinesReply(),
            Letters(self.letters, self.area_finder),
            Check(),
        ])

    # --- questions ---------------------------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None) -> Reply:
        """Answer one message, using earlier turns (role/content dicts) to understand follow-ups."""
        self._maybe_refresh()
        with self._running:
            return self.pipeline.run(question, history)

    def as_retriever(self, k: int | None = None) -> GuideRetriever:
        """The hybrid retriever as a LangChain retriever."""
        from .answer.langchain_retriever import GuideRetriever

        return GuideRetriever(retriever=self.retriever, embed_query=self.embedder.embed_query,
                              k=k or self.config.top_k)


class FifoGate:
    """At most `width` holders at once; the others get in strictly in arrival order. (threading.Semaphore lets a
    newcomer take a freed place before the thread it woke, which sends that thread to the back: a long tail.)"""

    def __init__(self, width: int):
        self._lock = threading.Lock()
        self._free = width
        self._waiting: collections.deque[threading.Lock] = collections.deque()

    def __enter__(self) -> FifoGate:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return self
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        turn.acquire()  # released by the holder that hands its place over
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()  # the place passes straight to the longest waiter
            else:
                self._free += 1


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def build_index(config: Config, embedder: Embedder, rebuild: bool = False, guide: Guide | None = None) -> BuildReport:
    """Validate every document, chunk, embed what changed, and swap the new build in."""
    docs = load_documents(config.knowledge_dir)  # raises on the first malformed file, before any writing
    chunker = Chunker(config.chunk_tokens, config.chunk_overlap_tokens, config.tiktoken_encoding, config.data_dir)
    chunks = chunker.chunk_all(docs)
    aliases = {a: [d.id] for d in docs if d.kind == "inspection" for a in d.aliases}
    builder = IndexBuilder(config.index_path, embedder, config.collection, config.chroma_url)
    report = builder.build(chunks, rebuild=rebuild, extra_manifest={"aliases": aliases})
    if guide is not None:
        store = guide._open_store()
        guide._warm(store)
        guide._swap_store(store)
    return report
