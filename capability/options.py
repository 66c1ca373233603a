"""The names of the method's choices, in a module that imports nothing heavy: the command
line builds its ``--help`` from them without loading numpy's and scipy's numerical stacks
(which would put a second on the start of every command, ``capability execute`` included).
The modules that implement each choice import them from here."""

ZERO_POLICIES = ("exclude", "keep", "jeffreys")
DIFFICULTIES = ("mean-pass-rate", "largest-model")
SPLITS = ("equal-count", "equal-width")
NEG_LOG_ESTIMATORS = ("series", "jeffreys", "plugin")
LAW_NAMES = ("power", "problem_power", "logistic", "bent", "ceiling", "two_step", "no_change",
             "linear")
SIMULATED_KINDS = ("clean", "spread", "emergence", "ceilings", "saturating", "few-samples",
                   "inverse", "irregular", "interaction", "slowing", "family")
# The fewest ladder models (besides the target) a prediction is made from.
MIN_LADDER_MODELS = 3
# The weights' dtype a local transformers model is loaded in ("auto": the checkpoint's own).
TRANSFORMERS_DTYPES = ("auto", "float32", "bfloat16", "float16")
# What passes in EvalPlus's results: its base tests, or base and plus tests both.
EVALPLUS_TESTS = ("base", "plus")
