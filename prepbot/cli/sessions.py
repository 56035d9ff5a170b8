"""The ``sessions`` group: saved mock interviews listed, shown, exported as a report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from prepbot.cli import render
from prepbot.cli.common import JsonFlag, PostingOpt, console, print_json, write_file
from prepbot.config import get_settings

SessionArg = Annotated[str, typer.Argument(help="A session ID from `sessions list`.")]


def sessions_list(posting: PostingOpt = None, as_json: JsonFlag = False) -> None:
    """Sessions, newest first."""
    from prepbot.interview.report import summary_json
    from prepbot.interview.store import list_sessions

    summaries = list_sessions(get_settings(), posting)
    if as_json:
        print_json([summary_json(summary) for summary in summaries])
    else:
        render.sessions_table(console, summaries)


def sessions_show(session_id: SessionArg, as_json: JsonFlag = False) -> None:
    """Every turn of a session: question, answer, score, rubric, citations, follow-up."""
    from prepbot.interview.report import session_json
    from prepbot.interview.store import load_session

    session = load_session(session_id, get_settings())
    if as_json:
        print_json(session_json(session))
    else:
        render.session_report(console, session)


def sessions_export(
    session_id: SessionArg,
    fmt: Annotated[Literal["md", "json"], typer.Option("--format", help="md: a report to keep; json.")] = "md",
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False, help="Write to FILE.")] = None,
) -> None:
    """A session as a report: per-question scores, the requirements cited, what to practise."""
    from prepbot.interview.report import export_session

    text = export_session(get_settings(), session_id, fmt) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        write_file(out, text)
