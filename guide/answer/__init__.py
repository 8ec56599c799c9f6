"""Stage 3, answering: the pipeline and its steps.

Guards, conversation (follow-ups), areas, retrieval, composing and redaction.
"""
