"""Shared fixtures: one real embedding model and one real index built from knowledge/ per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def embedder():
    from guide.index.embeddings import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("guide-data")


@pytest.fixture(scope="session")
def config(data_dir):
    from guide.config import Config

    return Config.from_env(environ={}, knowledge_dir=ROOT / "knowledge", data_dir=data_dir)


@pytest.fixture(scope="session")
def guide(config, embedder):
    """The real pipeline over the real knowledge base (index built once for the session)."""
    from guide import Guide

    return Guide(config, embedder=embedder)


PHRASINGS = ("```parents-ask\nwhat is this thing\nwhat does this mean\ncan someone explain this to me\n"
             "no idea what this is, help\nis this something i need to know about\n```\n")
def phrasings_block(tag: str = "") -> str:
    """A valid parents-ask block; `tag` makes its lines unique when a test adds several sections to a document."""
    lines = ["what is this thing", "what does this mean", "can someone explain this to me",
             "no idea what this is, help", "is this something i need to know about"]
    return "```parents-ask\n" + "\n".join(f"{line} {tag}".strip() for line in lines) + "\n```\n"


BODY = "## What is this?\n\nSome text here.\n\n" + PHRASINGS


def write_doc(folder: Path, name: str, front: str, body: str = BODY) -> Path:
    path = folder / name
    path.write_text(f"---\n{front.strip()}\n---\n\n{body}", encoding="utf-8")
    return path


GOOD_FRONT = """
id: {id}
title: A test document
kind: guidance
summary: A document used by the tests.
sources:
  - title: Children and Families Act 2014, section 36
    url: https://www.legislation.gov.uk/ukpga/2014/6/section/36
    publisher: legislation.gov.uk
last_reviewed: 2026-11-23
"""


@pytest.fixture()
def small_kb(tmp_path):
    """Three real guidance documents in a knowledge folder of their own, for builds that must be quick."""
    kb = tmp_path / "knowledge"
    kb.mkdir()
    for doc_id in ("ehc-needs-assessment-timescales", "refusal-to-assess", "mediation"):
        shutil.copy(ROOT / "knowledge" / "guidance" / f"{doc_id}.md", kb / f"{doc_id}.md")
    return kb
