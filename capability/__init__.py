"""capability: predict a large model's code-generation capability from a ladder of small ones.

The "predictable scaling" method of the GPT-4 technical report (section 3.2): per-problem pass
rates of small models, six difficulty buckets, and per bucket the law
``-E_P[log pass_rate(C)] = alpha * C**(-k)`` extrapolated to the target's training compute.
"""

__version__ = "0.1.0"
