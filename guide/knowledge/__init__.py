"""Stage 1, the knowledge base in: load and validate documents, check readability, chunk."""
