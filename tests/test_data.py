"""What data/ ships: the EvalPerf Qwen2.5 ladder runs from a fresh clone, and every example
ladder file loads (servers and models need not be reachable to load)."""

import json
from pathlib import Path

import pytest

from capability.cli import main
from capability.files.ladder import load_ladder

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLES = sorted((DATA / "examples").glob("*.toml"))
LADDER = DATA / "ladders" / "evalperf-qwen2.5-instruct" / "ladder.toml"


def test_every_source_kind_has_an_example():
    kinds = {"counts", "samples", "server", "chat", "transformers", "adaptive"}
    assert {p.stem for p in EXAMPLES} == kinds


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_loads(path):
    ladder = load_ladder(path)
    assert len(ladder.models) >= 3 and ladder.target.compute > 0
    text = path.read_text()
    assert text.startswith("#") and "capability run data/examples/" in text


def test_each_data_folder_says_where_it_comes_from():
    for folder in (DATA / "ladders").iterdir():
        source = (folder / "SOURCE.md").read_text()
        assert "Licence" in source and (folder / "LICENSE").is_file()


def test_shipped_ladder_backtests_and_the_counts_example_runs(tmp_path, capsys):
    assert main(["backtest", str(LADDER), "--out", str(tmp_path / "bt"),
                 "--resamples", "100"]) == 0
    bt = json.loads((tmp_path / "bt" / "backtest.json").read_text())
    assert bt["held_out"] == "qwen2.5-72b-instruct" and len(bt["buckets"]) == 6
    assert main(["report", str(tmp_path / "bt")]) == 0
    assert main(["run", str(DATA / "examples" / "counts.toml"), "--out",
                 str(tmp_path / "run"), "--resamples", "100"]) == 0
    pred = json.loads((tmp_path / "run" / "prediction.json").read_text())
    assert pred["overall"]["problems_total"] == 118
