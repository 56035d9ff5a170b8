"""The command line: parse arguments, call one core function, render the result. Nothing else lives here."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import click
import typer
from rich.markup import escape
from typer.core import TyperGroup
from rich.console import Console

from prepbot.config import Settings, get_settings
from prepbot import render
from prepbot.errors import PrepbotError

if TYPE_CHECKING:
    from prepbot.index import RequirementIndex

console = Console()
err_console = Console(stderr=True)


class _Group(TyperGroup):
    """Turns the errors a user can act on into one line and an exit code, for every command and sub-command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PrepbotError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_Group,
    name="prepbot",
    help="Interview preparation from job postings: ingest, search, question sets, mock interviews, evals.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
BackendOpt = Annotated[
    Optional[str], typer.Option("--backend", help="LLM backend: local | openai | openai-compatible.")
]
ModelOpt = Annotated[
    Optional[str], typer.Option("--model", help="local: default | fast | a GGUF path; servers: the model name.")
]


def print_json(data: Any) -> None:
    """JSON goes to stdout untouched by rich, so scripts can pipe it."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def main() -> None:
    app()


# --- postings, index and search -------------------------------------------------------------------------


def open_index(settings: Settings) -> "RequirementIndex":
    from prepbot.index import RequirementIndex

    return RequirementIndex(settings)


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or globs: .md .txt .html .pdf .json .jsonl")],
    as_json: JsonFlag = False,
) -> None:
    """Parse postings into requirement items and index them (re-ingesting an unchanged file changes nothing)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from prepbot.ingest import ingest as run_ingest

    index = open_index(get_settings())
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json or not err_console.is_terminal,
        transient=True,
    ) as progress:
        files_task = progress.add_task("files", total=None)
        items_task = progress.add_task("items indexed", total=None)

        def hook(event: str, amount: int) -> None:
            progress.advance(files_task if event == "file" else items_task, amount)

        report = run_ingest(paths, index, progress=hook)
    if as_json:
        print_json(report.model_dump())
    else:
        render.ingest_report(console, err_console, report)
    nothing_indexed = not any(p.outcome != "duplicate" for p in report.postings)
    if report.errors and nothing_indexed:
        raise SystemExit(1)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Text to match against requirement items, in any language.")],
    posting: Annotated[Optional[str], typer.Option("--posting", help="Only this posting's items.")] = None,
    section: Annotated[
        Optional[str], typer.Option("--section", help="about|responsibility|requirement|nice_to_have|benefit|other")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many items.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Hybrid (dense + BM25) search over indexed requirement items."""
    hits = open_index(get_settings()).search(query, posting_id=posting, section=section, k=k)
    if as_json:
        print_json([hit.model_dump(include={"id", "posting_id", "section", "group", "text", "title", "score"}) for hit in hits])
    else:
        render.search_hits(console, hits)


postings_app = typer.Typer(help="List and show indexed postings.", no_args_is_help=True)
app.add_typer(postings_app, name="postings")


@postings_app.command("list")
def postings_list(as_json: JsonFlag = False) -> None:
    """Every indexed posting with its item counts per section."""
    summaries = open_index(get_settings()).list_postings()
    if as_json:
        print_json([s.model_dump(include={"id", "title", "company", "language", "source", "counts"}) for s in summaries])
    else:
        render.postings_table(console, summaries)


@postings_app.command("show")
def postings_show(posting_id: Annotated[str, typer.Argument(help="A posting ID from `postings list`.")], as_json: JsonFlag = False) -> None:
    """One posting and all its items, by section."""
    posting = open_index(get_settings()).get_posting(posting_id)
    if posting is None:
        raise PrepbotError(f"no posting {posting_id!r}; `prepbot postings list` shows the IDs")
    if as_json:
        shown = {"id": True, "title": True, "company": True, "language": True, "source": True}
        print_json(posting.model_dump(include={**shown, "requirements": {"__all__": {"id", "section", "group", "text"}}}))
    else:
        render.posting_detail(console, posting)


@app.command()
def remove(posting_id: Annotated[str, typer.Argument(help="A posting ID from `postings list`.")]) -> None:
    """Delete one posting and its items from the index."""
    if not open_index(get_settings()).remove_posting(posting_id):
        raise PrepbotError(f"no posting {posting_id!r}; `prepbot postings list` shows the IDs")
    console.print(f"removed {posting_id}")


@app.command()
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



# --- LLM layer: models, logs, serve-model -----------------------------------------------------------------
