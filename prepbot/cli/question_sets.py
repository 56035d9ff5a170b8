"""The ``questions`` group: write a question set (the group's own callback), ``show`` and ``list`` saved ones.

The choices are literals here, so that ``prepbot --help`` need not import the question machinery;
tests/test_questions.py checks that they equal prepbot.questions' own.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from prepbot.cli import render
from prepbot.cli.common import (
    BackendOpt,
    CvOpt,
    JsonFlag,
    ModelOpt,
    NoCacheOpt,
    PostingOpt,
    RoleOpt,
    console,
    print_json,
    wrote,
)
from prepbot.cli.progress_bars import progress_bars
from prepbot.config import get_settings
from prepbot.text import LanguageChoice

if TYPE_CHECKING:
    from prepbot.questions import QuestionSet

ExportFormat = Literal["md", "json", "csv", "anki"]
ExportFormatOpt = Annotated[
    ExportFormat | None,
    typer.Option("--format", help="Print (or with --out write) as md | json | csv | anki (.apkg, needs --out)."),
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", dir_okay=False, help="Write the set to FILE (format from --format or suffix).")
]


def questions(
    ctx: typer.Context,
    role: RoleOpt = None,
    posting: PostingOpt = None,
    n: Annotated[int, typer.Option("-n", min=1, max=50, help="How many questions.")] = 10,
    kind: Annotated[
        Literal["technical", "behavioral", "system-design", "mixed"],
        typer.Option("--kind", help="mixed: each item's natural kind."),
    ] = "mixed",
    difficulty: Annotated[
        Literal["easy", "medium", "hard", "mixed"], typer.Option("--difficulty", help="mixed: a seeded mix.")
    ] = "mixed",
    lang: Annotated[LanguageChoice, typer.Option("--lang", help="auto: the posting's language.")] = "auto",
    fmt: ExportFormatOpt = None,
    out: OutOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Another seed, another mix of difficulties.")] = 0,
    cv: CvOpt = None,
    as_json: JsonFlag = False,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Write an interview question set for a posting (--role or --posting); `show` and `list` reprint saved ones."""
    if ctx.invoked_subcommand:
        return
    from prepbot.questions import SetRequest, generate_set
    from prepbot.questions.exports import destination_format

    export = destination_format(out, fmt)
    request = SetRequest(n=n, kind=kind, difficulty=difficulty, lang=lang, seed=seed, cv_id=cv)
    settings = get_settings(backend=backend, model=model)
    with progress_bars({"question": "questions"}, quiet=as_json, tokens=True) as bars:
        question_set = generate_set(settings, request, role=role, posting_id=posting, progress=bars, no_cache=no_cache)
    _emit_question_set(question_set, export, out, as_json)


def questions_show(
    set_id: Annotated[str, typer.Argument(help="A set ID from `questions list`.")],
    fmt: ExportFormatOpt = None,
    out: OutOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Print a saved question set again, or export it."""
    from prepbot.questions import load_set
    from prepbot.questions.exports import destination_format

    export = destination_format(out, fmt)
    _emit_question_set(load_set(set_id, get_settings()), export, out, as_json)


def questions_list(
    posting: Annotated[str | None, typer.Option("--posting", help="Only sets for this posting.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Saved question sets, newest first."""
    from prepbot.questions import list_sets

    summaries = list_sets(get_settings(), posting)
    if as_json:
        print_json([summary.model_dump(mode="json") for summary in summaries])
    else:
        render.question_sets_table(console, summaries)


def _emit_question_set(question_set: QuestionSet, export: ExportFormat | None, out: Path | None, as_json: bool) -> None:
    """--out writes a file; stdout gets JSON (--json), the export text (--format alone) or the rendered set."""
    from prepbot.questions import exports

    if out is not None and export:
        exports.write_export(question_set, export, out)
        wrote(out)
    if as_json:
        print_json(question_set.model_dump(mode="json"))
    elif export and out is None:
        sys.stdout.write(exports.export_text(question_set, export))
    else:
        render.question_set(console, question_set)
