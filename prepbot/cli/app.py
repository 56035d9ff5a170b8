"""The Typer app: every command registered in one place, behind one error boundary, and ``main()``.

Each command module parses its options, makes one library call and renders the result (``render``); this
module only says which command is which. Commands are listed in ``--help`` in the order they are added.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup
from typer.exceptions import TyperException

from prepbot.cli import cv, evals, interview, models, postings, question_sets, sessions, system
from prepbot.cli.common import err_console
from prepbot.errors import PrepbotError
from prepbot.files import private_process

if TYPE_CHECKING:
    from typer._click import Context  # the vendored click's Context, which TyperGroup.invoke is typed with


class ErrorBoundary(TyperGroup):
    """Turns the errors a user can act on into one line and an exit code, for every command and sub-command."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except PrepbotError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise  # Typer's own ways out: --help, usage errors, an exit code chosen by a command
        except OSError as exc:  # a file or folder prepbot cannot read or write (permissions, a full disk)
            where = f": {exc.filename}" if exc.filename else ""
            err_console.print(f"[bold red]error:[/] {escape((exc.strerror or str(exc)) + where)}", highlight=False)
            raise typer.Exit(1) from None
        except Exception as exc:
            # Never a traceback for a user: one line that says what broke, the traceback on request.
            if os.environ.get("PREPBOT_DEBUG"):
                raise
            text = " ".join(str(exc).split())[:300]
            message = f"internal error ({type(exc).__name__}: {text}); PREPBOT_DEBUG=1 shows the traceback"
            err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=ErrorBoundary,
    name="prepbot",
    help="Interview preparation from job postings: ingest, search, question sets, mock interviews, evals.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def group(name: str, help: str) -> typer.Typer:
    """A sub-command group on the app (inside its error boundary)."""
    sub = typer.Typer(help=help, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


app.command()(postings.ingest)
app.command()(postings.search)
postings_app = group("postings", "List and show indexed postings.")
postings_app.command("list")(postings.postings_list)
postings_app.command("show")(postings.postings_show)
postings_app.command("fix")(postings.postings_fix)
app.command()(postings.remove)
cv_app = group("cv", "Your CVs: add, list, show, remove; `fit` matches one to a posting.")
cv_app.command("add")(cv.cv_add)
cv_app.command("list")(cv.cv_list)
cv_app.command("show")(cv.cv_show)
cv_app.command("remove")(cv.cv_remove)
app.command("fit")(cv.fit_command)
app.command()(system.doctor)

questions_app = group(
    "questions", "Interview question sets for a posting, each question citing the requirement it tests."
)
questions_app.callback(invoke_without_command=True)(question_sets.questions)
questions_app.command("show")(question_sets.questions_show)
questions_app.command("list")(question_sets.questions_list)

app.command()(interview.chat)
app.command()(interview.grade)
sessions_app = group("sessions", "Saved mock interviews: list, show, export.")
sessions_app.command("list")(sessions.sessions_list)
sessions_app.command("show")(sessions.sessions_show)
sessions_app.command("export")(sessions.sessions_export)
app.command()(interview.progress)

models_app = group("models", "The embedded GGUF models: list, assemble, verify, locate.")
models_app.command("list")(models.models_list)
models_app.command("pull")(models.models_pull)
models_app.command("verify")(models.models_verify)
models_app.command("path")(models.models_path)
app.command("logs")(system.logs)
app.command("serve-model")(models.serve_model)

app.command("eval")(evals.eval_command)


def main() -> None:
    private_process()  # files under the home are the user's alone (prepbot/files.py)
    app()
