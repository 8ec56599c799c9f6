"""Stage 4, the ways people reach the guide: the JSON API, the web page, feedback and rate limits."""
