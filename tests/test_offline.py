"""The guide must work with no network: tiktoken's encodings and the embedding model come from packages."""

import subprocess
import sys
import textwrap

import pytest

from guide.index.embeddings import DEFAULT_MODEL_SHA256, Embedder, EmbeddingModelError

NO_NETWORK = textwrap.dedent(
    """
    import socket
    def _refuse(*args, **kwargs):
        raise OSError("network disabled by the test")
    socket.socket.connect = _refuse
    socket.create_connection = _refuse
    socket.getaddrinfo = _refuse
    """
)


def _run(code: str, env_extra: dict | None = None, tmp_path=None) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "TIKTOKEN"))}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", NO_NETWORK + code], capture_output=True, text=True, env=env,
                          timeout=300)


def test_tiktoken_loads_with_networking_unavailable(tmp_path):
    result = _run(
        f"""
from pathlib import Path
from guide.offline import ensure_tiktoken_encoding
enc = ensure_tiktoken_encoding("cl100k_base", Path({str(tmp_path)!r}))
assert enc.decode(enc.encode("EHC needs assessment")) == "EHC needs assessment"
from guide.knowledge.chunking import Chunker
Chunker(200, 20, "o200k_base", Path({str(tmp_path)!r}))
print("ok", len(enc.encode("hello world")))
"""
    )
    assert result.returncode == 0, result.stderr
    assert "ok 2" in result.stdout


def test_unknown_encoding_is_a_clear_error(tmp_path):
    from guide.offline import OfflineError, ensure_tiktoken_encoding

    with pytest.raises(OfflineError, match="GUIDE_TIKTOKEN_ENCODING"):
        ensure_tiktoken_encoding("p50k_base", tmp_path)


def test_default_model_loads_offline_without_the_user_setting_switches():
    result = _run(
        """
from guide.index.embeddings import Embedder
e = Embedder()
v = e.embed_query("How long does the council have to decide?")
import os
assert os.environ["HF_HUB_OFFLINE"] == "1"
print("dim", e.dimension, round(float((v * v).sum()), 3))
"""
    )
    assert result.returncode == 0, result.stderr
    assert "dim 384 1.0" in result.stdout


def test_weights_hash_is_checked():
    with pytest.raises(EmbeddingModelError, match="sha256"):
        Embedder(expected_sha256="0" * 64)
    assert len(DEFAULT_MODEL_SHA256) == 64


def test_unavailable_model_name_fails_fast_with_advice():
    with pytest.raises(EmbeddingModelError, match="GUIDE_EMBEDDING_MODEL"):
        Embedder("no-such-org/no-such-model")
