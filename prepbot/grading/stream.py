"""Following a grade's streamed replies: when the first token came, when the score was known, the grade so far."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from langchain_core.utils.json import parse_partial_json

from prepbot.grading.models import GradeListener

_SCORE = re.compile(r'"score"\s*:\s*([1-5])')


class GradeStream:
    """Takes the streamed pieces of the score reply, then of the feedback reply; tells the listener the grade
    parsed so far each time it grows, with the score first."""

    def __init__(
        self,
        started: float,
        listener: GradeListener | None,
        on_token: Callable[[str], None] | None,
        hold_score: bool = False,
    ):
        self.started, self.listener, self.on_token = started, listener, on_token
        self.hold_score = hold_score  # the digit streamed is not the score (calibrated): show it once known
        self.text = ""
        self.known: dict[str, Any] = {}  # parts already complete (the score, once the feedback streams)
        self.first_at: float | None = None
        self.score_at: float | None = None

    def piece(self, piece: str) -> None:
        now = time.monotonic()
        if self.first_at is None:
            self.first_at = now
        if piece.startswith("{") and self.text:
            self.text = ""  # a repair attempt streams again from its start
        self.text += piece
        if self.score_at is None and not self.hold_score and _SCORE.search(self.text):
            self.score_at = now
        if self.on_token:
            self.on_token(piece)
        if self.listener:
            partial = parse_partial_json(self.text)
            if isinstance(partial, dict):
                if self.hold_score and "score" not in self.known:
                    partial.pop("score", None)
                self.listener({**self.known, **partial})

    def scored(self, score: int, expected: float | None, findings: list[str] | None = None) -> None:
        self.score_at = self.score_at or time.monotonic()
        self.known.update(score=score, **({"expected_score": expected} if expected is not None else {}))
        if findings:
            self.known["findings"] = list(findings)
        if self.listener:
            self.listener(dict(self.known))

    def next_part(self) -> None:
        self.text = ""
