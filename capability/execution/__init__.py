"""Samples to results: runs completions through the sandbox, resumable (I/O)."""
