"""One check for every request that reaches the guide: the JSON API, the page, the embed and gradio_client.

The limits keep one caller from slowing every other parent (a 2 MB history, 10,000 turns) and keep the pipeline
to the shapes it understands (user and assistant turns of text). A request over a limit is refused, not trimmed:
silently dropping turns would answer a different conversation from the one the parent sees.
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from .limits import too_long_message

ROLES = ("user", "assistant")


class RequestRejected(ValueError):
    """A request the guide will not answer: `status` is the HTTP status, `message` words to show the person."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _surrogate(text: str) -> bool:
    # A lone UTF-16 surrogate (valid in JSON "\ud800", not in UTF-8) breaks encoding further down.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def validate_request(question: Any, history: Any, config: Config) -> tuple[str, list[dict]]:
    """The question and history as the guide takes them, or RequestRejected saying what was wrong and what to do.

    `history` is None or a list of {"role": "user"|"assistant", "content": str}; extra keys (Gradio's metadata)
    are dropped.
    """
    if not isinstance(question, str):
        raise RequestRejected(422, "The question must be text. Please type your question and send it again.")
    if _surrogate(question):
        raise RequestRejected(400, "Your message contains a character that cannot be read. Please retype it and "
                                   "send it again.")
    problem = too_long_message(len(question.strip()), config.max_message_chars)
    if problem:
        raise RequestRejected(413, problem)
    if history is None:
        history = []
    if not isinstance(history, list | tuple):
        raise RequestRejected(422, "The history must be a list of earlier messages, each with a role and content.")
    if len(history) > config.max_history_turns:
        raise RequestRejected(413, f"The conversation has {len(history):,} earlier messages; the guide reads at most "
                                   f"{config.max_history_turns:,}. Please start a new conversation and ask "
                                   "your question again.")
    clean: list[dict] = []
    total = 0
    for i, turn in enumerate(history, start=1):
        if not isinstance(turn, dict):
            raise RequestRejected(422, f"Earlier message {i} must have a role and content.")
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            raise RequestRejected(422, f"Earlier message {i} has the role {str(role)[:20]!r}; only 'user' and "
                                       "'assistant' are accepted.")
        if not isinstance(content, str):
            raise RequestRejected(422, f"Earlier message {i} is not text; the guide reads text messages only.")
        if _surrogate(content):
            raise RequestRejected(400, f"Earlier message {i} contains a character that cannot be read. Please start "
                                       "a new conversation.")
        total += len(content)
        if total > config.max_history_chars:
            raise RequestRejected(413, f"The earlier messages are more than {config.max_history_chars:,} "
                                       "characters long together. Please start a new conversation and ask your "
                                       "question again.")
        clean.append({"role": role, "content": content})
    return question, clean
