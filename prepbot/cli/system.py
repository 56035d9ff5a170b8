"""Looking after the install: ``doctor`` (what works and what to do about what does not) and ``logs``."""

from __future__ import annotations

from typing import Annotated

import typer

from prepbot.cli import render
from prepbot.cli.common import JsonFlag, console, print_json
from prepbot.config import get_settings


def doctor(as_json: JsonFlag = False) -> None:
    """Say what is installed, where data lives, and which backends and embedders are usable."""
    from prepbot.doctor import run_checks

    checks = run_checks(get_settings())
    if as_json:
        print_json([check.model_dump() for check in checks])
    else:
        render.doctor_table(console, checks)
    if any(check.status == "fail" for check in checks):
        raise SystemExit(1)


def logs(
    n: Annotated[int, typer.Option("-n", help="How many of the latest calls.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Recent LLM calls, newest first: prompt, backend, tokens, latency, cost, cache hits and errors."""
    from prepbot.llm.log import recent_calls

    calls = recent_calls(n, get_settings())
    if as_json:
        print_json([call.model_dump(mode="json") for call in calls])
    else:
        render.calls_table(console, calls)
