"""The transformers backend on a tiny randomly initialised model built here (no download)."""

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
# One worker runs this file: the tiny model is built once (pytest --dist loadgroup).
pytestmark = pytest.mark.xdist_group("transformers_backend")

from sandbox_support import PROBLEMS  # noqa: E402

from capability.sampling import SamplingSettings  # noqa: E402
from capability.sampling.run import sample_model  # noqa: E402
from capability.sampling.transformers_local import TransformersBackend  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    tok = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>", "<eos>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    corpus = [p.prompt + (p.canonical_solution or "") for p in PROBLEMS.values()]
    tok.train_from_iterator(corpus, trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>",
                                                eos_token="<eos>", pad_token="<eos>")
    fast.save_pretrained(path)
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=len(fast), n_positions=1024, n_embd=32,
                                     n_layer=1, n_head=2, eos_token_id=fast.eos_token_id,
                                     bos_token_id=fast.eos_token_id)
    transformers.GPT2LMHeadModel(config).save_pretrained(path)
    return path


def test_batched_sampling_with_stop_handling(tiny_model, tmp_path):
    problems = [PROBLEMS[t] for t in list(PROBLEMS)[:3]]
    out = tmp_path / "s.jsonl"
    backend = TransformersBackend(str(tiny_model), device="cpu", batch_size=4)
    assert backend.max_n == 4
    settings = SamplingSettings(n=6, max_tokens=24, temperature=1.0, seed=3)
    drawn = sample_model(backend, problems, settings, out, model="tiny", progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert drawn == len(rows) == 18
    for p in problems:
        assert sorted(r["sample_index"] for r in rows if r["task_id"] == p.task_id) == \
            list(range(6))
    for r in rows:
        assert all(s not in r["completion"] for s in settings.stop)
    assert len({r["completion"] for r in rows}) > 1  # sampled, not greedy
    # Same seed, same samples.
    again = tmp_path / "t.jsonl"
    sample_model(TransformersBackend(str(tiny_model), device="cpu", batch_size=4),
                 problems, settings, again, model="tiny", progress=False)
    key = lambda r: (r["task_id"], r["sample_index"])  # noqa: E731
    assert sorted(rows, key=key) == sorted(
        (json.loads(line) for line in again.read_text().splitlines()), key=key)


def test_greedy_sampling_answers_n_copies_as_a_server_does(tiny_model):
    """At temperature 0 a server answers n identical greedy completions; transformers
    refuses several sequences without sampling, so one is drawn and repeated."""
    backend = TransformersBackend(str(tiny_model), device="cpu", batch_size=4)
    settings = SamplingSettings(temperature=0.0, max_tokens=12)
    texts = backend._generate(PROBLEMS["HumanEval/0"].prompt, 3, settings, None)
    assert len(texts) == 3 and len(set(texts)) == 1
    assert texts[:1] == backend._generate(PROBLEMS["HumanEval/0"].prompt, 1, settings, 5)


def test_loading_draws_no_bars_into_a_log(tiny_model, capfd):
    """stderr is no terminal here, as in a batch job's log: loading a model prints no
    progress bar, and the library's bars are on again afterwards."""
    from transformers.utils import logging as hf_logging

    TransformersBackend(str(tiny_model), device="cpu")
    err = capfd.readouterr().err
    assert "Loading" not in err and "%|" not in err
    assert hf_logging.is_progress_bar_enabled()


def test_weights_load_in_the_checkpoints_own_dtype_unless_asked(tiny_model, tmp_path):
    """By default ("auto") a bfloat16 checkpoint loads as bfloat16, as saved (transformers
    4.x alone would load it as float32, twice the memory); ``dtype`` asks for another, and
    an unknown one is refused before anything loads."""
    from capability.sampling import SamplingError

    half = tmp_path / "half"
    transformers.AutoTokenizer.from_pretrained(tiny_model).save_pretrained(half)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model)
    model.to(torch.bfloat16).save_pretrained(half)
    for asked, loaded in (("auto", torch.bfloat16), ("float32", torch.float32),
                          ("float16", torch.float16)):
        backend = TransformersBackend(str(half), device="cpu", dtype=asked)
        assert {p.dtype for p in backend.model.parameters()} == {loaded}
    # The float32 checkpoint stays float32 by default.
    backend = TransformersBackend(str(tiny_model), device="cpu")
    assert {p.dtype for p in backend.model.parameters()} == {torch.float32}
    with pytest.raises(SamplingError, match="expected dtype one of auto, float32"):
        TransformersBackend(str(half), dtype="fp8")


