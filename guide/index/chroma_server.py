"""Start and stop a local Chroma server (`chroma run`, shipped with chromadb) for tests, benchmarks and one-machine
set-ups. Production runs the server as its own service; see README "Running at scale"."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


class ChromaServerError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stop_process_group(process: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a child started with start_new_session=True and everything it started: politely, then by force."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=5)


def chroma_executable() -> str:
    """The `chroma` command beside this Python (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        raise ChromaServerError("the `chroma` command is not installed (it comes with chromadb: pip install -e .)")
    return found


class ChromaServer:
    """`chroma run --host 127.0.0.1 --port <free> --path <path>` as a child process.

    with ChromaServer(tmp_path / "chroma") as server:
        ... Config(chroma_url=server.url) ...
    """

    def __init__(self, path: Path, host: str = "127.0.0.1", port: int | None = None, log_path: Path | None = None):
        self.path = Path(path)
        self.host = host
        self.port = port or free_port(host)
        self.log_path = Path(log_path) if log_path else self.path.parent / f"{self.path.name}-server.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def heartbeat(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout: float = 60.0) -> ChromaServer:
        self.path.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        with open(self.log_path, "ab") as log:
            # Its own process group, so stopping it also stops anything it started.
            self.process = subprocess.Popen(
                [chroma_executable(), "run", "--host", self.host, "--port", str(self.port), "--path", str(self.path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ChromaServerError(f"chroma run exited with {self.process.returncode}; see {self.log_path}")
            if self.heartbeat():
                return self
            time.sleep(0.1)
        self.stop()
        raise ChromaServerError(f"the Chroma server did not answer within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process_group(process, timeout=15)

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
