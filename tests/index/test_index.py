"""Index builds: incremental, atomic, and clear about what is wrong."""

import json

import pytest

from guide.answer.retrieval import HybridRetriever
from guide.config import Config
from guide.core import Guide, build_index
from guide.index.layout import IndexMismatchError, IndexMissingError
from guide.index.store import IndexStore
from guide.knowledge.documents import KnowledgeError

from ..conftest import ROOT, phrasings_block


def _config(tmp_path, kb):
    return Config.from_env(environ={}, knowledge_dir=kb, data_dir=tmp_path / "data")


def test_incremental_rebuild_embeds_only_changed_chunks(tmp_path, small_kb, embedder):
    config = _config(tmp_path, small_kb)
    first = build_index(config, embedder)
    assert first.embedded_chunks == first.chunks > 10 and first.reused_chunks == 0

    again = build_index(config, embedder)
    assert again.unchanged and again.embedded_chunks == 0

    path = small_kb / "mediation.md"
    path.write_text(path.read_text() + "\n## Is this a new section?\n\nYes, this section was added by a test.\n\n"
                    + phrasings_block("new"))
    (small_kb / "refusal-to-assess.md").unlink()
    third = build_index(config, embedder)
    assert third.embedded_chunks == 1
    assert third.removed_chunks > 0
    assert third.reused_chunks == third.chunks - 1

    store = IndexStore.open(config.index_path, embedder.name, embedder.dimension)
    assert {c.doc_id for c in store.chunks} == {"ehc-needs-assessment-timescales", "mediation"}
    assert store.collection.count() == len(store.chunks)
    expected_sentences = sum(len(c.sentences) + 1 for c in store.chunks)  # + one heading vector each
    assert store.sentences.count() == expected_sentences
    hits = store.dense(embedder.embed_query("Is this a new section?"), 3)
    assert store.chunk(hits[0][0]).heading == "Is this a new section?"
    builds = list((config.index_path / "builds").iterdir())
    assert len(builds) <= 2  # the current build and the one before it


def test_a_malformed_file_leaves_the_previous_index_serving(tmp_path, small_kb, embedder):
    config = _config(tmp_path, small_kb)
    build_index(config, embedder)
    before = (config.index_path / "current").resolve()
    bad = small_kb / "mediation.md"
    bad.write_text(bad.read_text().replace("kind: guidance", "kind: rumour"))
    with pytest.raises(KnowledgeError) as err:
        build_index(config, embedder)
    assert "mediation.md" in str(err.value) and "kind" in str(err.value)
    assert (config.index_path / "current").resolve() == before
    assert not [p for p in (config.index_path / "builds").iterdir() if p.name.startswith(".tmp")]
    store = IndexStore.open(config.index_path, embedder.name, embedder.dimension)
    assert any(c.doc_id == "mediation" for c in store.chunks)


def test_a_failed_build_is_never_half_written(tmp_path, small_kb, embedder, monkeypatch):
    config = _config(tmp_path, small_kb)
    build_index(config, embedder)
    before = (config.index_path / "current").resolve()
    (small_kb / "mediation.md").write_text((small_kb / "mediation.md").read_text() + "\n## New?\n\nNew text.\n\n"
                                           + phrasings_block("new"))

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("guide.index.build.IndexBuilder._embed_and_add", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        build_index(config, embedder)
    assert (config.index_path / "current").resolve() == before
    assert [p.name for p in (config.index_path / "builds").iterdir()] == [before.name]


def test_missing_index_is_a_clear_error(tmp_path, small_kb, embedder):
    config = _config(tmp_path, small_kb)
    with pytest.raises(IndexMissingError, match="guide index"):
        Guide(config, embedder=embedder, build_if_missing=False)
    guide = Guide(config, embedder=embedder)  # the default builds it
    assert guide.ask("How long does the council have to decide whether to assess?").citations


def test_model_mismatch_is_a_clear_error_with_the_fix(tmp_path, small_kb, embedder):
    config = _config(tmp_path, small_kb)
    build_index(config, embedder)
    manifest_path = config.index_path / "current" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest.update(embedding_model="some/other-model", dimension=768)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError) as err:
        Guide(config, embedder=embedder, build_if_missing=False)
    message = str(err.value)
    assert "some/other-model" in message and "768" in message and "guide index --rebuild" in message
    with pytest.raises(IndexMismatchError):
        build_index(config, embedder)
    report = build_index(config, embedder, rebuild=True)
    assert report.embedded_chunks == report.chunks
    Guide(config, embedder=embedder, build_if_missing=False)


