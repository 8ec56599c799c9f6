"""Tools a parent can use from the chat, the page and the API: their own statutory dates (deadlines.py) and model
letters (letters.py)."""
