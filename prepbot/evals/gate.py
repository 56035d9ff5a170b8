"""gate"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    pass
from prepbot.evals.results import EvalReport, Gate, Regression, SuiteRun

# Float noise must not turn "equal to the baseline" into a drop.
_EPSILON = 1e-9


def check_gate(
    report: EvalReport, baseline: EvalReport | None, max_drop: float, baseline_path: Path | None = None
) -> Gate:
    """Regressions: a metric past its configured threshold, or (with a baseline) a gated metric worse than the
    same suite x variant x backend's by more than ``max_drop`` (absolute), in the metric's direction."""
    gate = Gate(baseline=str(baseline_path) if baseline_path else None, max_drop=max_drop)
    for run in report.runs:
        info = report.suites[run.suite]
        directions = {m.name: m for m in info.metrics}
        for name, limit in info.thresholds.items():
            value = run.metrics.get(name)
            higher = directions[name].higher_is_better
            if value is None or (value < limit - _EPSILON if higher else value > limit + _EPSILON):
                gate.regressions.append(_regression(run, name, value, "threshold", limit, higher))
        before = baseline.run(run.suite, run.variant, run.backend) if baseline else None
        if before is None:
            continue
        for metric in info.metrics:
            old = before.metrics.get(metric.name)
            if not metric.gated or old is None:
                continue
            gate.compared += 1
            value = run.metrics.get(metric.name)
            drop = None if value is None else (old - value if metric.higher_is_better else value - old)
            if drop is None or drop > max_drop + _EPSILON:
                gate.regressions.append(_regression(run, metric.name, value, "drop", old, metric.higher_is_better))
    return gate


def _regression(
    run: SuiteRun,
    metric: str,
    value: float | None,
    reason: Literal["threshold", "drop"],
    limit: float,
    higher_is_better: bool,
) -> Regression:
    return Regression(
        suite=run.suite,
        variant=run.variant,
        backend=run.backend,
        metric=metric,
        value=value,
        reason=reason,
        limit=limit,
        higher_is_better=higher_is_better,
    )
