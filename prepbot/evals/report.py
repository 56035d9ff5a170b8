"""Eval reports from an ``EvalReport``: a rich table for the terminal, and JSON, Markdown or a self-contained HTML
page (inline CSS and SVG, no script, nothing fetched) written to a file.

JSON is the full report (run metadata, config, per-case results, aggregates) and what ``--baseline`` reads;
the other formats are for people and show the same aggregates, the gate, and each failing case's expected
and actual result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from prepbot.errors import UsageError
from prepbot.evals.charts import bar_chart, fmt
from prepbot.evals.results import CaseResult, EvalReport, Gate, SuiteInfo, SuiteRun
from prepbot.files import exported

FORMATS = (".json", ".md", ".html")


def write_report(report: EvalReport, path: Path) -> None:
    """The report in the format its suffix names."""
    path = Path(path)
    writers = {".json": to_json, ".md": to_markdown, ".html": to_html}
    writer = writers.get(path.suffix.lower())
    if writer is None:
        raise UsageError(f"--out {path}: the report format is chosen by the suffix: {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(writer(report), encoding="utf-8")
    exported(path)


def to_json(report: EvalReport) -> str:
    return report.model_dump_json(indent=2) + "\n"


# --- shared helpers ----------------------------------------------------------------------------------------


def run_label(run: SuiteRun) -> str:
    """Deterministic suites run once; LLM suites once per variant x backend."""
    if run.backend is None:
        return "all cases"
    return f"{run.variant or 'default prompts'} · {run.backend}"


def arrow(info: SuiteInfo, metric: str) -> str:
    higher = next(m.higher_is_better for m in info.metrics if m.name == metric)
    return "↑" if higher else "↓"


def _regressed(gate: Gate) -> set[tuple[str, str | None, str | None, str]]:
    return {(r.suite, r.variant, r.backend, r.metric) for r in gate.regressions}


def _slice_rows(run: SuiteRun) -> list[tuple[str, int, dict[str, float | None]]]:
    """(label, number of cases, metrics) for each slice of a run, e.g. ("lang=ja", 27, {...})."""
    rows = []
    for key, groups in run.slices.items():
        for value, values in groups.items():
            count = sum(1 for case in run.cases if case.slices.get(key) == value)
            rows.append((f"{key}={value}", count, values))
    return rows


def _case_label(case: CaseResult) -> str:
    return f"{case.id} #{case.repeat + 1}" if case.repeat else case.id


def _compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(", ", ": "))


def _runs_by_suite(report: EvalReport) -> dict[str, list[SuiteRun]]:
    by_suite: dict[str, list[SuiteRun]] = {}
    for run in report.runs:
        by_suite.setdefault(run.suite, []).append(run)
    return by_suite


class VariantDiff(NamedTuple):
    """A prompt variant against the first variant of the same suite on the same backend."""

    base: SuiteRun
    other: SuiteRun
    deltas: dict[str, float | None]  # other - base, per metric
    now_failing: list[str]  # cases that passed on base and fail on other
    now_passing: list[str]

    @property
    def label(self) -> str:
        return f"Δ {_variant(self.other)} − {_variant(self.base)} · {self.base.backend}"

    @property
    def passed_delta(self) -> int:
        return sum(c.passed for c in self.other.cases) - sum(c.passed for c in self.base.cases)


def _variant(run: SuiteRun) -> str:
    return run.variant or "default prompts"


def variant_diffs(runs: list[SuiteRun]) -> list[VariantDiff]:
    """For each backend that ran a suite with several prompt variants: every later variant against the first
    (metric by metric, and the cases whose verdict flipped)."""
    by_backend: dict[str, list[SuiteRun]] = {}
    for run in runs:
        if run.backend is not None:
            by_backend.setdefault(run.backend, []).append(run)
    diffs = []
    for group in by_backend.values():
        base = group[0]
        for other in group[1:]:
            if other.variant == base.variant:
                continue
            deltas = {name: _minus(value, base.metrics.get(name)) for name, value in other.metrics.items()}
            before = {(c.id, c.repeat): c.passed for c in base.cases}
            failing = [_case_label(c) for c in other.cases if not c.passed and before.get((c.id, c.repeat)) is True]
            passing = [_case_label(c) for c in other.cases if c.passed and before.get((c.id, c.repeat)) is False]
            diffs.append(VariantDiff(base, other, deltas, failing, passing))
    return diffs


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def fmt_delta(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) < 5e-7:
        return "±0"
    if value == int(value) and abs(value) >= 10:
        return f"{int(value):+,}"
    return f"{value:+.3f}"


def _better(info: SuiteInfo, metric: str, delta: float | None) -> bool | None:
    """Whether a change is an improvement (None: no change or unknown)."""
    if delta is None or abs(delta) < 5e-7:
        return None
    return (delta > 0) == next(m.higher_is_better for m in info.metrics if m.name == metric)


def flip_lines(diff: VariantDiff) -> list[str]:
    name = f"{_variant(diff.other)} vs {_variant(diff.base)} · {diff.base.backend}"
    if not diff.now_failing and not diff.now_passing:
        return [f"{name}: no case changed its verdict"]
    lines = []
    if diff.now_failing:
        lines.append(f"{name}: {len(diff.now_failing)} now failing: {', '.join(diff.now_failing)}")
    if diff.now_passing:
        lines.append(f"{name}: {len(diff.now_passing)} now passing: {', '.join(diff.now_passing)}")
    return lines


def gate_lines(gate: Gate) -> list[str]:
    """One line for the verdict, then one per regression."""
    against = f" against {gate.baseline} ({gate.compared} metrics, max drop {gate.max_drop:g})" if gate.baseline else ""
    if gate.passed:
        return [f"gate passed: no metric past its threshold{' or dropped' if gate.baseline else ''}{against}"]
    head = f"gate failed: {len(gate.regressions)} regression{'s' if len(gate.regressions) != 1 else ''}{against}"
    return [head, *(f"  {r.describe()}" for r in gate.regressions)]


# --- terminal ------------------------------------------------------------------------------------------------


_SLICE_COLUMNS = 6  # up to this many metrics, a slice table has a column per metric; beyond, a row per metric


def print_report(out: Console, report: EvalReport) -> None:
    """Per suite, a table with a row per metric and a column per run (variants and backends side by side),
    then each run's metrics per slice."""
    regressed = _regressed(report.gate)
    for suite, runs in _runs_by_suite(report).items():
        info = report.suites[suite]
        out.print(f"\n[bold]{escape(suite)}[/]: {escape(info.description)}", highlight=False)
        table = Table()
        table.add_column("metric", no_wrap=True)
        table.add_column("threshold", justify="right", no_wrap=True)
        for run in runs:
            table.add_column(escape(run_label(run)), justify="right")
        diffs = variant_diffs(runs)
        for diff in diffs:
            table.add_column(escape(diff.label), justify="right")
        for metric in info.metrics:
            bound = info.thresholds.get(metric.name)
            limit = "" if bound is None else f"{'≥' if metric.higher_is_better else '≤'} {fmt(bound)}"
            cells = []
            for run in runs:
                text = fmt(run.metrics.get(metric.name))
                bad = (run.suite, run.variant, run.backend, metric.name) in regressed
                cells.append(f"[bold red]{text}[/]" if bad else text)
            for diff in diffs:
                delta = diff.deltas.get(metric.name)
                better = _better(info, metric.name, delta)
                style = "dim" if better is None else ("green" if better else "red")
                cells.append(f"[{style}]{fmt_delta(delta)}[/]")
            table.add_row(f"{escape(metric.name)} {arrow(info, metric.name)}", limit, *cells)
        table.add_section()
        table.add_row("passed", "", *(_passed(run) for run in runs), *(f"{d.passed_delta:+d}" for d in diffs))
        table.add_row(
            "seconds",
            "",
            *(f"{run.seconds:.1f}" for run in runs),
            *(f"{d.other.seconds - d.base.seconds:+.1f}" for d in diffs),
        )
        out.print(table)
        for diff in diffs:
            for line in flip_lines(diff):
                out.print(escape(line), highlight=False, soft_wrap=True)
        for run in runs:
            slices = _slice_rows(run)
            if not slices:
                continue
            by_slice = Table(title=escape(run_label(run)) if len(runs) > 1 else None, title_justify="left")
            if len(info.metrics) <= _SLICE_COLUMNS:
                by_slice.add_column("slice (cases)", no_wrap=True)
                for metric in info.metrics:
                    by_slice.add_column(escape(metric.name), justify="right", overflow="fold")
                for label, count, values in slices:
                    by_slice.add_row(f"{escape(label)} ({count})", *(fmt(values.get(m.name)) for m in info.metrics))
            else:  # many metrics (LLM suites): a row per metric, a column per slice, as in the table above
                by_slice.add_column("metric by slice", no_wrap=True)
                for label, count, _ in slices:
                    by_slice.add_column(f"{escape(label)} ({count})", justify="right")
                for metric in info.metrics:
                    metric_cells = [values.get(metric.name) for _, _, values in slices]
                    if any(cell is not None for cell in metric_cells):  # e.g. judge metrics with the judge off
                        by_slice.add_row(escape(metric.name), *(fmt(cell) for cell in metric_cells))
            out.print(by_slice)
    for run in report.runs:
        for note in run.notes:
            out.print(f"[dim]{escape(run_label(run))}: {escape(note)}[/]", highlight=False)
    out.print(f"[dim]{len(report.runs)} runs in {report.seconds:.1f} s[/]", highlight=False)
    for line in error_lines(report):
        out.print(escape(line), style="yellow", highlight=False, soft_wrap=True)
    print_gate(out, report.gate)