def test_bad_checkpoint_path_is_a_clear_error(tmp_path):
    from capability.sampling import SamplingError

    with pytest.raises(SamplingError, match="cannot load a transformers model"):
        TransformersBackend(str(tmp_path / "nothing"))


def test_generation_ends_once_every_sequence_holds_a_stop_sequence(tiny_model, monkeypatch):
    """A call ends when every sequence's generated text holds a stop sequence, not at
    max_tokens; the prompt's own text never stops it (a server reads only what it
    generated, and so does the criterion)."""
    backend = TransformersBackend(str(tiny_model), device="cpu", batch_size=4)
    lengths = []
    generate = backend.model.generate

    def spy(**kwargs):
        out = generate(**kwargs)
        lengths.append(out.shape[1] - kwargs["input_ids"].shape[1])
        return out

    monkeypatch.setattr(backend.model, "generate", spy)
    prompt = PROBLEMS["HumanEval/0"].prompt
    # "e" is in most of the tiny vocabulary's tokens: every sequence meets it at once.
    texts = backend._generate(prompt, 4, SamplingSettings(max_tokens=200, stop=("e",),
                                                          temperature=1.0), seed=1)
    assert len(texts) == 4 and all("e" not in t for t in texts)
    assert lengths[0] < 100
    tok = backend.tokenizer
    start = len(tok(prompt)["input_ids"])
    criteria = backend._stop_criteria(start, ("\n#",))
    long = "    x = [1, 2, 3]\n" * 40               # far past the criterion's window
    for generated, stops in (("# note\n    return 1", False), ("    x = 1\n# note", True),
                             (long + "# note", True), (long + "    return x", False)):
        ids = torch.tensor([tok(prompt)["input_ids"] + tok(generated)["input_ids"]])
        assert prompt.endswith("\n") and bool(criteria(ids, None)[0]) is stops


def test_a_chat_model_is_asked_through_its_chat_template(tiny_model, tmp_path, monkeypatch):
    """With ``chat``, the problem is asked through the tokenizer's chat template (the
    assistant's turn opened, no special token added twice), no stop sequence cuts the
    reply, and each completion is the reply's code after a newline; a tokenizer without a
    template is refused, saying what to set."""
    from capability.sampling import SamplingError
    from capability.sampling.chat import CHAT_INSTRUCTION, chat_messages

    chatty = tmp_path / "chatty"
    tok = transformers.AutoTokenizer.from_pretrained(tiny_model)
    tok.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}"
                         "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")
    tok.save_pretrained(chatty)
    transformers.AutoModelForCausalLM.from_pretrained(tiny_model).save_pretrained(chatty)
    backend = TransformersBackend(str(chatty), device="cpu", batch_size=4)
    asked = []
    generate = backend.model.generate

    def spy(**kwargs):
        asked.append(kwargs)
        return generate(**kwargs)

    monkeypatch.setattr(backend.model, "generate", spy)
    prompt = PROBLEMS["HumanEval/0"].prompt
    settings = SamplingSettings(max_tokens=30, stop=("e",), temperature=1.0, chat=True)
    texts = backend._generate(prompt, 4, settings, seed=1)
    question = chat_messages(prompt)[0]["content"]
    assert backend.tokenizer.decode(asked[0]["input_ids"][0]) == \
        f"<|user|>{question}<|assistant|>"
    assert "stopping_criteria" not in asked[0]
    assert len(texts) == 4 and all(t.startswith("\n") and t.endswith("\n") for t in texts)
    assert any("e" in t for t in texts)        # the completions' stop is not applied
    plain = TransformersBackend(str(tiny_model), device="cpu")
    with pytest.raises(SamplingError, match="no chat template.*`chat = false`"):
        plain._generate(prompt, 1, SamplingSettings(chat=True), None)
    asking = SamplingSettings(chat=True, instruction="Solve:", system="Be brief.")
    assert backend._chat_text(prompt, asking) == \
        f"<|system|>Be brief.<|user|>Solve:\n```\n{prompt.strip()}\n```\n<|assistant|>"
    backend.tokenizer.chat_template = (
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
        "supported') }}{% endif %}{% for m in messages %}{{ m['content'] }}{% endfor %}")
    with pytest.raises(SamplingError, match="System role not supported.*drop `system`"):
        backend._chat_text(prompt, asking)
    assert backend._chat_text(prompt, SamplingSettings(chat=True)).startswith(CHAT_INSTRUCTION)
