"""Registered predictions and what is measured against them: immutable records (I/O),
scores and backtests (pure)."""
