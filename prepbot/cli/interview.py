"""Mock interviews: ``chat`` (in the terminal), ``grade`` (one answer, or a JSONL file of them, for scripts) and
``progress``."""

from __future__ import annotations

from contextlib import nullcontext
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
    err_console,
    print_json,
)
from prepbot.config import get_settings
from prepbot.errors import UsageError
from prepbot.text import LanguageChoice

if TYPE_CHECKING:
    from prepbot.config import Settings


def chat(
    role: RoleOpt = None,
    posting: PostingOpt = None,
    mode: Annotated[
        Literal["screen", "technical", "behavioral", "mixed"],
        typer.Option("--mode", help="screen: easy first-round questions; mixed: each item's natural kind."),
    ] = "mixed",
    lang: Annotated[LanguageChoice, typer.Option("--lang", help="auto: the posting's language.")] = "auto",
    questions_set: Annotated[
        str | None, typer.Option("--questions", help="Ask the questions of a saved set (`questions list`).")
    ] = None,
    focus: Annotated[
        Literal["weak"] | None, typer.Option("--focus", help="weak: the items you scored lowest that are due again.")
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Continue a session (`sessions list`); 'last' for the latest open one."),
    ] = None,
    n: Annotated[int | None, typer.Option("-n", min=1, max=50, help="How many main questions (default 5).")] = None,
    cv: CvOpt = None,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """A mock interview in the terminal: questions, graded answers citing the posting, follow-ups, memory."""
    from prepbot.cli.chat import ChatUI, terminal_reader
    from prepbot.interview import open_interview

    settings = get_settings(backend=backend, model=model)
    interview = open_interview(
        settings,
        resume=resume,
        role=role,
        posting_id=posting,
        mode=mode,
        lang=lang,
        set_id=questions_set,
        focus=focus,
        n=n,
        cv_id=cv,
        no_cache=no_cache,
    )
    ChatUI(interview, console, terminal_reader(settings.home / "chat_history", settings.history_max_entries)).run()


def grade(
    question: Annotated[str | None, typer.Option("--question", help="The question that was asked.")] = None,
    role: RoleOpt = None,
    posting: PostingOpt = None,
    requirement: Annotated[
        str | None, typer.Option("--requirement", help="The item the question tests (default: found by retrieval).")
    ] = None,
    answer: Annotated[str | None, typer.Option("--answer", help="The answer text.")] = None,
    answer_file: Annotated[
        str | None, typer.Option("--answer-file", help="Read the answer from a file, or - for stdin.")
    ] = None,
    answers: Annotated[
        str | None,
        typer.Option(
            "--answers",
            help="Score many answers, one model load: a JSONL file (or - for stdin), one object a line with "
            "question, answer, posting or role, and optionally requirement and id. Prints one JSON line each.",
        ),
    ] = None,
    as_json: JsonFlag = False,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Grade one answer with the interview's grader, without a session (or score a file of them)."""
    from rich.live import Live

    from prepbot.interview import grade_one

    settings = get_settings(backend=backend, model=model)
    if answers is not None:
        if question or answer is not None or answer_file is not None:
            raise UsageError("--answers takes the questions and answers from its file: no --question or --answer")
        _grade_file(settings, answers, no_cache)
        return
    if not question:
        raise UsageError("give --question TEXT (with --answer or --answer-file), or --answers FILE.jsonl")
    text = _answer_text(answer, answer_file)
    live = Live(console=err_console, refresh_per_second=8, transient=True)
    stream = not as_json and err_console.is_terminal
    with live if stream else nullcontext():
        result = grade_one(
            settings,
            question=question,
            answer=text,
            role=role,
            posting_id=posting,
            requirement_id=requirement,
            no_cache=no_cache,
            listener=(lambda partial: live.update(render.partial_grade(partial))) if stream else None,
        )
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        render.grade_result(console, result)


def _grade_file(settings: Settings, answers: str, no_cache: bool) -> None:
    """One JSON line per answer on stdout as each is scored; a summary on stderr; exit 1 if any failed."""
    import json

    from prepbot.interview.batch import grade_batch
    from prepbot.postings.readers import read_answer_file

    failed = scored = 0
    for result in grade_batch(settings, read_answer_file(answers), no_cache=no_cache):
        print(json.dumps(result.model_dump(mode="json", exclude_none=True), ensure_ascii=False), flush=True)
        failed, scored = failed + (result.error is not None), scored + (result.error is None)
    err_console.print(f"scored {scored} answer(s)" + (f", {failed} could not be scored" if failed else ""))
    if failed:
        raise typer.Exit(1)


def _answer_text(answer: str | None, answer_file: str | None) -> str:
    if (answer is None) == (answer_file is None):
        raise UsageError("give exactly one of --answer TEXT or --answer-file PATH (- for stdin)")
    if answer is not None:
        return answer
    from prepbot.postings.readers import read_answer_file

    return read_answer_file(answer_file or "-")


def progress(role: RoleOpt = None, posting: PostingOpt = None, as_json: JsonFlag = False) -> None:
    """Per requirement item: latest and best score over time, and the weakest items (what --focus weak asks)."""
    from prepbot.interview.progress import progress_json, quoted_progress

    rows = quoted_progress(get_settings(), role=role, posting_id=posting)
    if as_json:
        print_json(progress_json(rows))
    else:
        render.progress_table(console, rows)
