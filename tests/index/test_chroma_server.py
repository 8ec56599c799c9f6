"""Scale-out: the index on a real Chroma server (`chroma run --host 127.0.0.1`, started here on a free port and
stopped afterwards), several guides serving from it, rebuilds on it, and guides following a rebuild.

The answer tests of test_answers.py run again, unchanged, against a guide whose index lives on the server."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import time

import pytest

from guide.config import Config
from guide.core import Guide, build_index
from guide.index.chroma_server import ChromaServer
from guide.index.layout import IndexMissingError, make_chroma_client, pointer_name, read_server_manifest

from ..answer import test_answers
from ..conftest import ROOT, phrasings_block

QUESTIONS = [
    "How long does the council have to decide whether to assess my child?",
    "Can I appeal to the SEND Tribunal?",
    "What is mediation and do I have to do it before appealing?",
    "What did inspectors find in Kent?",
]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    with ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data") as server:
        yield server


@pytest.fixture(scope="module")
def server_config(chroma_server, tmp_path_factory) -> Config:
    return Config.from_env(environ={}, knowledge_dir=ROOT / "knowledge", data_dir=tmp_path_factory.mktemp("server-a"),
                           chroma_url=chroma_server.url, index_refresh_seconds=0)


@pytest.fixture(scope="module")
def server_guide(server_config, embedder) -> Guide:
    """The real knowledge base indexed on the server (built by the guide itself: no index there yet)."""
    return Guide(server_config, embedder=embedder)


def _answer_tests():
    """Every test in test_answers.py that takes the `guide` fixture, with its parameters."""
    for name, fn in vars(test_answers).items():
        if not name.startswith("test_") or not inspect.isfunction(fn):
            continue
        params = list(inspect.signature(fn).parameters)
        if params[:1] != ["guide"]:
            continue
        marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
        if not marks:
            yield pytest.param(fn, {}, id=name)
            continue
        argnames, values = marks[0].args[0], marks[0].args[1]
        names = [a.strip() for a in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
        for value in values:
            value = value if isinstance(value, tuple) else (value,)
            yield pytest.param(fn, dict(zip(names, value, strict=True)), id=f"{name}[{'-'.join(map(str, value))}]")


@pytest.mark.parametrize("test,kwargs", list(_answer_tests()))
def test_answers_from_the_server(server_guide, test, kwargs):
    test(server_guide, **kwargs)


def test_the_server_index_retrieves_what_the_embedded_one_does(server_guide, guide, embedder):
    assert server_guide.store.manifest["chroma_url"] and not guide.store.manifest.get("chroma_url")
    assert {c.id for c in server_guide.store.chunks} == {c.id for c in guide.store.chunks}
    for question in QUESTIONS:
        vec = embedder.embed_query(question)
        on_server = [h.chunk.id for h in server_guide.retriever.retrieve(question, vec, k=5)]
        embedded = [h.chunk.id for h in guide.retriever.retrieve(question, vec, k=5)]
        assert on_server[0] == embedded[0], question
        assert len(set(on_server) & set(embedded)) >= 4, question
        filtered = server_guide.retriever.retrieve(question, vec, k=5, kind="inspection")
        assert filtered and all(h.chunk.kind == "inspection" for h in filtered)


def test_a_worker_with_only_the_server_url_serves_the_same_build(server_guide, server_config, embedder,
                                                                  tmp_path):
    worker = Guide(server_config.replace(data_dir=tmp_path / "worker"), embedder=embedder, build_if_missing=False)
    assert worker.store.build_id == server_guide.store.build_id
    # Its chunks and BM25 index were rebuilt from the server's records.
    assert worker.store.build_dir.parent == tmp_path / "worker" / "index" / "builds"
    assert [c.id for c in sorted(worker.store.chunks, key=lambda c: c.id)] == \
        [c.id for c in sorted(server_guide.store.chunks, key=lambda c: c.id)]
    assert worker.store.chunk(server_guide.store.chunks[5].id) == server_guide.store.chunks[5]
    for question in QUESTIONS[:2]:
        assert worker.ask(question).text == server_guide.ask(question).text


def test_guide_ask_in_a_fresh_process_with_only_the_server_url(server_guide, chroma_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUIDE_")}
    env.update(GUIDE_CHROMA_URL=chroma_server.url, GUIDE_DATA_DIR=str(tmp_path / "fresh"))
    result = subprocess.run([sys.executable, "-m", "guide", "ask", "--json", QUESTIONS[0]], capture_output=True,
                            text=True, env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["behaviour"] == "answer" and "6 weeks" in reply["text"]


def test_missing_server_index_is_a_clear_error(chroma_server, embedder, tmp_path):
    config = Config.from_env(environ={}, knowledge_dir=ROOT / "knowledge", data_dir=tmp_path,
                             chroma_url=chroma_server.url, collection="nothing-here")
    with pytest.raises(IndexMissingError, match="guide index") as err:
        Guide(config, embedder=embedder, build_if_missing=False)
    assert chroma_server.url in str(err.value)


def _build_collections(url: str, collection: str) -> set[str]:
    names = {getattr(c, "name", c) for c in make_chroma_client(None, url).list_collections()}
    return {n for n in names if n.startswith(f"{collection}-") and n != pointer_name(collection)}


def test_rebuilds_on_the_server_are_incremental_atomic_and_followed(chroma_server, embedder, small_kb, tmp_path,
                                                                      monkeypatch):
    collection = "rebuild-test"
    builder = Config.from_env(environ={}, knowledge_dir=small_kb, data_dir=tmp_path / "builder",
                              chroma_url=chroma_server.url, collection=collection, index_refresh_seconds=0)
    first = build_index(builder, embedder)
    assert first.embedded_chunks == first.chunks > 10
    assert build_index(builder, embedder).unchanged
    # Workers elsewhere: one checks on demand, one checks in the background every 50 ms.
    worker = Guide(builder.replace(data_dir=tmp_path / "w1"), embedder=embedder, build_if_missing=False)
    follower = Guide(builder.replace(data_dir=tmp_path / "w2", index_refresh_seconds=0.05), embedder=embedder,
                     build_if_missing=False)
    assert not worker.refresh()

    path = small_kb / "mediation.md"
    path.write_text(path.read_text() + "\n## Is this a new section?\n\nYes, this section was added by a test.\n\n"
                    + phrasings_block("new"))
    (small_kb / "refusal-to-assess.md").unlink()
    # Rebuilt from a machine with no local build folder: the server says what the previous build was.
    second = build_index(builder.replace(data_dir=tmp_path / "another-builder"), embedder)
    assert second.embedded_chunks == 1 and second.removed_chunks > 0
    assert second.reused_chunks == second.chunks - 1

    assert worker.store.build_id != second.build_dir.rsplit("/", 1)[-1]  # still on the old build until it checks
    assert worker.refresh()
    store = worker.store
    assert {c.doc_id for c in store.chunks} == {"ehc-needs-assessment-timescales", "mediation"}
    assert store.collection.count() == len(store.chunks)
    assert store.sentences.count() == sum(len(c.sentences) + 1 for c in store.chunks)
    hits = store.dense(embedder.embed_query("Is this a new section?"), 3)
    assert store.chunk(hits[0][0]).heading == "Is this a new section?"

    deadline = time.monotonic() + 30
    while follower.store.build_id != store.build_id and time.monotonic() < deadline:
        follower.ask("How long does the council have to decide whether to assess my child?")
        time.sleep(0.1)
    assert follower.store.build_id == store.build_id

    # A build that fails half way leaves the live build serving and nothing of itself behind.
    live = read_server_manifest(make_chroma_client(None, chroma_server.url), collection)["build_id"]
    before = _build_collections(chroma_server.url, collection)
    path.write_text(path.read_text() + "\n## Another section?\n\nYes, another one.\n\n" + phrasings_block("another"))

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr("guide.index.build.IndexBuilder._embed_and_add", boom)
        with pytest.raises(RuntimeError, match="disk full"):
            build_index(builder, embedder)
    assert read_server_manifest(make_chroma_client(None, chroma_server.url), collection)["build_id"] == live
    assert _build_collections(chroma_server.url, collection) == before
    assert not [p for p in (builder.index_path / "builds").iterdir() if p.name.startswith(".tmp")]
    assert worker.ask("What is mediation?").behaviour == "answer"

    # After one more build only the live build and the one before it stay on the server.
    third = build_index(builder, embedder)
    assert third.embedded_chunks == 1
    live = read_server_manifest(make_chroma_client(None, chroma_server.url), collection)["build_id"]
    kept = {n.removeprefix(f"{collection}-").removesuffix("-sentences").removesuffix("-questions")
            for n in _build_collections(chroma_server.url, collection)}
    assert kept == {live, store.build_id}


def test_an_embedded_guide_follows_a_rebuild_by_another_process(embedder, small_kb, tmp_path):
    config = Config.from_env(environ={}, knowledge_dir=small_kb, data_dir=tmp_path / "data", index_refresh_seconds=0)
    build_index(config, embedder)
    serving = Guide(config, embedder=embedder, build_if_missing=False)
    old = serving.store.build_id
    path = small_kb / "mediation.md"
    path.write_text(path.read_text() + "\n## Is this a new section?\n\nYes, this section was added by a test.\n\n"
                    + phrasings_block("new"))
    build_index(config, embedder)  # as `guide index` would, in another process: the serving guide is not told
    assert serving.store.build_id == old
    assert serving.refresh() and serving.store.build_id != old
    hits = serving.store.dense(embedder.embed_query("Is this a new section?"), 3)
    assert serving.store.chunk(hits[0][0]).heading == "Is this a new section?"
    assert serving.ask("How long does the council have to decide whether to assess my child?").behaviour == "answer"
