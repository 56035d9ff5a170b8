"""Reading a grade from the model one token at a time: the score digit and yes/no checks of the answer.

A grade prompt that takes a ``check`` input (grade@v3) is asked several short things about one answer, in
calls that share every token up to the end of the answer, so the local model reads the answer once and each
further call costs only its own line and one generated token. Each reply is read from the model's
probabilities at that token, not from the token written: the expected grade over 1-5, and for a check the
probability of "yes" against "no". Older grade prompts (grade@v2) write ``{"score": n}`` and take no check.

The checks: ``addresses`` (does the answer respond to this question, not another), ``how`` (does it say how,
rather than name tools) and ``wrong`` (does it state something false).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from prepbot.errors import PrepbotError
from prepbot.grading.calibration import expected_score

if TYPE_CHECKING:
    from prepbot.llm import LLM, Generation

CHECK_TOP_LOGPROBS = 10
_YES = {"yes", "y", "true", "是", "是的", "对", "對", "有", "はい"}
_NO = {"no", "n", "false", "否", "不", "不是", "没有", "沒有", "いいえ"}
_DIGITS = {"1", "2", "3", "4", "5"}
_SCORE_IN_TEXT = re.compile(r"(?<![\d.])([1-5])(?![\d.])")


class Reading(BaseModel):
    """What the model said of one answer, read from its probabilities."""

    digit: int = Field(ge=1, le=5)  # the score digit the model wrote
    expected: float | None = None  # the expected grade under its probabilities for 1-5
    checks: dict[str, float] = Field(default_factory=dict)  # check -> P(yes)


def score_digit(generation: Generation) -> int:
    """The digit a score reply gives: ``{"score": n}`` (grade@v2), or the one token of a plain reply, or failing
    that the likeliest digit among its alternatives."""
    output = generation.output
    if isinstance(output, BaseModel):
        return int(output.score)  # type: ignore[attr-defined]
    text = str(output).strip()
    if found := _SCORE_IN_TEXT.search(text):  # "4", or a server model's '{"score": 4}' or "Score: 4/5"
        return int(found.group(1))
    for place in generation.logprobs or []:
        digits = {token.strip(): p for token, p in place.top.items() if token.strip() in _DIGITS}
        if digits:
            return int(max(digits, key=lambda d: digits[d]))
    raise PrepbotError(f"the grader replied {text[:40]!r} where a score 1-5 was asked for")


def yes_probability(generation: Generation) -> float:
    """P(yes) / (P(yes) + P(no)) at the reply's first token; the written word (1.0 or 0.0) where the backend
    reports no probabilities; 0.5 where neither word is there."""
    places = generation.logprobs or []
    if places:
        yes = no = 0.0
        for token, logprob in places[0].top.items():
            word = token.strip().strip(".,!\"'").lower()
            if word in _YES:
                yes += math.exp(logprob)
            elif word in _NO:
                no += math.exp(logprob)
        if yes + no > 0:
            return round(yes / (yes + no), 4)
    word = str(generation.output).strip().strip(".,!\"'").lower()
    return 1.0 if word in _YES else 0.0 if word in _NO else 0.5


def read_answer(
    llm: LLM,
    prompt: str,
    variables: dict[str, Any],
    *,
    no_cache: bool,
    stream: Callable[[str], None] | None = None,
    top_logprobs: int = CHECK_TOP_LOGPROBS,
) -> tuple[Reading, list[Generation]]:
    """Ask the score, then (where the prompt takes them) every check its version lists."""
    from prepbot.prompts import load_prompt

    calls: list[Generation] = []
    checked = "check" in variables

    def ask(check: str) -> Generation:
        asked = {**variables, "check": check} if checked else variables
        generation = llm.generate(
            prompt, asked, no_cache=no_cache, top_logprobs=top_logprobs, stream=None if check else stream
        )
        calls.append(generation)
        return generation

    scored = ask("")
    reading = Reading(digit=score_digit(scored), expected=expected_score(scored))
    if checked:
        reading.checks = {name: yes_probability(ask(name)) for name in load_prompt(prompt, llm.settings).spec.checks}
    return reading, calls
