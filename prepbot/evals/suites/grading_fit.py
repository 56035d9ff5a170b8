"""Fitting the grader's calibration from a grading run (``calibrate: true``): the score's combination of
signals for a grade prompt that asks checks, the stretch of the expected grade for older ones."""

from __future__ import annotations

from datetime import date
from typing import cast

from prepbot.evals import metrics
from prepbot.evals.results import CaseResult
from prepbot.evals.suite import SuiteContext

STRETCHES = tuple(1.0 + 0.25 * k for k in range(7))  # 1.0 .. 2.5


def calibrate(results: list[CaseResult], context: SuiteContext) -> list[str]:
    """With ``calibrate: true``: the stretch (of ``grading.calibrated_score``) that ranks this run's answers
    closest to their labels (Spearman; ties to the smaller MAE), recorded for the grader that scored them."""
    if not getattr(context.options, "calibrate", False):
        return []
    scored = [
        r for r in results if r.got and r.got.get("expected_score") is not None and all(r.got.get("grader") or [None])
    ]
    if len(scored) < 10:
        return [f"calibration: {len(scored)} answers with probabilities, 10 needed; nothing recorded"]
    if all("how" in (r.got.get("signals") or {}) for r in scored):
        return _fit_combination(scored, context)
    return _fit_stretch(scored, context)


def _measured_on(scored: list[CaseResult]) -> str:
    return f"prepbot eval --suite grading ({len(scored)} labelled answers), {date.today().isoformat()}"


def _fit_combination(scored: list[CaseResult], context: SuiteContext) -> list[str]:
    """The checks' and the embedder's signals combined by the feature set that does best on postings held out."""
    from prepbot.grading import choose, record

    labels = [float(cast(float, r.values["label"])) for r in scored]
    rows = [{**r.got["signals"], "expected": r.got["expected_score"]} for r in scored]
    groups = [str(r.got.get("posting") or r.id) for r in scored]
    choice = choose(rows, labels, groups)
    prompt, backend, model = scored[0].got["grader"]
    chosen = choice.held_out[choice.name]
    record(
        context.settings,
        prompt=prompt,
        backend=backend,
        model=model,
        combination=choice.combination,
        measured_on=_measured_on(scored),
        feature_set=choice.name,
        held_out=choice.held_out,
    )
    lines = [f"calibration: {prompt} on {backend}/{model}: feature set {choice.name!r} recorded"]
    for name, figures in choice.held_out.items():
        lines.append(
            f"  held out by posting, {name}: Spearman {figures['spearman']}, MAE {figures['mae']}, "
            f"within 1 {figures['within_1']}" + ("  <- chosen" if figures is chosen else "")
        )
    return lines


def _fit_stretch(scored: list[CaseResult], context: SuiteContext) -> list[str]:
    from prepbot.grading import calibrated_score, record

    labels = [float(cast(float, r.values["label"])) for r in scored]
    digits = [int(r.got["digit"]) for r in scored]

    def fit(stretch: float | None) -> tuple[float, float]:
        got = [float(calibrated_score(d, r.got["expected_score"], stretch)) for d, r in zip(digits, scored)]
        mae = sum(abs(a - b) for a, b in zip(got, labels)) / len(got)
        return metrics.spearman(labels, got) or 0.0, mae

    best = max(STRETCHES, key=lambda s: (round(fit(s)[0], 4), -fit(s)[1]))
    (rho, mae), (rho_digit, mae_digit) = fit(best), fit(None)
    prompt, backend, model = scored[0].got["grader"]
    record(
        context.settings,
        prompt=prompt,
        backend=backend,
        model=model,
        stretch=best,
        measured_on=_measured_on(scored),
        spearman=round(rho, 3),
        spearman_digit=round(rho_digit, 3),
        mae=round(mae, 3),
        mae_digit=round(mae_digit, 3),
    )
    return [
        f"calibration: {prompt} on {backend}/{model}: stretch {best} (Spearman {rho:.3f}, digit {rho_digit:.3f}) recorded"
    ]
