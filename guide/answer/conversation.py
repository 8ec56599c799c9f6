"""The conversation: checking history, telling a follow-up from a new question, and the questions in a message."""

from __future__ import annotations

import re

# A message that opens like this continues the one before ("and if they say no?", "what about college?").
_CONTINUES = re.compile(
    r"^\s*(and|but|so|also|then|ok|okay|what about|how about|what if|and if|if so|if not|same for|does that|"
    r"is that|would that|can they|could they|will they|do they|did they|what else|why not|how come)\b",
    re.I,
)
# Words that point back at something said earlier ("how long do I have to appeal that?").
_POINTS_BACK = re.compile(
    r"\b(it|that|this|those|these|they|them|their|there|then|one|same|instead|else|he|she|him|her|his)\b", re.I
)
_WORD = re.compile(r"[a-z0-9']+")
# Everyday words that carry no topic of their own: a message made of these and a pointer needs the earlier turns.
_FUNCTION = frozenset(
    "a an and are as at be been but by can could do does did for from had has have how i if in into is it its me "
    "my of on or our so that the their them then there these they this to was we were what when where which who "
    "will with would you your he she his her him us am should shall may might must not no any all about get got "
    "want need know tell please long many much soon still just also else too ok okay yes really actually one "
    "same instead those about happens happen next now mean means".split()
)


def validate_history(history) -> list[dict]:
    """Accept Gradio/OpenAI-style [{"role", "content"}] messages; raise ValueError saying what is wrong."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise ValueError("history must be a list of {'role': 'user'|'assistant', 'content': text} messages")
    clean = []
    for i, msg in enumerate(history):
        if not isinstance(msg, dict) or "role" not in msg or "content" not in msg:
            raise ValueError(f"history[{i}] must be a dict with 'role' and 'content'")
        if msg["role"] not in ("user", "assistant", "system"):
            raise ValueError(f"history[{i}]['role'] must be 'user' or 'assistant', got {msg['role']!r}")
        content = msg["content"]
        if isinstance(content, list):  # Gradio multimodal content parts
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            content = str(content)
        if msg["role"] != "system":
            clean.append({"role": msg["role"], "content": content})
    return clean


def topic_words(message: str) -> list[str]:
    """The words of a message that could name a topic (not pointers, question words or everyday verbs)."""
    return [w for w in _WORD.findall(message.lower()) if w not in _FUNCTION and len(w) > 1]


def follow_up_cue(message: str) -> str:
    """"strong" when the message cannot stand alone (it opens by continuing, or is a few words); "weak" when it
    points back ("that", "it") but may still carry its own topic; "" when nothing suggests a follow-up."""
    if _CONTINUES.match(message) or len(_WORD.findall(message.lower())) <= 4:
        return "strong"
    if _POINTS_BACK.search(message):
        # "how long do I have to appeal that?" has one topic word; "my son keeps being sent home early by
        # school, is that allowed?" has several, and stands on its own.
        return "strong" if len(topic_words(message)) <= 2 else "weak"
    return ""


def is_follow_up(message: str) -> bool:
    return bool(follow_up_cue(message))


def earlier_user_turns(history: list[dict], n: int = 2) -> list[str]:
    """The parent's last n messages, most recent first."""
    return [m["content"] for m in history if m["role"] == "user"][-n:][::-1]


def with_context(message: str, history: list[dict], n: int = 2) -> str:
    """A follow-up searched together with the parent's earlier messages: the earlier topic decides which rule
    applies ("how long do I have to appeal that?" after a discrimination question is the 6-month claim)."""
    return " ".join([message, *earlier_user_turns(history, n)])


_QUESTION_START = re.compile(r"^(what|how|when|where|who|which|why|can|could|do|does|did|is|are|will|would|should|"
                             r"must|have|has|may)\b", re.I)
_SENTENCES = re.compile(r"(?<=[.?!])\s+|\n+")


def questions_in(message: str, min_words: int = 4) -> list[str]:
    """The questions a message asks, each of at least `min_words` words ("Can they do that? And how long ...?")."""
    parts = [p.strip() for p in _SENTENCES.split(message) if p.strip()]
    asked = [p for p in parts if (p.endswith("?") or _QUESTION_START.match(p)) and len(p.split()) >= min_words]
    return asked


def question_focus(message: str, min_words: int = 25) -> str:
    """The questions inside a long message, without the story around them ("...he's in year 5. What can I do?").

    A parent's background dilutes a search; the sentences that ask something say what to look for.
    Returns "" when the message is short or asks nothing separable.
    """
    if len(message.split()) < min_words:
        return ""
    asked = questions_in(message, min_words=2)
    focus = " ".join(asked)
    return focus if asked and len(focus.split()) < len(message.split()) else ""
