"""The stated rules' priors against real families' aggregate scores (a check, not a fit).

Two numbers in the method are priors that no ladder can calibrate from its own counts:

* the fallback rule (``FALLBACK_SIGMA``, ``FALLBACK_DOF`` in
  ``capability/prediction/calibrate.py``): with three ladder models there is no rolling
  backtest, and the law's error is taken as Student t with 3 degrees of freedom and scale
  0.2 per decade of extrapolation on the angular scale ``asin(sqrt(p))``;
* the offsets' spread (``TAU_SCALE``, ``ON_TREND_PRIOR`` in
  ``capability/prediction/offsets.py``): a family sits on its trend with probability 1/2,
  else its members sit ``N(0, tau^2)`` decades of effective compute off it, ``tau``
  half-Cauchy with scale 0.3 decades.

The real ladders with per-problem counts (``real_ladders()``) are three families. The
Observational Scaling Laws table (``real_families()``) holds the greedy HumanEval pass@1 of
15 base-model families with three or more members above 5 of 164 problems, with their
training compute; the EvalPlus leaderboard (``leaderboard_families()``) the greedy HumanEval+
pass@1 of seven code-model families of three or four sizes (compute as log size: it lists
no tokens). Per family and member it extrapolates a straight line in ``log10 C`` on the
angular scale:

* from the two members below (``short``: what a three-model ladder's fallback faces at
  the smallest distances), and from every member below when there are at least three
  (``ladder``), to the member's compute;
* the error per decade of distance beyond the largest member used, and whether the
  fallback rule's 90% interval (``t_3`` quantile times 0.2 per decade, the distance's
  decades) holds the measured value; the straight line's and no change's errors in points,
  and those of blends of the two (the line's growth shrunk towards no change).

Per family with four or more members it prints the residuals of the straight line through
all of them, in decades (the residual over the slope): the offsets' visible part, beside
the prior's scale. These are aggregates over 164 problems of one greedy sample each, not a
bucket's mean of sampled pass rates, and a straight line is not the method's laws: the
check says whether the priors are of the size real families show, not what the method's
intervals cover (``accuracy.py``'s real rows do that).

    python bench/priors.py
"""

from __future__ import annotations

import numpy as np
from real_ladders import (  # beside this script, on sys.path when run as one
    leaderboard_families,
    real_families,
)
from scipy import stats

from capability.prediction.calibrate import FALLBACK_DOF, FALLBACK_SIGMA
from capability.prediction.offsets import ON_TREND_PRIOR, TAU_SCALE
from capability.prediction.scales import SCALES

LEVEL = 0.9
ANGULAR = SCALES["mean_pass_rate"]   # asin(sqrt(p)), the fallback rule's scale


def extrapolation_steps(x: np.ndarray, p: np.ndarray, below: int | None) -> list[dict]:
    """Each member ``j`` predicted by the least-squares line of ``asin(sqrt(p))`` on ``x =
    log10 C`` through the ``below`` members just under it (every member under it when
    ``below`` is None, at least three): its distance ``d`` in decades beyond the largest of
    them, the line's error per decade on the angular scale (predicted minus measured, over
    ``d``), and the line's and no change's predictions of ``p``."""
    t = ANGULAR.forward(p)
    out = []
    for j in range(2 if below == 2 else 3, len(x)):
        used = slice(j - below if below else 0, j)
        d = x[j] - x[j - 1]
        if d <= 0:
            continue
        slope, intercept = np.polyfit(x[used], t[used], 1)
        fit = slope * x[j] + intercept
        out.append({"j": j, "d": float(d), "per_decade": float((fit - t[j]) / d),
                    "line": float(ANGULAR.inverse(fit)),
                    "no_change": float(p[j - 1]), "measured": float(p[j])})
    return out


