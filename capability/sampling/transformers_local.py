"""Backend for a local ``transformers`` causal language model (the ``transformers`` extra).

Batched sampling: one ``generate`` call returns ``n`` sequences for a prompt
(``num_return_sequences``), with the same temperature, top-p, token budget and stop handling
as the server backend, on the GPU when there is one, else on the CPU. A sequence is done
once its generated text holds a stop sequence, and the call ends when every sequence is
done, rather than running to ``max_tokens``. As on a server, only the generated text is
read: a stop sequence that would begin in the prompt (its closing newline, then ``#``) does
not stop it, as transformers' own ``stop_strings``, which read the prompt too, would.
A chat model (``chat = true``) is asked through its tokenizer's chat template, and the code
of each reply is kept (:mod:`capability.sampling.chat`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from capability.options import TRANSFORMERS_DTYPES
from capability.sampling import SamplingError, SamplingSettings, completion_of

__all__ = ["TransformersBackend"]


def _dtype_kwargs(dtype: str) -> dict:
    """``from_pretrained``'s keyword for ``dtype``: ``dtype`` since transformers 4.56,
    ``torch_dtype`` before (deprecated after)."""
    import transformers

    major, minor = (int(v) for v in transformers.__version__.split(".")[:2])
    return {"dtype" if (major, minor) >= (4, 56) else "torch_dtype": dtype}


@contextlib.contextmanager
def _quiet_unless_terminal():
    """transformers' loading bars (and the hub's download bars) off while stderr is no
    terminal, as ours are: a log gets the stage's one line, not a bar redrawn per shard."""
    if sys.stderr.isatty():
        yield
        return
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled(), are_progress_bars_disabled()
    hf_logging.disable_progress_bar()
    disable_progress_bars()
    try:
        yield
    finally:
        if was[0]:
            hf_logging.enable_progress_bar()
        if not was[1]:
            enable_progress_bars()


class TransformersBackend:
    """Sample from the model saved at ``path`` (``save_pretrained`` layout: config, weights
    and tokenizer). ``batch_size`` caps the sequences of one ``generate`` call; ``dtype``
    (one of :data:`capability.options.TRANSFORMERS_DTYPES`) is the weights' dtype, by
    default ``"auto"``, the checkpoint's own, which transformers 4.x does not take unless
    asked: there a bfloat16 checkpoint loaded as float32, twice the memory, and slower on
    a GPU."""

    concurrency = 1

    def __init__(self, path: str, device: str | None = None, batch_size: int = 16,
                 dtype: str = "auto") -> None:
        if dtype not in TRANSFORMERS_DTYPES:
            raise SamplingError(f"expected dtype one of {', '.join(TRANSFORMERS_DTYPES)}, "
                                f"found {dtype!r}")
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as err:
            raise SamplingError("the transformers backend needs the optional extra: "
                                "pip install 'capability[transformers]'") from err
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            with _quiet_unless_terminal():
                self.tokenizer = AutoTokenizer.from_pretrained(path)
                self.model = AutoModelForCausalLM.from_pretrained(
                    path, **_dtype_kwargs(dtype)).to(self.device)
        except OSError as err:
            raise SamplingError(f"cannot load a transformers model from {path}: {err}") from None
        self.model.eval()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.max_n = batch_size

    def _stop_criteria(self, start: int, stop):
        """A ``StoppingCriteriaList`` that marks a sequence done once the text generated
        after the first ``start`` tokens holds any of ``stop``. Each step decodes only the
        last ``2 * max(len(s)) + 8`` generated tokens (every token is at least a character,
        and generate keeps a sequence done once it is), not the whole of each sequence."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        torch, tokenizer = self._torch, self.tokenizer
        window = 2 * max(len(s) for s in stop) + 8

        class GeneratedTextStops(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                tail = input_ids[:, max(start, input_ids.shape[1] - window):]
                done = [any(s in text for s in stop)
                        for text in tokenizer.batch_decode(tail, skip_special_tokens=True)]
                return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

        return StoppingCriteriaList([GeneratedTextStops()])

    async def aclose(self) -> None:
        return None

    async def complete(self, prompt: str, n: int, settings: SamplingSettings,
                       seed: int | None = None) -> list[str]:
        return await asyncio.to_thread(self._generate, prompt, n, settings, seed)

    def _generate(self, prompt: str, n: int, settings: SamplingSettings,
                  seed: int | None) -> list[str]:
        """``n`` completions; at temperature 0 (greedy) one, repeated ``n`` times, as a
        server answers (transformers refuses several sequences without sampling)."""
        torch = self._torch
        if seed is not None:
            torch.manual_seed(seed)
        text = self._chat_text(prompt, settings) if settings.chat else prompt
        # A chat template writes the special tokens (BOS) itself.
        inputs = self.tokenizer(text, return_tensors="pt",
                                add_special_tokens=not settings.chat).to(self.device)
        start = inputs["input_ids"].shape[1]
        sample = settings.temperature > 0
        kwargs = {"do_sample": sample, "max_new_tokens": settings.max_tokens,
                  "num_return_sequences": n if sample else 1,
                  "pad_token_id": self.tokenizer.pad_token_id}
        if settings.stops:
            kwargs["stopping_criteria"] = self._stop_criteria(start, settings.stops)
        if sample:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
        with torch.no_grad():
            out = self.model.generate(**inputs, **kwargs)
        texts = self.tokenizer.batch_decode(out[:, start:], skip_special_tokens=True)
        return [completion_of(t, settings) for t in texts] * (1 if sample else n)

    def _chat_text(self, prompt: str, settings: SamplingSettings) -> str:
        """The problem asked through the tokenizer's chat template, the assistant's turn
        opened."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise SamplingError("this model's tokenizer has no chat template, so it cannot "
                                "be asked as a chat model: set `chat = false` in the "
                                "ladder's [sampling] (or the model's own sampling)")
        from jinja2 import TemplateError  # what a template's raise_exception raises

        try:
            return self.tokenizer.apply_chat_template(settings.messages(prompt),
                                                      tokenize=False,
                                                      add_generation_prompt=True)
        except TemplateError as err:
            if settings.system is None:
                raise
            raise SamplingError(f"this model's chat template refused the question with a "
                                f"system message ({err}): some templates take none; drop "
                                "`system` from the ladder's sampling") from None