def test_cli_reports_errors_without_a_traceback(tmp_path, small_kb, capsys, monkeypatch):
    from guide.cli import main

    monkeypatch.setenv("GUIDE_DATA_DIR", str(tmp_path / "empty-data"))
    monkeypatch.setenv("GUIDE_KNOWLEDGE_DIR", str(small_kb))
    bad = small_kb / "mediation.md"
    bad.write_text(bad.read_text().replace("last_reviewed:", "reviewed:"))
    assert main(["index"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "mediation.md" in err and "last_reviewed" in err


def test_a_passage_repeated_word_for_word_in_two_documents_is_one_hit(tmp_path, small_kb, embedder):
    # A council's Local Offer page that republishes national guidance: the copy must not crowd out other passages.
    original = (small_kb / "mediation.md").read_text()
    copy = original.replace("id: mediation\n", "id: mediation-local-offer\n", 1)
    assert copy != original
    (small_kb / "mediation-local-offer.md").write_text(copy)
    guide = Guide(_config(tmp_path, small_kb), embedder=embedder)
    question = "Do I have to go to mediation before I appeal?"
    hits = guide.retriever.retrieve(question, embedder.embed_query(question), k=6)
    texts = [h.chunk.text for h in hits]
    assert len(hits) == 6 and len(set(texts)) == len(texts)
    assert {"mediation", "mediation-local-offer"} & {h.chunk.doc_id for h in hits}


def test_a_killed_builds_folder_goes_at_the_next_build_a_running_ones_stays(tmp_path, small_kb, embedder):
    import os
    import signal
    import subprocess
    import sys

    config = _config(tmp_path, small_kb)
    build_index(config, embedder)
    builds = config.index_path / "builds"
    holder = ("import fcntl, os, sys, time; p = sys.argv[1]; os.makedirs(p); fd = os.open(p + '/.building', "
              "os.O_CREAT | os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX); print('ready', flush=True); time.sleep(600)")
    killed, running = builds / ".tmp-20260101-000000-dead01", builds / ".tmp-20260101-000000-busy01"
    procs = [subprocess.Popen([sys.executable, "-c", holder, str(p)], stdout=subprocess.PIPE, text=True)
             for p in (killed, running)]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        os.kill(procs[0].pid, signal.SIGKILL)  # a build killed half way: its folder is fresh, its lock is free
        procs[0].wait()
        (small_kb / "mediation.md").write_text((small_kb / "mediation.md").read_text() + "\n## New?\n\nYes, new.\n\n"
                                               + phrasings_block("new"))
        build_index(config, embedder)
        assert not killed.exists()
        assert running.exists()  # another build still running there
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_a_rebuild_keeps_the_build_a_running_server_has_open(tmp_path, small_kb, embedder):
    config = _config(tmp_path, small_kb)
    build_index(config, embedder)
    live = IndexStore.current_dir(config.index_path).resolve()
    (small_kb / "mediation.md").write_text((small_kb / "mediation.md").read_text() + "\n## New?\n\nYes, new.\n\n"
                                               + phrasings_block("new"))
    build_index(config, embedder)  # the server above still has `live` open: it is the previous build now
    served = IndexStore.current_dir(config.index_path).resolve()
    build_index(config, embedder, rebuild=True)
    assert served.exists() and (served / "manifest.json").exists()
    assert IndexStore.current_dir(config.index_path).resolve() != served
    assert not live.exists()  # older builds still go


def _damage(build_dir):
    """Corrupt a build the way a bad disk or a stray editor would: the Chroma database and the BM25 files."""
    for path in (build_dir / "chroma").glob("*.sqlite3"):
        path.write_bytes(b"\0garbage" * 1000)
    for path in (build_dir / "bm25").glob("*"):
        path.write_bytes(b"not numpy")


def test_a_damaged_live_build_falls_back_with_a_warning_and_guide_index_repairs_it(
        tmp_path, small_kb, embedder, caplog, capsys):
    from guide.cli import main as cli_main
    from guide.index.store import IndexDamagedError

    config = _config(tmp_path, small_kb)
    build_index(config, embedder)
    path = small_kb / "mediation.md"
    path.write_text(path.read_text() + "\n## Is this a new section?\n\nYes, this section was added by a test.\n\n"
                    + phrasings_block("new"))
    build_index(config, embedder)
    live = IndexStore.current_dir(config.index_path).resolve()
    _damage(live)

    store = IndexStore.open(config.index_path, embedder.name, embedder.dimension)
    assert store.build_dir != live and store.chunks  # the earlier, intact build
    assert f"build {live.name}" in caplog.text and "guide index --rebuild" in caplog.text
    store.close()

    for other in (config.index_path / "builds").iterdir():
        if other != live:
            _damage(other)
    with pytest.raises(IndexDamagedError, match=r"is damaged .*run `guide index --rebuild` to repair it"):
        IndexStore.open(config.index_path, embedder.name, embedder.dimension)

    code = cli_main(["--knowledge-dir", str(small_kb), "--data-dir", str(config.data_dir), "index"])
    out = capsys.readouterr().out
    assert code == 0 and "up to date" not in out and "Built index" in out
    repaired = IndexStore.open(config.index_path, embedder.name, embedder.dimension)
    assert repaired.build_dir != live and len(repaired.chunks) == repaired.collection.count()
    repaired.close()


def test_a_damaged_index_is_one_plain_sentence_from_guide_ask(tmp_path, small_kb, embedder):
    import subprocess
    import sys

    config = _config(tmp_path, small_kb)
    build_index(config, embedder)
    _damage(IndexStore.current_dir(config.index_path).resolve())
    result = subprocess.run([sys.executable, "-m", "guide", "--knowledge-dir", str(small_kb), "--data-dir",
                             str(config.data_dir), "ask", "What is mediation?"], capture_output=True, text=True,
                            timeout=300, cwd=str(ROOT))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "is damaged" in result.stderr and "guide index --rebuild" in result.stderr


def test_guide_index_reports_documents_added_and_removed(tmp_path, small_kb, embedder, capsys):
    import shutil

    from guide.cli import main as cli_main

    args = ["--knowledge-dir", str(small_kb), "--data-dir", str(tmp_path / "data"), "index"]
    assert cli_main(args) == 0
    capsys.readouterr()
    (small_kb / "mediation.md").unlink()
    shutil.copy(ROOT / "knowledge" / "guidance" / "senco.md", small_kb)
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "Added document: senco" in out and "Removed document: mediation" in out


def test_a_section_republished_in_another_document_is_one_section_and_one_bm25_row(tmp_path, small_kb, embedder):
    # A council republishing national guidance word for word: the same sections in a second document.
    original = (small_kb / "mediation.md").read_text()
    (small_kb / "mediation-copy.md").write_text(original.replace("id: mediation\n", "id: mediation-copy\n", 1))
    config = _config(tmp_path, small_kb)
    build_index(config, embedder)
    store = IndexStore.open(config.index_path, embedder.name, embedder.dimension)
    copies = [c for c in store.chunks if c.doc_id == "mediation-copy"]
    assert copies and all(len(store.sections[c.section]) == 2 for c in copies)
    assert len(store.bm25_rows) == len(store.chunks) - len(copies)
    assert len(set(store.question_sections.tolist())) == len(store.sections)
    vec = embedder.embed_query("Do I have to go to mediation?")
    # Filtered searches index chunks, BM25 rows are fewer: neither may be mistaken for the other.
    assert store.dense(vec, 5, {"kind": "guidance"})
    assert store.sparse("mediation certificate", 5, store.mask("guidance"))
    hits = HybridRetriever(store).retrieve("Do I have to go to mediation?", vec, k=5, kind="guidance")
    assert len({h.section for h in hits}) == len(hits)
    # The first document (in index order) holding a section represents it.
    assert all(h.chunk.doc_id == store.section_chunks(h.section)[0].doc_id for h in hits)
