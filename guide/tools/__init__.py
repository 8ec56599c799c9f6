"""The guide's tools: statutory dates and model letters."""