def visible_offsets(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Residuals of the least-squares line of ``asin(sqrt(p))`` on ``log10 C`` over its
    slope: how many decades of compute each member sits off the family's straight line."""
    t = ANGULAR.forward(p)
    slope, intercept = np.polyfit(x, t, 1)
    return (t - (slope * x + intercept)) / slope


def main() -> None:
    z = stats.t.ppf(0.5 + LEVEL / 2, FALLBACK_DOF)
    sigma = FALLBACK_SIGMA["mean_pass_rate"]
    print(f"fallback rule: t_{FALLBACK_DOF:g}, scale {sigma:g} per decade (angular); its "
          f"{LEVEL:g} interval is +-{z * sigma:.3f} per decade, its median |error| "
          f"{stats.t.ppf(0.75, FALLBACK_DOF) * sigma:.3f} per decade")
    print(f"offsets' prior: on the trend with probability {ON_TREND_PRIOR:g}, else spread "
          f"tau ~ half-Cauchy({TAU_SCALE:g} decades)")
    for families, source, absent in (
            (real_families(), "HumanEval, base-model families (Observational Scaling Laws)",
             "obsscaling"),
            (leaderboard_families(), "HumanEval+, code-model families (EvalPlus "
             "leaderboard; compute as log size)", "evalplus-leaderboard")):
        print(f"\n== {source}")
        if not families:
            print(f"no families: ../shared/data/external/{absent} is absent")
            continue
        check(families, z, sigma)


def check(families: list[dict], z: float, sigma: float) -> None:
    """The extrapolation steps' errors against the fallback rule, and the visible offsets
    of the families of four or more members, printed."""
    for below, title in ((2, "short: from the two members below"),
                         (None, "ladder: from every member below (three or more)")):
        print(f"\n{title}")
        print(f"{'family':<16} {'member':<40} {'d':>5} {'err/dec':>8} {'held':>5} "
              f"{'measured':>8} {'line':>6} {'no_change':>9}")
        rows = []
        for f in families:
            for s in extrapolation_steps(np.log10(f["compute"]), f["pass_rate"], below):
                s["held"] = abs(s["per_decade"]) <= z * sigma
                rows.append(s)
                print(f"{f['name']:<16} {f['models'][s['j']]:<40} {s['d']:>5.2f} "
                      f"{s['per_decade']:>+8.3f} {str(s['held']):>5} {s['measured']:>8.3f} "
                      f"{s['line']:>6.3f} {s['no_change']:>9.3f}")
        if not rows:
            print("no steps")
            continue
        per = np.array([s["per_decade"] for s in rows])
        blended = {w: 100 * np.mean([abs(w * s["line"] + (1 - w) * s["no_change"]
                                         - s["measured"]) for s in rows])
                   for w in (0.25, 0.5, 0.75)}
        blend = "; ".join(f"{w:g}: {e:.2f}" for w, e in blended.items())
        print(f"signed error per decade: mean {per.mean():+.3f}, median {np.median(per):+.3f} "
              f"(positive: the line overshoots); w x line + (1 - w) x no change errs, in "
              f"points, {blend}")
        per = np.abs(per)
        print(f"{len(rows)} steps of {len({f['name'] for f in families})} families: |error| "
              f"per decade median {np.median(per):.3f}, 90th percentile "
              f"{np.quantile(per, 0.9):.3f}; the fallback's {LEVEL:g} interval holds "
              f"{np.mean([s['held'] for s in rows]):.2f}; mean error in points: line "
              f"{100 * np.mean([abs(s['line'] - s['measured']) for s in rows]):.2f}, no "
              f"change {100 * np.mean([abs(s['no_change'] - s['measured']) for s in rows]):.2f}")
    print("\nvisible offsets (families of four or more members)")
    for f in families:
        if len(f["models"]) >= 4:
            u = visible_offsets(np.log10(f["compute"]), f["pass_rate"])
            rms = np.sqrt(np.sum(u ** 2) / (len(u) - 2))
            print(f"{f['name']:<16} {len(u)} members: offsets "
                  f"{' '.join(f'{v:+.2f}' for v in u)} decades (rms {rms:.2f})")


if __name__ == "__main__":
    main()
