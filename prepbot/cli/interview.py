"""Mock interviews: ``chat`` (in the terminal), ``grade`` (one answer, for scripts) and ``progress``."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated, Literal

import typer

from prepbot.cli import render
from prepbot.cli.common import (
    BackendOpt,
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
        no_cache=no_cache,
    )
    ChatUI(interview, console, terminal_reader(settings.home / "chat_history")).run()


def grade(
    question: Annotated[str, typer.Option("--question", help="The question that was asked.")],
    role: RoleOpt = None,
    posting: PostingOpt = None,
    requirement: Annotated[
        str | None, typer.Option("--requirement", help="The item the question tests (default: found by retrieval).")
    ] = None,
    answer: Annotated[str | None, typer.Option("--answer", help="The answer text.")] = None,
    answer_file: Annotated[
        str | None, typer.Option("--answer-file", help="Read the answer from a file, or - for stdin.")
    ] = None,
    as_json: JsonFlag = False,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Grade one answer with the interview's grader, without a session."""
    from rich.live import Live

    from prepbot.interview import grade_one

    text = _answer_text(answer, answer_file)
    live = Live(console=err_console, refresh_per_second=8, transient=True)
    stream = not as_json and err_console.is_terminal
    with live if stream else nullcontext():
        result = grade_one(
            get_settings(backend=backend, model=model),
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
