"""Postings and their items: ``ingest``, ``search``, ``remove`` and the ``postings`` group (list, show, fix)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from prepbot.cli import render
from prepbot.cli.common import JsonFlag, console, err_console, print_json
from prepbot.cli.progress_bars import progress_bars
from prepbot.config import Settings, get_settings
from prepbot.errors import PrepbotError, UsageError

if TYPE_CHECKING:
    from prepbot.ingest import IngestReport
    from prepbot.retrieval.index import RequirementIndex

PostingArg = Annotated[str, typer.Argument(help="A posting ID from `postings list`.")]
SEARCH_FIELDS = {"id", "posting_id", "section", "group", "text", "title", "score"}
LIST_FIELDS = {"id", "title", "company", "language", "source", "counts"}
SHOW_FIELDS = {"id", "title", "company", "language", "source", "outline"}
ITEM_FIELDS = {"id", "section", "group", "text", "detail"}


def open_index(settings: Settings) -> RequirementIndex:
    from prepbot.retrieval.index import RequirementIndex

    return RequirementIndex(settings)


def no_posting(posting_id: str) -> PrepbotError:
    return PrepbotError(f"no posting {posting_id!r}; `prepbot postings list` shows the IDs")


def print_json_report(report: IngestReport) -> None:
    """The report as JSON, every posting listed: from the log, a line at a time, where the report holds some."""
    if report.log is None:
        print_json(report.model_dump())
        return
    sys.stdout.write('{"postings": [')
    for k, outcome in enumerate(report.every_posting()):
        sys.stdout.write(("," if k else "") + "\n  " + json.dumps(outcome.model_dump(), ensure_ascii=False))
    rest = json.dumps(report.model_dump(exclude={"postings"}), ensure_ascii=False, indent=2)
    sys.stdout.write("\n],\n" + rest[1:].lstrip("\n") + "\n")


def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or globs: .md .txt .html .pdf .json .jsonl")],
    as_json: JsonFlag = False,
) -> None:
    """Parse postings into requirement items and index them (re-ingesting an unchanged file changes nothing)."""
    from prepbot.ingest import ingest as run_ingest

    index = open_index(get_settings())
    with progress_bars({"file": "files", "items": "items indexed"}, quiet=as_json) as bars:
        report = run_ingest(paths, index, progress=bars)
    if as_json:
        print_json_report(report)
    else:
        render.ingest_report(console, err_console, report)
    if report.errors:  # the other files are indexed; the exit code says that not everything was
        raise SystemExit(1)


def search(
    query: Annotated[str, typer.Argument(help="Text to match against requirement items, in any language.")],
    posting: Annotated[str | None, typer.Option("--posting", help="Only this posting's items.")] = None,
    section: Annotated[
        str | None, typer.Option("--section", help="about|responsibility|requirement|nice_to_have|benefit|other")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many items.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Hybrid (dense + BM25) search over indexed requirement items."""
    hits = open_index(get_settings()).search(query, posting_id=posting, section=section, k=k)
    if as_json:
        print_json([hit.model_dump(include=SEARCH_FIELDS) for hit in hits])
    else:
        render.search_hits(console, hits)


def postings_list(as_json: JsonFlag = False) -> None:
    """Every indexed posting with its item counts per section."""
    summaries = open_index(get_settings()).list_postings()
    if as_json:
        print_json([s.model_dump(include=LIST_FIELDS) for s in summaries])
    else:
        render.postings_table(console, summaries)


def postings_show(posting_id: PostingArg, as_json: JsonFlag = False) -> None:
    """One posting and all its items, by section."""
    posting = open_index(get_settings()).get_posting(posting_id)
    if posting is None:
        raise no_posting(posting_id)
    if as_json:
        print_json(
            posting.model_dump(include={**dict.fromkeys(SHOW_FIELDS, True), "requirements": {"__all__": ITEM_FIELDS}})
        )
    else:
        render.posting_detail(console, posting)


def postings_fix(
    posting_id: PostingArg,
    section: Annotated[str | None, typer.Option("--section", help="A heading as `postings show` prints it.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", help="With --section: responsibility|requirement|nice_to_have|about|benefit|process|other"
        ),
    ] = None,
    split_at: Annotated[str | None, typer.Option("--split-at", help="A heading where a posting begins.")] = None,
    one_posting: Annotated[bool, typer.Option("--one-posting", help="The posting's file is one posting.")] = False,
    reset: Annotated[bool, typer.Option("--reset", help="Forget the corrections of the posting's file.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Correct how a posting was read (a section's kind, where postings begin); kept across re-ingests."""
    from prepbot.ingest import correct

    if section is not None and kind is None:
        raise UsageError("--section needs --kind")
    report = correct(
        open_index(get_settings()),
        posting_id,
        heading=section if section is not None else split_at,
        kind=kind,
        split=split_at is not None,
        one_posting=one_posting,
        reset=reset,
    )
    if as_json:
        print_json_report(report)
    else:
        render.ingest_report(console, err_console, report)


def remove(posting_id: PostingArg) -> None:
    """Delete one posting and its items from the index."""
    from prepbot.ingest import ingest_lock

    settings = get_settings()
    with ingest_lock(settings):
        removed = open_index(settings).remove_posting(posting_id)
    if not removed:
        raise no_posting(posting_id)
    console.print(f"removed {posting_id}")
