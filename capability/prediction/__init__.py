"""The prediction (pure): rolling backtests (``rolling.py``), the models' offsets from their
family's trend (``offsets.py``), the backtests' error model (``law_error.py``), the laws'
weighing (``selection.py``), calibrated intervals (``calibrate.py``) on their scales
(``scales.py``), the headline pass@k, and ``predict`` that assembles them (``predict.py``)."""
