"""Feedback on answers: stored with personal data redacted, exported for maintainers.

SQLite in the data folder by default; any SQLAlchemy URL (e.g. postgresql+psycopg://...) via GUIDE_FEEDBACK_DB_URL.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..answer.redact import redact
from ..config import Config

log = logging.getLogger(__name__)
MAX_COMMENT_CHARS = 1000
EXPORT_FORMATS = ("csv", "jsonl")

_metadata = sa.MetaData()
feedback_table = sa.Table(
    "feedback",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    # A one-way hash of the browser session: groups one conversation's rows without identifying anyone.
    sa.Column("session", sa.String(64), nullable=False),
    sa.Column("turn", sa.Integer, nullable=False),
    sa.Column("helpful", sa.Boolean, nullable=True),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("behaviour", sa.String(16), nullable=False, default=""),
    sa.Column("sources", sa.Text, nullable=False, default="[]"),  # JSON list of cited document ids
    sa.UniqueConstraint("session", "turn", name="one_row_per_answer"),
)
COLUMNS = [c.name for c in feedback_table.columns]


class FeedbackError(ValueError):
    """Feedback the store will not accept, with a message fit to show the person who gave it."""


def _cell(value):
    """A CSV cell a spreadsheet shows as text: a parent's words starting with = + - @ tab or CR would otherwise run
    as a formula (OWASP's CSV injection advice: prefix a single quote)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _private_file(path: Path) -> None:
    """Create `path` readable by its owner only (feedback is about families), or tighten it if it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)


def open_private(path: str | Path):
    """A text file for an export, readable by its owner only."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    return open(fd, "w", encoding="utf-8", newline="")


def _shown(url: str) -> str:
    """The URL with any password hidden, fit for an error message."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<not a database URL>"


class FeedbackUnavailable(FeedbackError):
    """The feedback store cannot be reached or written; the answer itself is unaffected."""


UNAVAILABLE = ("Your feedback could not be saved just now because the feedback store is not working. Your answers "
               "are not affected. Please try again later; what you wrote is still in the box.")


class FeedbackStore:
    """One row per answer that got feedback; a later rating or comment on the same answer updates it.

    Opened on first use, and retried after a failure: answers never depend on feedback, so a server whose feedback
    database is down still starts and answers.
    """

    def __init__(self, url: str):
        self.url = url
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> sa.Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._open()
            return self._engine

    def _open(self) -> sa.Engine:
        try:
            url = sa.engine.make_url(self.url)
            if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
                _private_file(Path(url.database))
            engine = sa.create_engine(url)
            _metadata.create_all(engine)
            return engine
        except (sa.exc.ArgumentError, ModuleNotFoundError) as exc:
            raise FeedbackUnavailable(
                f"cannot open the feedback store {_shown(self.url)!r} (GUIDE_FEEDBACK_DB_URL): {exc}") from exc
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            log.warning("cannot open the feedback store %s: %s", _shown(self.url), str(exc).splitlines()[0])
            raise FeedbackUnavailable(
                f"cannot open the feedback store {_shown(self.url)!r} (GUIDE_FEEDBACK_DB_URL): "
                f"{str(exc).splitlines()[0]}") from exc

    @classmethod
    def from_config(cls, config: Config) -> FeedbackStore:
        if config.feedback_db_url:
            return cls(config.feedback_db_url)
        return cls(f"sqlite:///{config.data_dir / 'feedback.sqlite3'}")

    def record(self, session: str, turn: int, question: str, answer: str, helpful: bool | None = None,
               comment: str | None = None, behaviour: str = "", sources: list[str] | None = None) -> None:
        """Store feedback on answer number `turn` of a conversation. Text is redacted before it is written."""
        if helpful is None and not (comment or "").strip():
            raise FeedbackError("Choose whether the answer was helpful, or write a comment, before sending.")
        if comment and len(comment) > MAX_COMMENT_CHARS:
            raise FeedbackError(f"Your comment is {len(comment):,} characters long; the limit is "
                                f"{MAX_COMMENT_CHARS:,}. Please shorten it.")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        key = hashlib.sha256(session.encode()).hexdigest()[:32]
        changes: dict = {"updated_at": now}
        if helpful is not None:
            changes["helpful"] = bool(helpful)
        if comment is not None and comment.strip():
            changes["comment"] = redact(comment.strip())
        row = {"created_at": now, "session": key, "turn": turn, "question": redact(question),
               "answer": redact(answer), "behaviour": behaviour, "sources": json.dumps(sources or []),
               "comment": "", **changes}
        where = (feedback_table.c.session == key) & (feedback_table.c.turn == turn)
        try:
            self._write(row, changes, where)
        except FeedbackUnavailable:
            raise
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not save feedback: %s", str(exc).splitlines()[0])
            raise FeedbackUnavailable(UNAVAILABLE) from exc

    def _write(self, row: dict, changes: dict, where) -> None:
        with self.engine.begin() as conn:
            if conn.execute(sa.update(feedback_table).where(where).values(**changes)).rowcount:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(feedback_table).values(**row))
        except IntegrityError:  # the same answer's row was written by a concurrent request in between
            with self.engine.begin() as conn:
                conn.execute(sa.update(feedback_table).where(where).values(**changes))

    def rows(self) -> list[dict]:
        try:
            with self.engine.connect() as conn:
                result = conn.execute(sa.select(feedback_table).order_by(feedback_table.c.id))
                return [dict(r._mapping) for r in result]
        except sa.exc.SQLAlchemyError as exc:
            raise FeedbackUnavailable(f"cannot read the feedback store {_shown(self.url)!r}: "
                                      f"{str(exc).splitlines()[0]}") from exc

    def export(self, out: IO[str], fmt: str = "csv") -> int:
        """Write every row to `out` as CSV or JSON lines; returns the number of rows."""
        if fmt not in EXPORT_FORMATS:
            raise FeedbackError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
        rows = self.rows()
        if fmt == "jsonl":
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
        return len(rows)
