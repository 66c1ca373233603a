"""Difficulty buckets: partition, order, hold-out, zero policy, options and validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capability.estimation.buckets import TiedSplit, assign_buckets


def _counts(rates, n=100):
    rates = np.atleast_2d(rates)
    return np.full(rates.shape, n), np.round(rates * n).astype(int)


def test_buckets_order_hold_out_and_sizes():
    rates = np.linspace(0.99, 0.05, 40)[np.random.default_rng(0).permutation(40)]
    n, c = _counts(np.vstack([rates * 0.5, rates]))
    ids = [f"t{i}" for i in range(40)]
    ba = assign_buckets(n, c, ids, n_buckets=6, hold_out=4)
    assert [len(b) for b in ba.buckets] == [6, 6, 6, 6, 6, 6]
    assert len(ba.held_out) == 4 and ba.excluded == ()
    score = {t: s for t, s in zip(ids, (c / n).mean(0))}
    flat = [t for b in ba.buckets for t in b]
    assert all(score[a] >= score[b] for a, b in zip(flat, flat[1:]))  # easiest first
    assert min(score[t] for t in flat) >= max(score[t] for t in ba.held_out)
    assert ba.bucket_of(ba.buckets[0][0]) == 1 and ba.bucket_of(ba.held_out[0]) is None


def test_zero_policy_exclude_and_keep():
    rates = np.array([[0.5, 0.0, 0.3, 0.9, 0.8, 0.7, 0.6, 0.4],
                      [0.6, 0.1, 0.4, 0.95, 0.85, 0.75, 0.65, 0.0]])
    n, c = _counts(rates)
    ids = list("abcdefgh")
    ba = assign_buckets(n, c, ids, n_buckets=2, hold_out=1)
    assert ba.excluded == ("b", "h")
    ba_keep = assign_buckets(n, c, ids, n_buckets=2, hold_out=1, zero_policy="keep")
    assert ba_keep.excluded == () and ba_keep.held_out == ("b",)


def test_largest_model_difficulty_and_equal_width_split():
    rates = np.array([[0.9, 0.1, 0.5, 0.5, 0.5],
                      [0.2, 0.8, 0.9, 0.6, 0.3]])
    n, c = _counts(rates)
    ids = list("abcde")
    ba = assign_buckets(n, c, ids, n_buckets=5, hold_out=0, difficulty="largest-model")
    assert [b[0] for b in ba.buckets] == ["c", "b", "d", "e", "a"]
    ew = assign_buckets(n, c, ids, n_buckets=2, hold_out=0, split="equal-width",
                        difficulty="largest-model")
    assert set(ew.buckets[0]) == {"b", "c", "d"} and set(ew.buckets[1]) == {"a", "e"}


def test_ties_across_an_edge_are_named_with_where_they_fall():
    # Five problems no model solved (ids e1..e5) among distinct others; 3 held out and
    # buckets of 3: the hardest bucket takes two of them, which two their task ids say.
    rates = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
                      [0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.0, 0.0, 0.0, 0.0, 0.0]])
    n, c = _counts(rates)
    ids = [f"d{i}" for i in range(7)] + [f"e{i}" for i in range(1, 6)]
    ba = assign_buckets(n, c, ids, n_buckets=3, hold_out=3, zero_policy="keep")
    assert ba.buckets[2] == ("d6", "e1", "e2") and ba.held_out == ("e3", "e4", "e5")
    assert ba.ties == (TiedSplit(problems=5, buckets=(3,), held_out=3, score=0.0),)
    # Not moved by the input order: the same counts, the tied problems listed backwards.
    order = list(range(7)) + list(range(11, 6, -1))
    back = assign_buckets(n[:, order], c[:, order], [ids[i] for i in order], n_buckets=3,
                          hold_out=3, zero_policy="keep")
    assert (back.buckets, back.held_out, back.ties) == (ba.buckets, ba.held_out, ba.ties)
    # Task-id order is natural (e9 before e10), not the text's (e10 before e9).
    named = ids[:7] + ["e10", "e9", "e11", "e100", "e2"]
    nat = assign_buckets(n, c, named, n_buckets=3, hold_out=3, zero_policy="keep")
    assert nat.buckets[2] == ("d6", "e2", "e9") and nat.held_out == ("e10", "e11", "e100")
    # Held out 5: the tie sits wholly in the hold-out, and nothing straddles an edge.
    assert assign_buckets(n, c, ids, n_buckets=3, hold_out=5, zero_policy="keep").ties == ()
    # Within the buckets: 4 problems of one rate, buckets of 2, straddle buckets 1 to 3
    # where the hold-out takes none of them.
    n2, c2 = _counts(np.array([[0.5, 0.5, 0.5, 0.5, 0.9, 0.1]]))
    tied = assign_buckets(n2, c2, list("abcdef"), n_buckets=3, hold_out=0)
    assert tied.buckets == (("e", "a"), ("b", "c"), ("d", "f"))
    assert tied.ties == (TiedSplit(problems=4, buckets=(1, 2, 3), held_out=0, score=0.5),)
    # Distinct counts: no tie. Equal-width splits: ties share a bin, so only the hold-out
    # can split them.
    n3, c3 = _counts(np.linspace(0.9, 0.1, 9))
    assert assign_buckets(n3, c3, list("abcdefghi"), n_buckets=3, hold_out=2).ties == ()
    assert assign_buckets(n2, c2, list("abcdef"), n_buckets=3, hold_out=0,
                          split="equal-width").ties == ()


def test_largest_model_ties_need_the_mean_equal_too():
    # b and c: the largest model's rate equal, their means not -- the mean orders them.
    # c and d: both equal -- a tie.
    rates = np.array([[0.9, 0.2, 0.4, 0.4, 0.1],
                      [0.9, 0.5, 0.5, 0.5, 0.1]])
    n, c = _counts(rates)
    ba = assign_buckets(n, c, list("abcde"), n_buckets=2, hold_out=1,
                        difficulty="largest-model")
    assert ba.buckets == (("a", "c"), ("d", "b"))
    assert ba.ties == (TiedSplit(problems=2, buckets=(1, 2), held_out=0, score=0.5),)


@settings(max_examples=50, deadline=None)
@given(n_problems=st.integers(8, 60), n_buckets=st.integers(1, 7), hold=st.integers(0, 5),
       seed=st.integers(0, 10_000), split=st.sampled_from(["equal-count", "equal-width"]))
def test_buckets_partition_the_problems(n_problems, n_buckets, hold, seed, split):
    rng = np.random.default_rng(seed)
    n = np.full((3, n_problems), 50)
    c = rng.integers(0, 51, size=(3, n_problems))
    ids = [f"t{i}" for i in range(n_problems)]
    try:
        ba = assign_buckets(n, c, ids, n_buckets=n_buckets, hold_out=hold, split=split)
    except ValueError as err:
        assert "are needed: the" in str(err) and "Lower --hold-out or --buckets" in str(err)
        return
    parts = [t for b in ba.buckets for t in b] + list(ba.held_out) + list(ba.excluded)
    assert sorted(parts) == sorted(ids)
    assert len(ba.buckets) == n_buckets
    # The problems given in another order are bucketed alike (ties go in task-id order).
    perm = rng.permutation(n_problems)
    shuffled = assign_buckets(n[:, perm], c[:, perm], [ids[i] for i in perm],
                              n_buckets=n_buckets, hold_out=hold, split=split)
    assert (shuffled.buckets, shuffled.held_out, shuffled.ties) == \
        (ba.buckets, ba.held_out, ba.ties)
    assert set(shuffled.excluded) == set(ba.excluded)
    # Every difficulty found in two places (buckets, or a bucket and the hold-out) is one
    # tie, which counts every kept problem of that difficulty and names those places. (A
    # mean of equal fractions can differ in its last bits: 12 decimals are one difficulty.)
    places = {}
    for b, ids_b in enumerate(ba.buckets, start=1):
        for t in ids_b:
            places.setdefault(round(ba.difficulty[t], 12), []).append(b)
    for t in ba.held_out:
        places.setdefault(round(ba.difficulty[t], 12), []).append(0)
    split_scores = {s for s, where in places.items() if len(set(where)) > 1}
    assert {round(tie.score, 12) for tie in ba.ties} == split_scores
    for tie in ba.ties:
        where = places[round(tie.score, 12)]
        assert tie.problems == len(where) and tie.held_out == where.count(0)
        assert tie.buckets == tuple(sorted({b for b in where if b}))


@pytest.mark.parametrize("kwargs, match", [
    ({"n_buckets": 0}, "`n_buckets` must be an integer >= 1"),
    ({"hold_out": -1}, "`hold_out` must be an integer >= 0"),
    ({"zero_policy": "drop"}, "`zero_policy` must be one of"),
    ({"split": "random"}, "`split` must be one of"),
    ({"difficulty": "vibes"}, "`difficulty` must be one of"),
    ({"hold_out": 9}, "10 problems remain .* 15 are needed"),
])
def test_assign_buckets_validation(kwargs, match):
    n, c = _counts(np.full((2, 10), 0.5))
    with pytest.raises(ValueError, match=match):
        assign_buckets(n, c, [f"t{i}" for i in range(10)], **kwargs)


def test_assign_buckets_shape_checks():
    n, c = _counts(np.full((2, 4), 0.5))
    with pytest.raises(ValueError, match="one entry per problem"):
        assign_buckets(n, c, ["a", "b"], n_buckets=1, hold_out=0)
    with pytest.raises(ValueError, match="same shape"):
        assign_buckets(n, c[:, :3], list("abcd"), n_buckets=1, hold_out=0)


@pytest.mark.parametrize("policy, advises_keep", [("exclude", True), ("keep", False),
                                                   ("jeffreys", False)])
def test_too_few_problems_advises_keep_only_where_problems_were_excluded(policy, advises_keep):
    n, c = _counts(np.full((2, 10), 0.5))
    with pytest.raises(ValueError, match="11 are needed") as err:
        assign_buckets(n, c, [f"t{i}" for i in range(10)], n_buckets=2, hold_out=9,
                       zero_policy=policy)
    assert ("--zero-policy keep" in str(err.value)) is advises_keep
