"""A local OpenAI-compatible server that serves a simulated ladder (``capability serve-sim``).

Each simulated model answers a HumanEval prompt on ``/v1/completions`` with a real
completion: the problem's canonical solution with probability ``p_i(C_m)`` (the simulated
per-problem law, see :mod:`capability.simulation.simulate`), otherwise a realistic wrong one -- a
wrong result, an exception, a syntax error or, rarely, an infinite loop. So the whole pipeline,
execution included, runs on real code with known truth. ``/v1/models`` lists the models.
``/v1/chat/completions`` answers a problem asked as a chat model is
(:func:`capability.sampling.chat.chat_messages`) as instruct models do: the whole function
in a markdown code block amid prose, in one of a few layouts; at the same seed it decides
pass or fail as ``/v1/completions`` does.

For tests it can misbehave on purpose: answer 429 or 500, answer slowly, or drop the
connection, each with a given probability. It listens on loopback only.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from capability.files.problems import Problem
from capability.sampling import truncate_at_stop
from capability.sampling.chat import prompt_of_question
from capability.simulation.simulate import SimulatedLadder

__all__ = ["Faults", "SimServer", "WRONG_COMPLETIONS"]

WRONG_COMPLETIONS = (
    ("wrong result", "    return None\n"),
    ("exception", "    raise ValueError('not implemented')\n"),
    ("syntax error", "    return (\n"),
)
INFINITE_LOOP = "    while True:\n        pass\n"
# How a chat reply lays out its code (``{code}``: the prompt and the body): a tagged block
# amid prose, an untagged one, and a usage example before the function.
CHAT_LAYOUTS = (
    "Here is a self-contained solution:\n\n```python\n{code}```\n\nIt passes the examples.",
    "```\n{code}```",
    "For example:\n```python\nprint({entry}(...))\n```\nThe function:\n```python\n{code}```\n",
)


@dataclass(frozen=True)
class Faults:
    """Probabilities of misbehaving per request (for tests), and added latency (s)."""

    rate_limit: float = 0.0   # answer 429 with Retry-After: 0
    server_error: float = 0.0  # answer 500
    drop: float = 0.0  # close the connection without an answer
    slow: float = 0.0  # sleep `slow_seconds` before answering
    slow_seconds: float = 2.0
    latency: float = 0.0  # every answer waits this long (simulated generation time)
    max_choices: int | None = None  # answer at most this many choices, whatever n asks
    # (llama.cpp's server, llama-cpp-python and ollama ignore n and answer one)
    malformed: float = 0.0  # answer 200 with a body that is no completion (see MALFORMED)
    cut_thinking: float = 0.0  # a chat choice cut off while thinking, as a reasoning model
    # behind vLLM's --reasoning-parser answers it: content null, finish_reason "length"


# Bodies a broken server, or a proxy in front of one, may answer with status 200.
MALFORMED = (b"<html>502 Bad Gateway</html>", b'{"choices": null}', b'{"choices": ["x"]}',
             b'{"choices": [{"index": 0, "text": null}]}', b'{"object": "error"}',
             b'{"choices": [{"index": 0, "message": {"content": null}, "finish_reason": '
             b'"stop"}]}')


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that says nothing when a client hangs up mid-answer (a
    sampler's timeout, a killed run): that is the client's business, not an error of the
    server's. Any other exception is reported as the standard library does."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):   # broken pipe, reset
            return
        super().handle_error(request, client_address)


class SimServer:
    """Serve ``sim`` on ``127.0.0.1:port`` (0 picks a free port) in a background thread.

    ``loop_rate`` is the share of wrong answers that are infinite loops. With ``api_key``,
    a completion request without ``Authorization: Bearer <api_key>`` is answered 401, as
    OpenAI's and vLLM's (``--api-key``) are."""

    def __init__(self, sim: SimulatedLadder, problems: dict[str, Problem], *,
                 port: int = 0, faults: Faults = Faults(), loop_rate: float = 0.01,
                 seed: int = 0, api_key: str | None = None) -> None:
        self.sim = sim
        self.api_key = api_key
        self.faults = faults
        self.loop_rate = loop_rate
        self.by_prompt = {p.prompt: p for p in problems.values() if p.task_id in sim.a.index}
        self.by_question = {p.prompt.strip(): p for p in self.by_prompt.values()}
        self.compute = {name: c for name, c in sim.models}
        self.compute[sim.target] = sim.target_compute
        self._pass_rates: dict[str, dict[str, float]] = {}
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.requests = 0
        self.log: list[dict] = []  # the last requests' bodies and whether a key was sent
        handler = self._handler()
        self.httpd = _Server(("127.0.0.1", port), handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> SimServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread is not None:  # shutdown() waits for a loop that was started
            self.httpd.shutdown()
            self.thread = None
        self.httpd.server_close()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- behaviour ----------------------------------------------------------------------
    def pass_probability(self, model: str, task_id: str) -> float:
        if model not in self._pass_rates:
            self._pass_rates[model] = self.sim.model_pass_rate(model).to_dict()
        return float(self._pass_rates[model][task_id])

    def completion(self, model: str, problem: Problem, rng: random.Random) -> str:
        if rng.random() < self.pass_probability(model, problem.task_id):
            return problem.canonical_solution
        if rng.random() < self.loop_rate:
            return INFINITE_LOOP
        return rng.choice(WRONG_COMPLETIONS)[1]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: dict | bytes,
                      headers: dict | None = None) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str, kind: str) -> None:
                self._send(status, {"error": {"message": message, "type": kind}})

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "owned_by": "capability-sim"}
                        for m in server.compute]})
                else:
                    self._error(404, f"no route {self.path}", "not_found")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with server.lock:
                    server.requests += 1
                    roll = server.rng.random()
                    seed = server.rng.getrandbits(64)
                f = server.faults
                if roll < f.drop:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                roll -= f.drop
                if roll < f.rate_limit:
                    return self._send(429, {"error": {"message": "rate limited",
                                                      "type": "rate_limit"}},
                                      {"Retry-After": "0"})
                roll -= f.rate_limit
                if roll < f.server_error:
                    return self._error(500, "simulated failure", "server_error")
                roll -= f.server_error
                if roll < f.malformed:
                    return self._send(200, MALFORMED[int(roll / f.malformed * len(MALFORMED))])
                roll -= f.malformed
                if roll < f.slow:
                    time.sleep(f.slow_seconds)
                if f.latency:
                    time.sleep(f.latency)
                route = self.path.rstrip("/")
                if route not in ("/v1/completions", "/v1/chat/completions"):
                    return self._error(404, f"no route {self.path}", "not_found")
                chat = route == "/v1/chat/completions"
                if server.api_key is not None and \
                        self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return self._error(401, "Incorrect API key provided",
                                       "invalid_request_error")
                try:
                    req = json.loads(raw)
                    model = req["model"]
                    prompt = req["messages"][-1]["content"] if chat else req["prompt"]
                    if not isinstance(prompt, str):
                        raise TypeError(prompt)
                except (ValueError, KeyError, TypeError, IndexError):
                    what = "messages" if chat else "prompt"
                    return self._error(400, f"expected JSON with model and {what}",
                                       "invalid_request_error")
                with server.lock:
                    server.log.append({**req, "authorization": self.headers.get(
                        "Authorization")})
                    del server.log[:-1000]
                if model not in server.compute:
                    return self._error(404, f"model {model!r} not found", "not_found")
                problem = (server.by_question.get(prompt_of_question(prompt) or "") if chat
                           else server.by_prompt.get(prompt))
                if problem is None:
                    return self._error(400, "prompt is not a problem of this simulation",
                                       "invalid_request_error")
                n = int(req.get("n", 1))
                if f.max_choices is not None:
                    n = min(n, f.max_choices)
                stop = req.get("stop") or []
                stop = [stop] if isinstance(stop, str) else list(stop)
                if req.get("seed") is not None:  # reproducible across restarts
                    digest = hashlib.sha256(f"{req['seed']}|{model}|{problem.prompt}".encode())
                    seed = int.from_bytes(digest.digest()[:8], "big")
                rng = random.Random(seed)
                choices = []
                layout = random.Random(seed + 1)   # the decisions' draws as without chat
                for i in range(n):
                    text = server.completion(model, problem, rng)
                    if chat and f.cut_thinking and layout.random() < f.cut_thinking:
                        choices.append({"index": i, "finish_reason": "length", "message": {
                            "role": "assistant", "content": None,
                            "reasoning_content": "Let me think about"}})
                    elif chat:
                        reply = layout.choice(CHAT_LAYOUTS).format(
                            code=problem.prompt + text, entry=problem.entry_point)
                        choices.append({"index": i, "finish_reason": "stop", "message": {
                            "role": "assistant", "content": reply}})
                    else:
                        choices.append({"index": i, "text": truncate_at_stop(text, stop),
                                        "logprobs": None, "finish_reason": "stop"})
                self._send(200, {"id": f"{'chatcmpl' if chat else 'cmpl'}-{seed:x}",
                                 "object": "chat.completion" if chat else "text_completion",
                                 "created": int(time.time()), "model": model,
                                 "choices": choices,
                                 "usage": {"prompt_tokens": len(prompt) // 4,
                                           "completion_tokens": 0, "total_tokens": 0}})

        return Handler
