"""Evaluation harness for the SEND process guide: runs datasets through the public `Guide.ask` API."""
