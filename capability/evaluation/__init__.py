"""Batch evaluation: pass@k with intervals and paired comparisons (``passk.py``, pure),
and the command's I/O (``evaluate.py``)."""
