"""Turn a follow-up question into a self-contained search query using the earlier turns."""

from __future__ import annotations

import re

_FOLLOW_UP = re.compile(
    r"\b(it|that|this|those|these|they|them|their|there|he|she|him|her|then|one|same|instead|also|"
    r"what about|how about|and if|what if|else)\b|^(and|but|so|ok|okay|then|what about|how about)\b",
    re.I,
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


def is_follow_up(question: str) -> bool:
    words = re.findall(r"\w+", question)
    return len(words) <= 4 or bool(_FOLLOW_UP.search(question))


# Parents' words -> the words the law and the knowledge base use, added to the search (not shown to anyone).
_SYNONYMS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\b(say|said|says|saying) no\b|\bturn(ed|s)? (us|him|her|them|it|me)? ?down\b|\brejected\b|"
                r"\bknocked back\b|\bdenied\b|\bwon'?t (assess|do|give|issue)\b", re.I), "refuse refusal"),
    (re.compile(r"\b(ehcp|echp|ehc ?p|education health care plan)\b", re.I), "EHC plan"),
    (re.compile(r"\b(ehcna|ehc ?na|ehna)\b", re.I), "EHC needs assessment"),
    (re.compile(r"\b(sendco|senco|senco's)\b", re.I), "SENCO special educational needs co-ordinator"),
    (re.compile(r"\b(LA|local authority|SEN team|SEND team)\b"), "council"),
    (re.compile(r"\b(kicked out|sent home|excluded|exclusion|suspended)\b", re.I), "exclusion suspension"),
    (re.compile(r"\b(half days?|part[- ]time|reduced timetable|short days|shortened days?|mornings? only|"
                r"afternoons? only|only (in )?(the )?(mornings?|afternoons?)|reduced hours|few hours a day)\b", re.I),
     "part-time timetable"),
    (re.compile(r"\b(uni|university|higher education|degree)\b", re.I), "university higher education"),
    (re.compile(r"\b(health visitor|paediatrician|nhs)\b[^.?!]{0,60}\b(notif\w*|tell|told|inform\w*)\b|"
                r"\b(notif\w*|tell|told|inform\w*)\b[^.?!]{0,40}\b(health visitor|paediatrician)\b", re.I),
     "section 23 notification health body tells the council"),
    (re.compile(r"\b(no|not have an?|doesn'?t have an?|without an?|hasn'?t got an?)\s+(ehcp|ehc plan|plan)\b", re.I),
     "SEN support what the school has to do best endeavours"),
    (re.compile(r"\b(bus|taxi|minibus|travel to school|lift to school)\b", re.I), "school transport"),
    (re.compile(r"\b(deadline|time ?limit|how long|how many weeks|how quickly)\b", re.I), "weeks deadline"),
    (re.compile(r"\b(tribunal|appeal)\b", re.I), "SEND Tribunal appeal"),
    (re.compile(r"\b(ombudsman)\b", re.I), "Local Government and Social Care Ombudsman complaint"),
    (re.compile(r"\b(ofsted|cqc)\b[^.?!]{0,30}\b(find|found|say|said|report\w*)\b", re.I),
     "what did inspectors find inspection"),
]


# Abbreviations the synonym table explains, so they count as known words.
KNOWN_ABBREVIATIONS = frozenset({"ehcp", "echp", "ehcna", "ehna", "sendco", "senco"})


def expand(text: str) -> str:
    extra = [terms for pattern, terms in _SYNONYMS if pattern.search(text)]
    return f"{text} ({' '.join(extra)})" if extra else text


def retrieval_query(question: str, history: list[dict], max_user_turns: int = 2, expand_terms: bool = True) -> str:
    """The question alone, or, for a follow-up, the question followed by the user's recent turns."""
    earlier = [m["content"] for m in history if m["role"] == "user"][-max_user_turns:]
    text = question if not earlier or not is_follow_up(question) else " ".join([question, *reversed(earlier)])
    return expand(text) if expand_terms else text


_QUESTION_START = re.compile(r"^(what|how|when|where|who|which|why|can|could|do|does|did|is|are|will|would|should|"
                             r"must|have|has|may)\b", re.I)


def question_focus(message: str, min_words: int = 25) -> str:
    """The questions inside a long message, without the story around them ("...he's in year 5. What can I do?").

    A parent's background dilutes a search; the sentences that ask something say what to look for.
    Returns "" when the message is short or asks nothing separable.
    """
    if len(message.split()) < min_words:
        return ""
    sentences = [p.strip() for p in re.split(r"(?<=[.?!])\s+|\n+", message) if p.strip()]
    asked = [p for p in sentences if p.endswith("?") or _QUESTION_START.match(p)]
    focus = " ".join(asked)
    return focus if asked and len(focus.split()) < len(message.split()) else ""
