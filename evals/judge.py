"""Optional LLM-as-judge scores (faithfulness, correctness) through any OpenAI-compatible chat endpoint.

Off by default: the release gates are the deterministic metrics. Configure with GUIDE_JUDGE_URL (e.g.
http://127.0.0.1:8080/v1), GUIDE_JUDGE_MODEL and, if the endpoint needs one, GUIDE_JUDGE_API_KEY.
"""

from __future__ import annotations

import json
import os
import urllib.request

PROMPT = """You are checking an answer given to a parent about the SEND system in England.
Question (last turn): {question}
Reference answer: {reference}
Answer given: {answer}
Quoted sources: {quotes}

Reply with JSON only: {{"faithfulness": 0-1 (is every claim in the answer supported by the quoted sources?),
"correctness": 0-1 (does the answer agree with the reference answer?), "comment": "one sentence"}}"""


class JudgeError(RuntimeError):
    pass


def _ask(url: str, model: str, key: str, prompt: str) -> dict:
    body = json.dumps({"model": model, "temperature": 0, "messages": [{"role": "user", "content": prompt}]}).encode()
    request = urllib.request.Request(url.rstrip("/") + "/chat/completions", data=body,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {key}"} if key else {})})
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - operator-configured URL
        content = json.load(response)["choices"][0]["message"]["content"]
    start, end = content.find("{"), content.rfind("}")
    if start < 0:
        raise JudgeError(f"the judge did not reply with JSON: {content[:200]!r}")
    return json.loads(content[start : end + 1])


def judge_results(results: list[dict]) -> None:
    url, model = os.environ.get("GUIDE_JUDGE_URL", ""), os.environ.get("GUIDE_JUDGE_MODEL", "")
    if not url or not model:
        raise JudgeError("--judge needs GUIDE_JUDGE_URL and GUIDE_JUDGE_MODEL")
    key = os.environ.get("GUIDE_JUDGE_API_KEY", "")
    for r in results:
        if r["behaviour"] != "answer":
            continue
        quotes = " | ".join(c["quote"] for c in r["citation_list"])
        r["judge"] = _ask(url, model, key, PROMPT.format(question=r["turns"][-1], reference=r["reference_answer"],
                                                         answer=r["answer"], quotes=quotes))
