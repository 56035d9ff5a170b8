"""The candidate's answer before any model reads it: its bound, and whether there is anything to grade."""

from __future__ import annotations

import re

from prepbot.errors import UsageError
from prepbot.text import CJK, safe_text

MAX_ANSWER_CHARS = 6000  # about 1,500 tokens: a long spoken answer; past that the context gets tight
MIN_ANSWER_WORDS = 3


def too_short(answer: str) -> bool:
    """Fewer than three words (a CJK character counts as half a word): nothing to grade."""
    latin = re.findall(r"[^\W\d_]+|\d+", CJK.sub(" ", answer))
    cjk = CJK.findall(answer)
    return len(latin) + len(cjk) / 2 < MIN_ANSWER_WORDS


def check_answer(answer: str) -> str:
    """The answer, stripped; an empty one is a non-answer and scores 1 (see too_short)."""
    answer = safe_text(answer).strip()
    if len(answer) > MAX_ANSWER_CHARS:
        raise UsageError(f"the answer has {len(answer)} characters; the grader takes at most {MAX_ANSWER_CHARS}")
    return answer
