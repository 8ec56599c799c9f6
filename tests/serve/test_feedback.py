"""The feedback store: redacted text only, one row per answer, export, configurable database, the CLI hook."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading

import pytest

from guide.answer.redact import redact
from guide.cli import main as cli_main
from guide.config import Config
from guide.serve.feedback import MAX_COMMENT_CHARS, FeedbackError, FeedbackStore, FeedbackUnavailable

from ..postgres_server import PostgresServer

PERSONAL = ("My son Tom Baker was born on 03/05/2016, NHS number 943 476 5919. Email me at jo.baker@example.com "
            "or ring 07700 900123. We live at SW1A 1AA.")
SECRETS = ("Tom", "Baker", "03/05/2016", "943 476 5919", "jo.baker@example.com", "07700 900123", "SW1A 1AA")


@pytest.fixture(scope="module")
def postgres():
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> FeedbackStore:
    """Every store test runs on the default SQLite file and on a real PostgreSQL (a fresh database each)."""
    if request.param == "sqlite":
        return FeedbackStore.from_config(Config.from_env(environ={}, data_dir=tmp_path))
    url = request.getfixturevalue("postgres").new_database()
    store = FeedbackStore.from_config(Config.from_env({"GUIDE_FEEDBACK_DB_URL": url}, data_dir=tmp_path))
    assert store.engine.dialect.name == "postgresql"
    return store


def test_default_store_is_sqlite_in_the_data_folder(tmp_path):
    store = FeedbackStore.from_config(Config.from_env(environ={}, data_dir=tmp_path / "new"))
    store.record("session", 0, "What is a SENCO?", "A SENCO is...", helpful=True)
    assert (tmp_path / "new" / "feedback.sqlite3").is_file()
    assert store.engine.dialect.name == "sqlite"


def test_a_configured_database_url_is_used(tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    store = FeedbackStore.from_config(Config.from_env({"GUIDE_FEEDBACK_DB_URL": url}, data_dir=tmp_path / "data"))
    store.record("s", 0, "q", "a", helpful=False)
    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / "data" / "feedback.sqlite3").exists()


def test_personal_data_is_redacted_before_it_is_stored(store):
    store.record("session-1", 0, question=PERSONAL, answer="The council must decide within 6 weeks. [1]",
                 helpful=False, comment=PERSONAL, behaviour="answer", sources=["ehc-needs-assessment-timescales"])
    [row] = store.rows()
    for field in ("question", "comment"):
        for secret in SECRETS:
            assert secret not in row[field], (field, secret, row[field])
    assert "[NAME]" in row["question"] and "[EMAIL]" in row["comment"] and "[POSTCODE]" in row["comment"]
    assert row["answer"] == "The council must decide within 6 weeks. [1]"
    assert row["helpful"] is False and row["behaviour"] == "answer"
    assert json.loads(row["sources"]) == ["ehc-needs-assessment-timescales"]
    assert row["session"] != "session-1" and len(row["session"]) == 32  # a hash, not the live session id


def test_a_rating_then_a_comment_on_the_same_answer_is_one_row(store):
    store.record("s", 0, "q1", "a1", helpful=True)
    store.record("s", 0, "q1", "a1", helpful=None, comment="Clear, thanks")
    store.record("s", 1, "q2", "a2", helpful=False)
    store.record("other", 0, "q1", "a1", helpful=False)
    rows = store.rows()
    assert [(r["session"] == rows[0]["session"], r["turn"], r["helpful"], r["comment"]) for r in rows] == [
        (True, 0, True, "Clear, thanks"), (True, 1, False, ""), (False, 0, False, "")]


def test_feedback_with_nothing_in_it_or_too_long_is_refused_clearly(store):
    with pytest.raises(FeedbackError, match="helpful, or write a comment"):
        store.record("s", 0, "q", "a", helpful=None, comment="   ")
    with pytest.raises(FeedbackError, match=f"limit is {MAX_COMMENT_CHARS:,}"):
        store.record("s", 0, "q", "a", helpful=True, comment="x" * (MAX_COMMENT_CHARS + 1))
    assert store.rows() == []


def test_concurrent_feedback_is_all_kept(store):
    def give(i: int) -> None:
        store.record(f"session-{i % 3}", i, f"question {i}", "answer", helpful=i % 2 == 0)

    threads = [threading.Thread(target=give, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["turn"] for r in store.rows()) == list(range(12))


def test_export_csv_and_jsonl(store):
    store.record("s", 0, "Contact me at jo@example.com", "a", helpful=True, comment="ok")
    out = io.StringIO()
    assert store.export(out, "csv") == 1
    [row] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["question"] == "Contact me at [EMAIL]" and row["helpful"] == "True" and row["comment"] == "ok"
    out = io.StringIO()
    store.export(out, "jsonl")
    assert json.loads(out.getvalue())["question"] == "Contact me at [EMAIL]"
    with pytest.raises(FeedbackError, match="unknown export format 'xml'"):
        store.export(io.StringIO(), "xml")


def test_a_bad_database_url_is_a_clear_error_without_the_password():
    # Opened on first use (a server starts without its feedback store), then a clear error.
    with pytest.raises(FeedbackError, match="GUIDE_FEEDBACK_DB_URL") as info:
        FeedbackStore("postgresql+nosuchdriver://user:s3cret@127.0.0.1:1/feedback").rows()
    assert "s3cret" not in str(info.value)
    with pytest.raises(FeedbackError, match="not a database URL"):
        FeedbackStore("not a url").record("s", 0, "q", "a", helpful=True)


def test_cli_feedback_export(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GUIDE_FEEDBACK_DB_URL", raising=False)
    FeedbackStore.from_config(Config.from_env(environ={}, data_dir=tmp_path)).record(
        "s", 0, "I'm Sarah Jones, how do I appeal?", "You can appeal. [1]", helpful=False, comment="too short")
    assert cli_main(["--data-dir", str(tmp_path), "feedback", "export", "--format", "jsonl"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["question"] == "I'm [NAME], how do I appeal?" and row["helpful"] is False
    target = tmp_path / "feedback.csv"
    assert cli_main(["--data-dir", str(tmp_path), "feedback", "export", "-o", str(target)]) == 0
    assert "Exported 1 feedback rows" in capsys.readouterr().err
    assert "too short" in target.read_text()
    monkeypatch.setenv("GUIDE_FEEDBACK_DB_URL", "nonsense")
    assert cli_main(["--data-dir", str(tmp_path), "feedback", "export"]) == 2
    assert "error: cannot open the feedback store" in capsys.readouterr().err


@pytest.mark.parametrize("text,expected", [
    ("Our daughter Amy-Rose needs help", "Our daughter [NAME] needs help"),
    ("Ms O'Neil said no", "Ms [NAME] said no"),
    ("my son Jack McDonald is 7", "my son [NAME] is 7"),
    ("He was born May 3, 2016.", "He was born [DATE OF BIRTH]."),
    ("born on 2016-05-03", "born on [DATE OF BIRTH]"),
    ("I am SENCO at his school", "I am SENCO at his school"),  # an acronym, not a name
])
def test_redaction_gaps_found_in_feedback_comments(text, expected):
    assert redact(text) == expected


def test_app_workers_share_one_postgresql_feedback_store(postgres, tmp_path):
    # Two worker processes with the same GUIDE_FEEDBACK_DB_URL: what one stores, the other (and the export) sees.
    url = postgres.new_database()
    script = ("import sys; from guide.config import Config; from guide.serve.feedback import FeedbackStore; "
              "FeedbackStore.from_config(Config.from_env()).record(sys.argv[1], 0, 'I am Jo Bloggs, ' + sys.argv[1], "
              "'answer', helpful=True)")
    env = {**os.environ, "GUIDE_FEEDBACK_DB_URL": url, "GUIDE_DATA_DIR": str(tmp_path)}
    for worker in ("worker-1", "worker-2"):
        subprocess.run([sys.executable, "-c", script, worker], env=env, check=True, timeout=120)
    rows = FeedbackStore(url).rows()
    assert sorted(r["question"] for r in rows) == ["I am [NAME], worker-1", "I am [NAME], worker-2"]
    assert not (tmp_path / "feedback.sqlite3").exists()


def test_csv_export_neutralises_formulas(tmp_path):
    store = FeedbackStore.from_config(Config.from_env(environ={}, data_dir=tmp_path))
    attacks = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"]
    for turn, text in enumerate(attacks):
        store.record("s", turn, text, "answer", helpful=True, comment=text)
    out = io.StringIO()
    store.export(out, "csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    for row, text in zip(rows, attacks, strict=True):
        assert row["question"] == "'" + text  # shown as text, nothing lost
        assert row["comment"][0] not in "=+-@\t\r", row["comment"]
    out = io.StringIO()
    store.export(out, "jsonl")  # data, not a spreadsheet: kept as it was
    assert json.loads(out.getvalue().splitlines()[1])["question"] == "+1+1"


def test_files_with_feedback_are_not_world_readable(tmp_path, monkeypatch):
    monkeypatch.delenv("GUIDE_FEEDBACK_DB_URL", raising=False)
    os.umask(0o022)
    store = FeedbackStore.from_config(Config.from_env(environ={}, data_dir=tmp_path))
    store.record("s", 0, "What is a SENCO?", "answer", helpful=True)
    assert (tmp_path / "feedback.sqlite3").stat().st_mode & 0o077 == 0
    target = tmp_path / "export.csv"
    assert cli_main(["--data-dir", str(tmp_path), "feedback", "export", "-o", str(target)]) == 0
    assert target.stat().st_mode & 0o077 == 0


def test_a_store_that_cannot_be_opened_fails_on_use_in_plain_words_and_recovers(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    store = FeedbackStore(f"sqlite:///{blocker / 'feedback.sqlite3'}")  # constructing it opens nothing
    with pytest.raises(FeedbackUnavailable):
        store.record("s", 0, "q", "a", helpful=True)
    blocker.unlink()
    store.record("s", 0, "q", "a", helpful=True)  # retried on the next use
    assert len(store.rows()) == 1


def test_a_rating_that_cannot_be_saved_says_so(tmp_path):
    store = FeedbackStore.from_config(Config.from_env(environ={}, data_dir=tmp_path))
    store.record("s", 0, "q", "a", helpful=True)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE feedback")
        conn.exec_driver_sql("CREATE TABLE feedback (x INTEGER)")
    with pytest.raises(FeedbackUnavailable, match="could not be saved") as info:
        store.record("s", 1, "q", "a", helpful=False)
    assert "sqlite" not in str(info.value).lower()
