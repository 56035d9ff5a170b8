"""``eval``: the offline evals (suites x prompt variants x backends) with their regression gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prepbot.cli.common import JsonFlag, NoCacheOpt, console, err_console, print_json
from prepbot.cli.progress_bars import progress_bars
from prepbot.config import get_settings
from prepbot.errors import UsageError


def eval_command(
    config: Annotated[
        Path | None, typer.Argument(help="Eval config (YAML); default evals/default.yaml.", show_default=False)
    ] = None,
    suites: Annotated[list[str] | None, typer.Option("--suite", help="Only this suite (repeatable).")] = None,
    variants: Annotated[
        list[str] | None, typer.Option("--variant", help="Prompt variant name@vN instead of the config's (repeatable).")
    ] = None,
    backends: Annotated[
        list[str] | None, typer.Option("--backend", help="A backend named in the config, or a kind (repeatable).")
    ] = None,
    repeat: Annotated[int | None, typer.Option("--repeat", min=1, help="Run each LLM case N times.")] = None,
    no_cache: NoCacheOpt = False,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="An earlier JSON report: exit 1 when a metric drops.")
    ] = None,
    max_drop: Annotated[
        float | None, typer.Option("--max-drop", min=0, help="Largest absolute drop allowed (default: config's).")
    ] = None,
    out: Annotated[
        list[Path] | None, typer.Option("--out", help="Write the report: .json, .md or .html (repeatable).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run offline evals (suites x prompt variants x backends) and gate on thresholds and a baseline."""
    from prepbot import evals
    from prepbot.evals import report as reports

    path = config or evals.DEFAULT_CONFIG
    if config is None and not path.exists():
        raise UsageError(f"no eval config given and no {path} here: pass CONFIG.yaml")
    options = evals.RunOptions(
        suites=suites or [],
        variants=variants or [],
        backends=backends or [],
        repeat=repeat,
        no_cache=no_cache,
        baseline=baseline,
        max_drop=max_drop,
    )
    settings = get_settings()
    loaded = evals.load_config(path)
    with progress_bars({"case": "eval"}) as bars:  # shown with --json too: the report goes to stdout at the end
        report = evals.run_eval(loaded, options, settings, config_path=path, progress=bars)
    for target in out or []:
        reports.write_report(report, target)
    if as_json:
        print_json(report.model_dump(mode="json"))
        reports.print_gate(err_console, report.gate)
    else:
        reports.print_report(console, report)
    if not report.gate.passed:
        raise SystemExit(1)
