"""The command line: parse arguments, call one core function, render the result. Nothing else lives here."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from prepbot.config import Settings, get_settings
from prepbot.errors import PrepbotError

app = typer.Typer(
    name="prepbot",
    help="Interview preparation from job postings: ingest, search, question sets, mock interviews, evals.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
BackendOpt = Annotated[
    Optional[str], typer.Option("--backend", help="LLM backend: local | openai | openai-compatible.")
]
ModelOpt = Annotated[
    Optional[str], typer.Option("--model", help="local: default | fast | a GGUF path; servers: the model name.")
]


def settings_from(**overrides: Any) -> Settings:
    return get_settings(**overrides)


def print_json(data: Any) -> None:
    """JSON goes to stdout untouched by rich, so scripts can pipe it."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def main() -> None:
    try:
        app()
    except PrepbotError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        raise SystemExit(130) from None


# --- postings, index and search -------------------------------------------------------------------------


# --- LLM layer: models, logs, serve-model -----------------------------------------------------------------
