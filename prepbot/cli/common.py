"""What every command shares: the two consoles, JSON on stdout, writing a file, and the common options.

People read stdout (rich) and scripts parse it (``--json``); progress, notes and errors go to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from prepbot.errors import PrepbotError
from prepbot.files import exported

console = Console()
err_console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
BackendOpt = Annotated[str | None, typer.Option("--backend", help="LLM backend: local | openai | openai-compatible.")]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="local: default | fast | a GGUF path; servers: the model name.")
]
RoleOpt = Annotated[str | None, typer.Option("--role", help="A job title in any language, matched to postings.")]
PostingOpt = Annotated[str | None, typer.Option("--posting", help="A posting ID from `postings list`.")]
CvOpt = Annotated[
    str | None, typer.Option("--cv", help="A CV ID from `cv list`: questions prove its lines and probe its gaps.")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Call the LLM even when a cached reply exists.")]


def print_json(data: Any) -> None:
    """JSON goes to stdout untouched by rich, so scripts can pipe it."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def write_file(path: Path, text: str) -> None:
    """Write what a command exports to ``--out`` and say so on stderr; a path that cannot be written is an error."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PrepbotError(f"cannot write {path}: {exc.strerror or exc}") from exc
    exported(path)
    wrote(path)


def wrote(path: Path) -> None:
    err_console.print(f"wrote {escape(str(path))}", highlight=False)