def error_lines(report: EvalReport) -> list[str]:
    """One line per case that could not run as meant, so a red gate says why without opening a report file."""
    return [
        f"error: {run.suite} · {run_label(run)} · {case.id}: {case.error}"
        for run in report.runs
        for case in run.cases
        if case.error
    ]


def _passed(run: SuiteRun) -> str:
    passed = f"{sum(case.passed for case in run.cases)}/{len(run.cases)}"
    return passed + (f" [red]({run.errors} errors)[/]" if run.errors else "")


def print_gate(out: Console, gate: Gate) -> None:
    head, *rest = gate_lines(gate)
    out.print(f"[green]{escape(head)}[/]" if gate.passed else f"[bold red]{escape(head)}[/]", highlight=False)
    for line in rest:
        out.print(f"[red]{escape(line)}[/]", highlight=False, soft_wrap=True)


# --- Markdown ------------------------------------------------------------------------------------------------


def to_markdown(report: EvalReport) -> str:
    lines = ["# prepbot eval report", ""]
    lines += [f"- {line}" for line in _meta_lines(report)]
    lines += ["", "## Gate", ""]
    head, *rest = gate_lines(report.gate)
    lines += [f"**{head}**", *(f"- {line.strip()}" for line in rest), ""]
    for suite, runs in _runs_by_suite(report).items():
        info = report.suites[suite]
        names = [m.name for m in info.metrics]
        lines += [f"## {suite}", "", f"{info.description} (`{info.dataset}`)", ""]
        lines.append("| run | " + " | ".join(f"{n} {arrow(info, n)}" for n in names) + " | passed | s |")
        lines.append("|---|" + "---:|" * (len(names) + 2))
        if info.thresholds:
            bounds = [fmt(info.thresholds[n]) if n in info.thresholds else "" for n in names]
            lines.append("| *threshold* | " + " | ".join(bounds) + " | | |")
        for run in runs:
            values = [fmt(run.metrics.get(n)) for n in names]
            passed = f"{sum(c.passed for c in run.cases)}/{len(run.cases)}" + (
                f" ({run.errors} errors)" if run.errors else ""
            )
            lines.append(f"| {_md(run_label(run))} | " + " | ".join(values) + f" | {passed} | {run.seconds:.1f} |")
            for label, count, slice_values in _slice_rows(run):
                cells = " | ".join(fmt(slice_values.get(n)) for n in names)
                lines.append(f"| &nbsp;&nbsp;{_md(label)} ({count}) | {cells} | | |")
        diffs = variant_diffs(runs)
        for diff in diffs:
            cells = " | ".join(fmt_delta(diff.deltas.get(n)) for n in names)
            seconds = diff.other.seconds - diff.base.seconds
            lines.append(f"| **{_md(diff.label)}** | {cells} | {diff.passed_delta:+d} | {seconds:+.1f} |")
        lines.append("")
        if diffs:
            lines += ["### Variant comparison", ""]
            lines += [f"- {_md(line)}" for diff in diffs for line in flip_lines(diff)]
            lines.append("")
        for run in runs:
            failing = [case for case in run.cases if not case.passed]
            if not failing:
                continue
            lines += [f"### Failing cases: {_md(run_label(run))} ({len(failing)} of {len(run.cases)})", ""]
            for case in failing:
                lines.append(f"- `{_case_label(case)}`" + (f": error: {_md(case.error)}" if case.error else ""))
                if not case.error:
                    lines.append(f"  - expected: `{_code(_compact(case.expected))}`")
                    lines.append(f"  - got: `{_code(_compact(case.got))}`")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _meta_lines(report: EvalReport) -> list[str]:
    commit = f", commit {report.commit}" if report.commit else ""
    return [
        f"started {report.started_at}, took {report.seconds:.1f} s",
        f"prepbot {report.prepbot_version}{commit}",
        f"host {report.host}",
        f"config {report.config_path or '(none)'}",
    ]


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return text.replace("`", "'").replace("|", "\\|")


