"""Scoring against a measured target counts the measurement's own noise."""

import numpy as np
import pandas as pd
import pytest

from capability.errors import InputError
from capability.prediction.scales import SCALES
from capability.records.score import score_prediction

T = SCALES["mean_pass_rate"]


def _case(rng, n_samples, sd=0.01, problems=25):
    """A bucket with known per-problem pass rates, a prediction calibrated for its true mean
    (error N(0, sd^2) on the angular scale, interval +- 1.645 sd), and the target's counts
    from ``n_samples`` samples per problem."""
    p = rng.beta(2, 1, size=problems)
    ids = [f"T/{i}" for i in range(problems)]
    t_pred = float(T.forward(p.mean())) + sd * rng.standard_normal()
    half = 1.6448536 * sd
    pred = {"predicted": float(T.inverse(t_pred)), "lower": float(T.inverse(t_pred - half)),
            "upper": float(T.inverse(t_pred + half))}
    none = {"predicted": None, "lower": None, "upper": None}
    prediction = {"target": "big", "level": 0.9, "settings": {"estimator": "series"},
                  "buckets": [{"bucket": 1, "task_ids": ids, "mean_pass_rate": pred,
                               "neg_log_pass_rate": none}]}
    counts = pd.DataFrame({"task_id": ids, "n": n_samples,
                           "c": rng.binomial(n_samples, p)})
    return prediction, counts


def test_agreement_rate_matches_the_level_where_inside_undercounts():
    """400 buckets whose predictions are calibrated at 90% for the true value, measured
    with 10 samples per problem: "agrees" (both uncertainties) holds at close to 0.9, the
    plain "inside" rule far less (measured with these seeds: agrees 0.90, inside 0.43); with
    2000 samples the two rules agree (0.905 and 0.90)."""
    rng = np.random.default_rng(0)
    rates = {}
    for n_samples in (10, 2000):
        agree, inside = [], []
        for _ in range(400):
            prediction, counts = _case(rng, n_samples)
            b = score_prediction(prediction, counts)["buckets"][0]["mean_pass_rate"]
            agree.append(b["agrees"])
            inside.append(b["inside"])
            assert b["actual_lower"] <= b["actual"] <= b["actual_upper"]
        rates[n_samples] = (np.mean(agree), np.mean(inside))
    assert 0.85 <= rates[10][0] <= 0.95 and rates[10][1] < 0.6, rates
    assert 0.85 <= rates[2000][0] <= 0.95 and 0.83 <= rates[2000][1] <= 0.95, rates


def test_overall_counts_agreement_and_inside():
    prediction, counts = _case(np.random.default_rng(1), 10)
    score = score_prediction(prediction, counts)
    o = score["overall"]["mean_pass_rate"]
    assert o["intervals"] == 1 and o["intervals_agreeing"] in (0, 1)
    assert "agrees" in score["agreement_rule"]
    assert score["overall"]["neg_log_pass_rate"]["intervals"] == 0


@pytest.mark.parametrize("change, match", [
    # Every model's rows: each task's rows would all be read as the target's (no error).
    (lambda c: pd.concat([c.assign(model="big"), c.assign(model="m1", c=0)]),
     r"expected the target's counts alone, found 2 models \(big, m1\)"),
    (lambda c: pd.concat([c, c.iloc[:1]]), "found task 'T/0' more than once"),
    (lambda c: c.rename(columns={"c": "passed"}), r"\(missing c\)"),
    (lambda c: c.assign(n=c["n"] + 0.5), r"whole numbers in column 'n', found 10\.5 for "
     r"task 'T/0'"),
    (lambda c: c.assign(c=c["n"] + 1), "0 <= c <= n, found n = 10, c = 11"),
    (lambda c: c.to_dict("records"), "expected a pandas DataFrame"),
])
def test_bad_target_counts_are_named_not_scored(change, match):
    prediction, counts = _case(np.random.default_rng(1), 10)
    with pytest.raises(InputError, match=match):
        score_prediction(prediction, change(counts))
    one_model = counts.assign(model="big")          # the target's rows with its name: fine
    assert score_prediction(prediction, one_model)["buckets"][0]["mean_pass_rate"]["actual"] \
        == score_prediction(prediction, counts)["buckets"][0]["mean_pass_rate"]["actual"]


def test_a_prediction_that_is_not_one_is_named():
    _, counts = _case(np.random.default_rng(1), 10)
    for wrong, found in (({}, "no keys"), ({"folds": []}, "keys 'folds'"), ([], "list")):
        with pytest.raises(InputError, match=f"prediction: expected a prediction.json "
                           f"dictionary .*found {found}"):
            score_prediction(wrong, counts)


def test_a_bound_off_by_rounding_holds_and_a_miss_prints_as_one():
    """A measured 1 against an upper bound 1 - 2e-16 (pass@100's product form) is inside;
    a measured value just outside prints with the digits that show it outside."""
    from capability.estimation.interval import ConfidenceInterval
    from capability.reports.table import format_score

    def holds(lower, value, upper):
        return ConfidenceInterval(lower, upper).contains(value)

    assert holds(0.99, 1.0, 1.0 - 2e-16) and holds(0.5, 0.5 - 1e-15, 0.6)
    assert not holds(0.99, 1.0, 1.0 - 1e-9) and not holds(0.5, 0.4999, 0.6)
    prediction, counts = _case(np.random.default_rng(1), 10)
    score = score_prediction(prediction, counts)
    score["overall"]["pass_at_k"] = {"10": {
        "predicted": 0.99734, "lower": 0.996452, "upper": 0.99806, "actual": 0.996351,
        "actual_lower": 0.99553, "actual_upper": 0.99709, "agrees": True, "inside": False}}
    line = format_score(score).splitlines()[-1]
    assert line == ("headline pass@10: predicted 0.9973 [0.9965, 0.9981], measured 0.9964 "
                    "[0.9955, 0.9971]: agrees (outside the interval)"), line
    score["overall"]["pass_at_k"]["10"].update(actual=0.99700, inside=True)
    assert "predicted 0.997 [0.996, 0.998], measured 0.997" in format_score(score)
