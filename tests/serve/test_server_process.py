"""`guide serve` as operators run it, in its own process: what it logs, what it believes, what it refuses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from guide.serve.api import create_app, server_config
from tests.live_server import free_socket, url_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served(guide, config, tmp_path_factory):
    """`guide serve` on the session's index with INFO logging, a rate limit of 4 and its own Gradio temp folder."""
    tmp = tmp_path_factory.mktemp("serve")
    sock = free_socket()
    port, url = sock.getsockname()[1], url_of(sock)
    sock.close()
    env = {**os.environ, "GUIDE_DATA_DIR": str(config.data_dir), "GUIDE_KNOWLEDGE_DIR": str(config.knowledge_dir),
           "GUIDE_LOG_LEVEL": "INFO", "GUIDE_RATE_LIMIT_PER_MINUTE": "4", "GRADIO_TEMP_DIR": str(tmp / "gradio"),
           "TMPDIR": str(tmp / "tmp"), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    env.pop("FORWARDED_ALLOW_IPS", None)
    (tmp / "tmp").mkdir()
    log = tmp / "stderr.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "guide", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=err, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "guide serve did not start"
            time.sleep(0.5)
        yield url, log, tmp
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_uploads_are_refused_and_nothing_is_written(served):
    url, _, tmp = served
    def files() -> set[Path]:
        return {p for p in tmp.rglob("*") if p.is_file() and p.name != "stderr.log"}

    before = files()
    payload = b"%PDF-1.4 " + b"x" * 2_000_000
    for path in ("/gradio_api/upload", "/embed/gradio_api/upload", "/gradio_api/upload?upload_id=abc"):
        response = httpx.post(f"{url}{path}", files={"files": ("letter.pdf", payload, "application/pdf")}, timeout=30)
        assert response.status_code == 403, (path, response.status_code, response.text[:200])
        assert "does not take files" in response.json()["error"]
    time.sleep(0.5)  # Gradio moves uploads into its cache in a background task
    assert files() == before


def test_guide_log_level_is_honoured_and_logs_hold_no_session_ids_or_queries(served):
    url, log, _ = served
    assert httpx.post(f"{url}/api/ask", json={"question": "What is a SENCO?"}, timeout=60).status_code == 200
    httpx.get(f"{url}/api/health?session_hash=q7secretquery9", timeout=10)
    try:
        with httpx.stream("GET", f"{url}/gradio_api/heartbeat/h4secretpath77", timeout=3) as stream:
            next(stream.iter_bytes(), None)
    except httpx.TimeoutException:
        pass
    time.sleep(0.5)
    text = log.read_text()
    assert "INFO guide.answer.pipeline: ask 'What is a SENCO?'" in text, text[-2000:]  # GUIDE_LOG_LEVEL=INFO
    assert '"GET /api/health HTTP/1.1" 200' in text  # the access log is on, without what follows the path
    assert "q7secretquery9" not in text and "h4secretpath77" not in text and "session_hash" not in text


def test_forwarded_headers_from_anyone_do_not_reset_the_rate_limit(served):
    url, _, _ = served
    codes = [httpx.post(f"{url}/api/ask", json={"question": "What is a SENCO?"},
                        headers={"X-Forwarded-For": f"203.0.113.{i}"}, timeout=60).status_code for i in range(6)]
    assert 429 in codes, codes


def test_forwarded_headers_from_a_named_proxy_are_believed(guide, config):
    import threading

    import uvicorn

    app = create_app(guide, config.replace(rate_limit_per_minute=1))
    sock = free_socket()
    server = uvicorn.Server(server_config(app, config.replace(forwarded_allow_ips=("127.0.0.1",))))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        url = url_of(sock)
        codes = [httpx.post(f"{url}/api/ask", json={"question": "What is a SENCO?"},
                            headers={"X-Forwarded-For": f"198.51.100.{i}"}, timeout=60).status_code for i in range(3)]
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
    assert codes == [200, 200, 200]  # each forwarded client has its own budget behind a trusted proxy