_HTML = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    (Path(__file__).parent / "report.html.j2").read_text(encoding="utf-8")
)


def to_html(report: EvalReport) -> str:
    regressed = _regressed(report.gate)
    suites = []
    for suite, runs in _runs_by_suite(report).items():
        info = report.suites[suite]
        rows = []
        for run in runs:
            rows.append(
                {
                    "label": run_label(run),
                    "kind": "run",
                    "cells": [
                        {
                            "text": fmt(run.metrics.get(m.name)),
                            "bad": (run.suite, run.variant, run.backend, m.name) in regressed,
                        }
                        for m in info.metrics
                    ],
                    "passed": f"{sum(c.passed for c in run.cases)}/{len(run.cases)}",
                    "seconds": f"{run.seconds:.1f}",
                }
            )
            for label, count, values in _slice_rows(run):
                rows.append(
                    {
                        "label": f"{label} ({count})",
                        "kind": "slice",
                        "passed": "",
                        "seconds": "",
                        "cells": [{"text": fmt(values.get(m.name)), "bad": False} for m in info.metrics],
                    }
                )
        diffs = variant_diffs(runs)
        for diff in diffs:
            cells = []
            for m in info.metrics:
                better = _better(info, m.name, diff.deltas.get(m.name))
                tone = None if better is None else ("better" if better else "worse")
                cells.append({"text": fmt_delta(diff.deltas.get(m.name)), "bad": False, "tone": tone})
            rows.append(
                {
                    "label": diff.label,
                    "kind": "delta",
                    "cells": cells,
                    "passed": f"{diff.passed_delta:+d}",
                    "seconds": f"{diff.other.seconds - diff.base.seconds:+.1f}",
                }
            )
        charts = []
        for metric in info.metrics:
            bars = []
            for run in runs:
                bars.append((run_label(run), run.metrics.get(metric.name), False))
                bars += [(label, values.get(metric.name), True) for label, _, values in _slice_rows(run)]
            charts.append(
                {
                    "name": metric.name,
                    "description": metric.description,
                    "arrow": arrow(info, metric.name),
                    "svg": bar_chart(
                        bars, threshold=info.thresholds.get(metric.name), higher_is_better=metric.higher_is_better
                    ),
                }
            )
        suites.append(
            {
                "name": suite,
                "info": info,
                "rows": rows,
                "charts": charts,
                "runs": [_html_run(run) for run in runs],
                "flips": [line for diff in diffs for line in flip_lines(diff)],
            }
        )
    return _HTML.render(report=report, meta=_meta_lines(report), gate=gate_lines(report.gate), suites=suites, fmt=fmt)


def _html_run(run: SuiteRun) -> dict[str, Any]:
    names = list(dict.fromkeys(key for case in run.cases for key in case.values))
    ordered = sorted(run.cases, key=lambda case: case.passed)  # failing first, otherwise in dataset order
    return {
        "label": run_label(run),
        "failing": sum(not case.passed for case in run.cases),
        "metric_names": names,
        "cases": [
            {
                "id": _case_label(case),
                "passed": case.passed,
                "error": case.error,
                "cells": [_cell(case.values.get(name)) for name in names],
                "expected": json.dumps(case.expected, ensure_ascii=False, indent=1),
                "got": json.dumps(case.got, ensure_ascii=False, indent=1),
            }
            for case in ordered
        ],
    }


def _cell(value: float | list[float] | None) -> str:
    if isinstance(value, list):
        return " ".join(fmt(v) for v in value)
    return fmt(value)
