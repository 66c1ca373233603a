"""The files the pipeline reads and writes (I/O, no maths): problem sets, the ladder file,
counts files and JSONL."""
