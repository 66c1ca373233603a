"""Simulated ladders with known truth (``simulate.py``) and the local OpenAI-compatible
server that serves them (``simserver.py``)."""
