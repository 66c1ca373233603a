"""The memo behind the pooled fits and the bend profile: keys that tell inputs apart, least
recently used dropped first."""

import threading

import numpy as np

from capability.laws._memo import Memo, digest


def test_digest_tells_values_shapes_and_extras_apart():
    a = np.arange(6.0)
    assert digest(a, extra=("logit", 1)) == digest(a.copy(), extra=("logit", 1))
    assert digest(a) != digest(a + 1e-12)
    assert digest(a, extra=("logit",)) != digest(a, extra=("loglog",))
    # Integer and float arrays of the same values are one key (the fits read them as floats).
    assert digest(np.arange(6)) == digest(a)


def test_memo_returns_the_stored_result_and_drops_the_least_recently_used():
    memo, calls = Memo(2), []

    def compute(v):
        def run():
            calls.append(v)
            return [v]
        return run

    first = memo.get("a", compute(1))
    assert memo.get("a", compute(99)) is first and calls == [1]
    memo.get("b", compute(2))
    memo.get("a", compute(99))          # "a" used last: "b" is the one dropped next
    memo.get("c", compute(3))
    assert memo.get("a", compute(99)) is first
    assert memo.get("b", compute(4)) == [4] and calls == [1, 2, 3, 4]
    memo.clear()
    assert memo.get("a", compute(5)) == [5]


def test_memo_of_size_zero_keeps_nothing_and_threads_agree():
    memo = Memo(0)
    assert memo.get("k", lambda: 1) == 1 and memo.get("k", lambda: 2) == 2
    shared, out = Memo(4), []
    threads = [threading.Thread(target=lambda: out.append(shared.get("k", lambda: 7)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [7] * 8
