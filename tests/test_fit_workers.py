"""The prediction's fits in several processes: the same prediction bit for bit, the work
really shared, errors and bad input reported (capability.prediction.fitting.run_fits)."""

import json
import multiprocessing
import os
import time

import pytest

import capability
from capability.cli import main
from capability.errors import InputError
from capability.laws import per_problem
from capability.prediction.fitting import run_fits
from capability.prediction.predict import PredictionSettings, predict


def _pid(tag, seconds=0.0):
    time.sleep(seconds)   # long enough for the other process's feeder to take a job
    return tag, os.getpid()


def _fail(message):
    raise ValueError(message)


def _prediction(ratios, law, workers):
    sim = capability.simulate_ladder(seed=3, n_problems=60, ratios=ratios)
    counts = sim.counts[sim.counts["model"] != sim.target]
    models = [(m, c, None) for m, c in sim.models]
    per_problem._fits.clear()   # each run fits afresh, not from the other's memo
    pred = predict(counts, models, target=sim.target, target_compute=sim.target_compute,
                   settings=PredictionSettings(n_resamples=100, law=law), workers=workers)
    return json.dumps(pred.to_dict(), sort_keys=True)


# One per-problem law (and the report's) where the rolling backtests run: they and the
# target's fits are what goes to the other process. The short backtest is made only when
# the laws are averaged.
@pytest.mark.parametrize("ratios, law", [((1000, 300, 100, 30, 10), "logistic"),
                                         ((100, 30, 10), "auto")],
                         ids=["rolling backtests", "short backtest"])
def test_fits_in_two_processes_give_the_same_prediction(ratios, law):
    assert _prediction(ratios, law, 2) == _prediction(ratios, law, 1)


def test_jobs_are_shared_with_other_processes_and_the_first_runs_here():
    counted = []
    jobs = [(k, _pid, (k, 0.5), {}, k + 1) for k in range(4)]
    out = run_fits(jobs, 2, counted.append)
    assert sorted(out) == [0, 1, 2, 3] and all(out[k][0] == k for k in out)
    pids = {pid for _, pid in out.values()}
    assert out[0][1] == os.getpid()             # the first (slowest) job stays here
    assert len(pids - {os.getpid()}) >= 1       # the others go to a worker process too
    assert sorted(counted) == [1, 2, 3, 4]      # every job's fits counted once
    alone = run_fits(jobs, 1)
    assert {pid for _, pid in alone.values()} == {os.getpid()}


def test_an_error_in_another_process_is_raised_here():
    jobs = [("a", _pid, ("a",), {}, 1), ("b", _fail, ("no fit for b",), {}, 1)]
    with pytest.raises(ValueError, match="no fit for b"):
        run_fits(jobs, 2)


def _in_pool_worker():
    out = run_fits([(k, _pid, (k,), {}, 1) for k in range(3)], 2)
    return sorted(out) == [0, 1, 2] and {pid for _, pid in out.values()} == {os.getpid()}


def test_a_daemonic_process_runs_every_job_itself():
    # a multiprocessing.Pool's workers may not start processes; loky's start would fail
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_in_pool_worker) is True


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_bad_workers_are_refused(workers):
    sim = capability.simulate_ladder(seed=3, n_problems=40)
    counts = sim.counts[sim.counts["model"] != sim.target]
    with pytest.raises(InputError, match="worker processes >= 1"):
        predict(counts, [(m, c, None) for m, c in sim.models], target=sim.target,
                target_compute=sim.target_compute, workers=workers)


def test_run_fits_in_as_many_processes_as_workers(tmp_path, monkeypatch):
    seen = []

    def recording(*args, **kwargs):
        seen.append(kwargs["workers"])
        return predict(*args, **{**kwargs, "workers": 1})

    monkeypatch.setattr("capability.pipeline.predict", recording)
    main(["simulate", "--out", str(tmp_path / "sim"), "--seed", "1", "--problems", "40"])
    ladder = str(tmp_path / "sim" / "ladder.toml")
    for extra, expected in ((["--workers", "3"], 3), ([], os.cpu_count() or 1)):
        assert main(["run", ladder, "--out", str(tmp_path / "r"), "--resamples", "50",
                     "--law", "linear", *extra]) == 0
        assert seen[-1] == expected


def test_predict_fits_with_one_blas_thread(monkeypatch):
    """predict() runs under one BLAS thread (its fits multiply many tiny matrices, where
    threads only spin): the limit is read inside it, at its first step. (A helper once
    placed between the decorator and ``def predict`` took the limit from it.)"""
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    if not blas_threads() or max(blas_threads()) <= 1:
        pytest.skip("BLAS runs one thread here anyway: the limit cannot be told apart")
    seen = []
    import capability.prediction.predict as module
    check = module.check_settings

    def check_and_record(settings):
        seen.append(blas_threads())
        return check(settings)

    monkeypatch.setattr(module, "check_settings", check_and_record)
    sim = capability.simulate_ladder(seed=3, n_problems=30)
    counts = sim.counts[sim.counts["model"] != sim.target]
    predict(counts, [(m, c, None) for m, c in sim.models], target=sim.target,
            target_compute=sim.target_compute,
            settings=PredictionSettings(n_resamples=50, law="power"))
    assert seen and all(n == 1 for n in seen[0]), seen
