"""Health that tells the truth: the Chroma server killed under a running guide, then started again."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from guide.config import Config
from guide.core import Guide
from guide.index.chroma_server import ChromaServer, free_port
from guide.serve.api import create_app
from guide.serve.feedback import FeedbackStore


def test_chroma_down_is_a_plain_503_logged_once_and_recovers(small_kb, tmp_path, embedder, caplog):
    server = ChromaServer(tmp_path / "chroma", port=free_port()).start()
    try:
        config = Config.from_env(environ={}, knowledge_dir=small_kb, data_dir=tmp_path / "data",
                                 chroma_url=server.url, index_refresh_seconds=0, rate_limit_per_minute=0)
        guide = Guide(config, embedder=embedder)
        # The feedback store is broken too: the server starts and answers all the same.
        client = TestClient(create_app(guide, config, FeedbackStore(f"sqlite:///{tmp_path / 'no' / 'x' / 'f.db'}")))
        (tmp_path / "no").write_text("a file, so the feedback folder cannot be made")
        assert client.get("/api/health").json()["status"] == "ok"
        assert client.post("/api/ask", json={"question": "What is mediation?"}).status_code == 200

        server.stop()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            health = client.get("/api/health")
            replies = [client.post("/api/ask", json={"question": "What is mediation?"}) for _ in range(5)]
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        for reply in replies:
            assert reply.status_code == 503, reply.text
            assert reply.json()["error"].startswith("The guide cannot search its sources just now")
        assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1, caplog.text
        assert "Traceback" not in caplog.text

        server.start()
        assert client.get("/api/health").json()["status"] == "ok"
        assert client.post("/api/ask", json={"question": "What is mediation?"}).status_code == 200
    finally:
        server.stop()
