"""The hybrid retriever behind LangChain's retriever interface (imported only when asked for: LangChain is slow
to import and answering questions does not need it)."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

from .retrieval import HybridRetriever


class GuideRetriever(BaseRetriever):
    """The hybrid retriever behind LangChain's retriever interface, for use in other LangChain pipelines."""

    retriever: HybridRetriever
    embed_query: object
    k: int = 5

    model_config = {"arbitrary_types_allowed": True}

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        hits = self.retriever.retrieve(query, self.embed_query(query), k=self.k)
        return [
            LCDocument(
                page_content=h.chunk.text,
                metadata={
                    "chunk_id": h.chunk.id,
                    "doc_id": h.chunk.doc_id,
                    "title": h.chunk.title,
                    "heading": h.chunk.heading,
                    "urls": list(h.chunk.urls),
                    "score": h.score,
                },
            )
            for h in hits
        ]
