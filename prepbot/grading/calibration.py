"""From the model's score digit to the score: calibration of a grader (prompt version x backend x model).

The model writes a digit; its probabilities over 1-5 at that place give an expected grade (``expected_score``),
which ranks answers closer to human grades than the digit but sits nearer the middle. Where a grader has been
calibrated on the grading eval, the score is its expected grade stretched away from the middle and rounded;
elsewhere, and where the backend reports no probabilities, the score is the digit.

The calibrations are data: ``calibration.json`` shipped next to this module, overridden record by record by
``calibration.json`` in the user's prepbot home, which ``record`` writes. A record holds the prompt version,
backend, model and stretch, what it was measured on, and the figures measured.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prepbot.errors import PrepbotError
from prepbot.grading.combination import Combination

if TYPE_CHECKING:
    from prepbot.config import Settings
    from prepbot.llm import LLM, Generation

FILE_NAME = "calibration.json"
_DIGITS = {"1", "2", "3", "4", "5"}


class Calibration(BaseModel):
    """One calibrated grader. Fields beyond these (the figures measured) are kept as given."""

    model_config = ConfigDict(extra="allow")

    prompt: str  # the grade prompt's version, name@vN
    backend: str
    model: str
    stretch: float | None = Field(default=None, gt=0)  # s of score = round(3 + s * (expected - 3))
    combination: Combination | None = None  # the score from the expected grade, the checks and the embedder
    measured_on: str  # the eval, its data and the date

    @property
    def key(self) -> tuple[str, str, str]:
        return self.prompt, self.backend, self.model


class CalibrationFile(BaseModel):
    about: str = ""
    records: list[Calibration] = Field(default_factory=list)


def user_file(settings: Settings) -> Path:
    """Where ``record`` writes: the user's own calibrations, in the prepbot home."""
    return settings.home / FILE_NAME


def _read(text: str, source: object) -> CalibrationFile:
    try:
        return CalibrationFile.model_validate_json(text)
    except ValidationError as exc:
        raise PrepbotError(f"the calibration file {source} is not valid: {exc.errors()[0]['msg']}") from None


@lru_cache(maxsize=1)
def shipped() -> CalibrationFile:
    """The calibrations prepbot ships."""
    shipped_file = resources.files("prepbot.grading").joinpath(FILE_NAME)
    return _read(shipped_file.read_text(encoding="utf-8"), shipped_file)


def _own(settings: Settings) -> CalibrationFile:
    path = user_file(settings)
    return _read(path.read_text(encoding="utf-8"), path) if path.exists() else CalibrationFile()


def calibrations(settings: Settings) -> dict[tuple[str, str, str], Calibration]:
    """Every known calibration by (prompt version, backend, model): the shipped ones, the user's over them."""
    return {record.key: record for file in (shipped(), _own(settings)) for record in file.records}


def stretch_for(settings: Settings, prompt_ref: str, backend: str, model: str) -> float | None:
    """The stretch measured for a grader, or None where it has not been calibrated."""
    found = calibrations(settings).get((prompt_ref, backend, model))
    return found.stretch if found else None


def grader_calibration(llm: LLM, prompt: str) -> Calibration | None:
    """The calibration measured for this grader (prompt version x the LLM's backend and model), or None."""
    from prepbot.prompts import load_prompt

    ref = load_prompt(prompt, llm.settings).ref
    return calibrations(llm.settings).get((ref, llm.backend.name, llm.backend.model))


def score_stretch(llm: LLM, prompt: str) -> float | None:
    """The stretch measured for this grader, or None."""
    found = grader_calibration(llm, prompt)
    return found.stretch if found else None


def record(
    settings: Settings,
    *,
    prompt: str,
    backend: str,
    model: str,
    measured_on: str,
    stretch: float | None = None,
    combination: Combination | None = None,
    **figures: Any,
) -> Calibration:
    """Keep a measured calibration in the user's calibration file, replacing one of the same prompt version,
    backend and model; it overrides a shipped one from the next grade on. ``figures`` (``spearman=0.889``...)
    are kept with it as measured."""
    calibration = Calibration(
        prompt=prompt,
        backend=backend,
        model=model,
        stretch=stretch,
        combination=combination,
        measured_on=measured_on,
        **figures,
    )
    own = _own(settings)
    own.records = [r for r in own.records if r.key != calibration.key] + [calibration]
    path = user_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    partial.write_text(
        json.dumps(own.model_dump(mode="json", exclude_none=True), ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    partial.replace(path)  # whole or not at all: a grade reading it meanwhile sees the old file or the new one
    return calibration


def expected_score(generation: Generation) -> float | None:
    """The expected grade under the model's probabilities for 1-5 where it wrote the score digit, or None when
    the backend reported no probabilities there. Alternatives that are not a digit 1-5 are left out and the
    rest renormalised (the local model's include tokens the schema would not have allowed)."""
    for place in generation.logprobs or []:
        if place.token.strip() not in _DIGITS:
            continue
        chances: dict[int, float] = {}
        for token, logprob in place.top.items():
            if token.strip() in _DIGITS:
                digit = int(token.strip())
                chances[digit] = chances.get(digit, 0.0) + float(np.exp(logprob))
        total = sum(chances.values())
        if total <= 0:
            return None
        return round(sum(digit * chance for digit, chance in chances.items()) / total, 3)
    return None


def calibrated_score(digit: int, expected: float | None, stretch: float | None) -> int:
    """The score: the expected grade stretched away from the middle and rounded where the grader is
    calibrated and the backend reported probabilities; otherwise the digit the model wrote."""
    if stretch is None or expected is None:
        return digit
    return int(min(5, max(1, round(3 + stretch * (expected - 3)))))
