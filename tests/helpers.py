"""Shared test helpers (fixtures live in conftest.py)."""

from __future__ import annotations

from typer.testing import CliRunner

from prepbot.cli import app
from prepbot.config import reset_settings_cache


def run_cli(args: list[str], input: str | None = None):
    """Invoke the CLI in process as a user would, re-reading PREPBOT_* first, at a fixed terminal width."""
    reset_settings_cache()
    return CliRunner().invoke(app, args, input=input, env={"COLUMNS": "120"}, catch_exceptions=False)
