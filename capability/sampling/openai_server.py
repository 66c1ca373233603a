"""Backend for OpenAI-compatible servers (vLLM, TGI, llama.cpp's server, transformers serve).

``POST {url}/completions`` with the problem's prompt as is (or, for a chat model,
``POST {url}/chat/completions`` with the problem asked as a message and the code read back
out of each reply: :mod:`capability.sampling.chat`), ``n`` completions per request up to
``max_n``, many requests in flight (``concurrency``), retries with exponential backoff and
full jitter on 429 (honouring ``Retry-After``), 5xx, timeouts and dropped connections. The
API key is read from an environment variable and never logged or written.
"""

from __future__ import annotations

import asyncio
import os
import random

import httpx

from capability.sampling import SamplingError, SamplingSettings, completion_of

__all__ = ["ServerBackend", "probe_server", "PROBE_TIMEOUT"]

PROBE_TIMEOUT = 2.0  # seconds

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ServerBackend:
    """Async client of one model on an OpenAI-compatible server.

    Parameters
    ----------
    url
        Base URL ending in ``/v1`` (``/completions`` is appended, ``/chat/completions`` when
        the settings ask for a chat model).
    model
        The model name the server knows.
    api_key_env
        Name of the environment variable holding the API key (default ``OPENAI_API_KEY``;
        none sent when unset).
    concurrency, max_n
        Requests in flight, and completions one request asks for.
    max_retries, backoff, max_backoff, timeout
        Retry policy: delay ``uniform(0, min(max_backoff, backoff * 2**attempt))`` seconds
        (or the server's ``Retry-After``), at most ``max_retries`` retries; per-request
        timeout in seconds.
    """

    def __init__(self, url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 32, max_n: int = 16, max_retries: int = 8,
                 backoff: float = 0.5, max_backoff: float = 30.0, timeout: float = 120.0,
                 rng: random.Random | None = None) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.concurrency = concurrency
        self.max_n = max_n
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rng = rng or random.Random()
        self.retries = 0  # how many retries this backend made (for reports and tests)
        headers = {}
        key = os.environ.get(api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._key_source = f"the environment variable {api_key_env}, which is " + (
            "set" if key else "not set")
        self._client = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=concurrency,
                                max_keepalive_connections=concurrency))

    async def aclose(self) -> None:
        await self._client.aclose()

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(float(retry_after), self.max_backoff)
            except ValueError:
                pass
        return self.rng.uniform(0, min(self.max_backoff, self.backoff * 2 ** attempt))

    async def complete(self, prompt: str, n: int, settings: SamplingSettings,
                       seed: int | None = None) -> list[str]:
        """``n`` completions of ``prompt``, each cut at the first stop sequence (a chat
        model's: the code of each reply).

        A server that answers fewer choices than asked (llama.cpp's server, llama-cpp-python
        and ollama ignore ``n`` and answer one) is asked again for the rest, each further
        request with the seed moved on by the completions already drawn (``seed + drawn``),
        so that no completion is drawn twice from one seed and a rerun draws the same ones."""
        texts: list[str] = []
        while len(texts) < n:
            more = None if seed is None else (seed + len(texts)) % (2**31 - 1)
            texts += await self._request(prompt, n - len(texts), settings, more)
        return texts

    async def _request(self, prompt: str, n: int, settings: SamplingSettings,
                       seed: int | None) -> list[str]:
        """One request's completions, between 1 and ``n`` of them, retried as the class
        says."""
        body = {"model": self.model, "n": n, "temperature": settings.temperature,
                "top_p": settings.top_p, "max_tokens": settings.max_tokens}
        if settings.chat:
            url = self.url + "/chat/completions"
            body["messages"] = settings.messages(prompt)
        else:
            url = self.url + "/completions"
            body.update(prompt=prompt, stop=list(settings.stop)[:4])
        if seed is not None:
            body["seed"] = seed
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                response = await self._client.post(url, json=body)
            except (httpx.TimeoutException, httpx.TransportError) as err:
                last = f"{type(err).__name__}: {err}"
            else:
                if response.status_code == 200:
                    try:
                        choices = sorted(response.json()["choices"],
                                         key=lambda ch: ch.get("index", 0))
                        texts = [_reply(ch) if settings.chat else ch["text"]
                                 for ch in choices]
                        if not all(isinstance(t, str) for t in texts):
                            raise TypeError("a choice's text is not a string")
                    except (ValueError, KeyError, TypeError, AttributeError) as err:
                        last = f"malformed response ({type(err).__name__}: {err})"
                    else:
                        if 0 < len(texts) <= n:
                            return [completion_of(t, settings) for t in texts]
                        last = f"asked for {n} completions, got {len(texts)}"
                elif response.status_code in RETRY_STATUS:
                    last = f"HTTP {response.status_code}"
                    retry_after = response.headers.get("Retry-After")
                else:
                    hint = "" if response.status_code not in (401, 403) else (
                        f" (the API key is read from {self._key_source}; a server entry's "
                        "api_key_env names another)")
                    if settings.chat and response.status_code in (400, 404, 405, 422):
                        hint = (" (asked as a chat model, `chat = true` in the ladder's "
                                "[sampling]: a server without a chat endpoint, or a model "
                                "without a chat template, answers so)")
                    raise SamplingError(
                        f"{url} (model {self.model!r}) answered HTTP "
                        f"{response.status_code}: {_error_text(response)}{hint}")
            if attempt < self.max_retries:
                self.retries += 1
                await asyncio.sleep(self._delay(attempt, retry_after))
        raise SamplingError(f"{url} (model {self.model!r}) failed after "
                            f"{self.max_retries} retries; last: {last}")


def probe_server(url: str, model: str | None = None, *,
                 timeout: float = PROBE_TIMEOUT) -> None:
    """Check at start-up, in one request of at most ``timeout`` seconds and without retries,
    that a server answers at ``url`` (``GET {url}/models``; any HTTP answer, even an error
    status, shows it is there). Raises :class:`capability.errors.InputError` (exit 2) with
    what to do when nothing answers, instead of failing after every retry of sampling."""
    from capability.errors import InputError

    target = url.rstrip("/") + "/models"
    try:
        httpx.get(target, timeout=timeout)
    except (httpx.TimeoutException, httpx.TransportError) as err:
        what = f" (model {model!r})" if model else ""
        reason = "timed out" if isinstance(err, httpx.TimeoutException) else \
            (str(err) or type(err).__name__)
        raise InputError(f"the server at {url}{what} is not reachable ({reason}); start it "
                         "(e.g. `vllm serve MODEL`), fix `url` in the ladder file, or point "
                         "the model at the samples or counts it produced",
                         key="server") from None


def _reply(choice: dict) -> str | None:
    """A chat choice's reply. A reasoning model served with a reasoning parser (vLLM's
    ``--reasoning-parser``) that ran out of tokens while thinking answers no content
    (null, ``finish_reason`` "length"): a reply with no code, not a malformed answer to
    retry (the same seed would draw it again)."""
    content = choice["message"]["content"]
    if content is None and choice.get("finish_reason") == "length":
        return ""
    return content


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", {}).get("message", response.text))[:300]
    except ValueError:
        return response.text[:300]
