"""Stage 2, the index: embeddings, building a new index, the store a guide queries, the Chroma server."""
