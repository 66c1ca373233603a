"""The prediction (pure): rolling backtests, law choice and calibrated intervals, the
headline pass@k, and ``predict`` that assembles them (in ``predict.py``)."""
