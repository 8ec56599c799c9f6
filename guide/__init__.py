"""SEND process guide: cited answers about special educational needs and disabilities in England.

    from guide import Guide
    guide = Guide.from_env()
    reply = guide.ask("How long does the council have to decide whether to assess my child?")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Guide", "Reply", "Citation", "Config"]

if TYPE_CHECKING:
    from .config import Config
    from .core import Guide
    from .reply import Citation, Reply


def __getattr__(name: str):
    # Lazy, so `import guide` (and the CLI's --help) does not pay for torch and Chroma.
    if name == "Guide":
        from .core import Guide

        return Guide
    if name == "Reply":
        from .reply import Reply

        return Reply
    if name == "Citation":
        from .reply import Citation

        return Citation
    if name == "Config":
        from .config import Config

        return Config
    raise AttributeError(f"module 'guide' has no attribute {name!r}")
