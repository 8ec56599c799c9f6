"""Feedback on answers: stored with personal data redacted, exported for maintainers.

SQLite in the data folder by default; any SQLAlchemy URL (e.g. postgresql+psycopg://...) via GUIDE_FEEDBACK_DB_URL.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime
from typing import IO

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..answer.redact import redact
from ..config import Config

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


def _shown(url: str) -> str:
    """The URL with any password hidden, fit for an error message."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<not a database URL>"


class FeedbackStore:
    """One row per answer that got feedback; a later rating or comment on the same answer updates it."""

    def __init__(self, url: str):
        try:
            self.engine = sa.create_engine(url)
            _metadata.create_all(self.engine)
        except (sa.exc.ArgumentError, sa.exc.OperationalError, ModuleNotFoundError) as exc:
            raise FeedbackError(
                f"cannot open the feedback store {_shown(url)!r} (GUIDE_FEEDBACK_DB_URL): {exc}") from exc

    @classmethod
    def from_config(cls, config: Config) -> FeedbackStore:
        if config.feedback_db_url:
            return cls(config.feedback_db_url)
        config.data_dir.mkdir(parents=True, exist_ok=True)
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
        with self.engine.connect() as conn:
            result = conn.execute(sa.select(feedback_table).order_by(feedback_table.c.id))
            return [dict(r._mapping) for r in result]

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
            writer.writerows(rows)
        return len(rows)
