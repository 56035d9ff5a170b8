"""The grading eval writes the calibration the grader then reads (``calibrate: true``)."""

from __future__ import annotations

from types import SimpleNamespace

from prepbot.config import get_settings
from prepbot.evals.results import CaseResult
from prepbot.evals.suites.grading import GradingOptions, calibrate
from prepbot.grading import stretch_for


def _case(k: int, label: int, expected: float) -> CaseResult:
    digit = min(5, max(1, round(expected)))
    return CaseResult(
        id=f"a{k}",
        passed=True,
        values={"label": float(label)},
        got={"expected_score": expected, "digit": digit, "grader": ["grade@v2", "fake", "fake-model"]},
    )


def _context(calibrate_on: bool) -> SimpleNamespace:
    return SimpleNamespace(settings=get_settings(), options=GradingOptions(calibrate=calibrate_on))


def test_the_grading_eval_records_the_stretch_that_ranks_best():
    # expected grades squeezed towards the middle, as a small grader's are: a stretch pulls them apart
    cases = [_case(k, label, 3 + 0.45 * (label - 3)) for k, label in enumerate([1, 2, 3, 4, 5] * 3)]
    assert stretch_for(get_settings(), "grade@v2", "fake", "fake-model") is None
    notes = calibrate(cases, _context(True))  # type: ignore[arg-type]
    stretch = stretch_for(get_settings(), "grade@v2", "fake", "fake-model")
    assert stretch is not None and stretch > 1.5, notes
    assert "recorded" in notes[0]


def test_no_calibration_unless_asked_or_with_too_few_answers():
    cases = [_case(k, 3, 3.0) for k in range(12)]
    assert calibrate(cases, _context(False)) == []  # type: ignore[arg-type]
    assert "nothing recorded" in calibrate(cases[:5], _context(True))[0]  # type: ignore[arg-type]
    assert stretch_for(get_settings(), "grade@v2", "fake", "fake-model") is None
