"""One configuration object, read from GUIDE_* environment variables."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A GUIDE_* setting has a value the guide cannot use."""


def _default_knowledge_dir() -> Path:
    return PROJECT_ROOT / "knowledge"


def _default_data_dir() -> Path:
    return PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Config:
    """Every setting the guide reads. Each field maps to GUIDE_<FIELD NAME IN CAPITALS>."""

    knowledge_dir: Path = field(default_factory=_default_knowledge_dir)
    data_dir: Path = field(default_factory=_default_data_dir)
    # Empty means "<data_dir>/index".
    index_dir: Path | None = None
    # A sentence-transformers model name or path; "default" is the packaged all-MiniLM-L6-v2.
    embedding_model: str = "default"
    # sha256 of model.safetensors; checked for the default model, or for any model when set.
    embedding_sha256: str = ""
    embedding_batch_size: int = 32
    # What embeds questions: "onnx" (ONNX Runtime, the default model only; exported once and cached under
    # <data_dir>/cache) or "torch". Index builds use the sentence-transformers model on torch (a small incremental
    # build, up to 64 texts, runs on ONNX Runtime too, to spare loading torch).
    embedding_runtime: str = "onnx"
    chunk_tokens: int = 400
    chunk_overlap_tokens: int = 20
    tiktoken_encoding: str = "cl100k_base"
    collection: str = "send_guide"
    # Set to use a Chroma server instead of the embedded store, e.g. http://127.0.0.1:8000
    chroma_url: str = ""
    # How often a running guide checks for a newer index build (the server's pointer, or the local `current`
    # link) and switches to it; 0 turns the check off.
    index_refresh_seconds: float = 30.0
    top_k: int = 5
    candidates: int = 30
    rrf_k: int = 60
    # Cosine similarity below which the best passage is too weak to answer from.
    min_passage_score: float = 0.30
    # When the question uses words no document contains ("llama therapy"), the best passage must be this
    # similar before the guide answers; below it, the guide says its sources do not cover those words.
    # Below this similarity between the message and the best section's question (its heading or one of its
    # parents' phrasings), the guide asks which question it is instead of answering a neighbouring one.
    clarify_below: float = 0.45
    max_message_chars: int = 2000
    # Earlier messages (user and assistant each count one) a request may carry, and their total length; a request
    # over either is refused with a message, never trimmed, so the guide never answers a conversation the parent
    # does not see.
    max_history_turns: int = 40
    max_history_chars: int = 60_000
    rate_limit_per_minute: int = 20
    feedback_db_url: str = ""
    cors_origins: tuple[str, ...] = ()
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto the server believes (comma-separated addresses or
    # networks, "*" for any). Empty trusts none: the client address is the connecting socket's.
    forwarded_allow_ips: tuple[str, ...] = ()
    app_title: str = "SEND process guide"
    # What link previews (WhatsApp, Facebook) and search results show; empty means the intro without Markdown.
    app_description: str = ""
    # The level of the embed's own heading (1-5): 1 inside an iframe, the level that fits the host page for the
    # web component; the embed's section headings are one level below it.
    embed_heading_level: int = 1
    app_intro: str = (
        "Ask about SEN support, EHC needs assessments and plans, annual reviews, complaints and appeals, "
        "and what an area SEND inspection means for your family in England."
    )
    app_examples: tuple[str, ...] = (
        "How long does the council have to decide whether to assess my child?",
        "The council refused to assess my son. What can I do?",
        "What is the deadline for appealing to the SEND tribunal?",
        "What did inspectors find in Kent?",
    )
    log_level: str = "WARNING"
    # The guide's "today" (ISO date, e.g. 2026-11-20) for the dates it works out; empty means the real date. Tests
    # and the eval harness fix it so answers never change with the calendar.
    today: str = ""

    def __post_init__(self) -> None:
        # Accept plain strings for folders and lists for tuples, from code as well as from the environment.
        for name in ("knowledge_dir", "data_dir", "index_dir"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value).expanduser() if value else None)
        for name in ("cors_origins", "forwarded_allow_ips", "app_examples"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if not 1 <= self.embed_heading_level <= 5:
            raise ConfigError(f"GUIDE_EMBED_HEADING_LEVEL must be 1 to 5, got {self.embed_heading_level}")
        if self.data_dir is None:
            raise ConfigError("GUIDE_DATA_DIR must not be empty")
        if self.today:
            try:
                dt.date.fromisoformat(self.today)
            except ValueError:
                raise ConfigError(f"GUIDE_TODAY={self.today!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-11-20, "
                                  "or leave it empty for the real date") from None
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"GUIDE_LOG_LEVEL={self.log_level!r} is not a logging level; use DEBUG, INFO, WARNING, "
                              "ERROR or CRITICAL")

    @property
    def index_path(self) -> Path:
        return self.index_dir or (self.data_dir / "index")

    @classmethod
    def from_args(cls, args: Any) -> Config:
        """The configuration for a command: GUIDE_* variables, then the command line's --knowledge-dir/--data-dir."""
        overrides: dict[str, Any] = {}
        if getattr(args, "knowledge_dir", None):
            overrides["knowledge_dir"] = Path(args.knowledge_dir)
        if getattr(args, "data_dir", None):
            overrides["data_dir"] = Path(args.data_dir)
        return cls.from_env(**overrides)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Config:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = "GUIDE_" + f.name.upper()
            if key in env and env[key] != "":
                values[f.name] = _parse(f, env[key], key)
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


def _parse(f: dataclasses.Field, raw: str, key: str) -> Any:
    kind = str(f.type)
    try:
        if "Path" in kind:
            return Path(raw).expanduser()
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("tuple"):
            sep = "|" if f.name == "app_examples" else ","
            return tuple(part.strip() for part in raw.split(sep) if part.strip())
    except ValueError as exc:
        raise ConfigError(f"{key}={raw!r} is not a valid {kind}: {exc}") from exc
    return raw
