"""``prepbot chat``: the mock interview in a terminal, over ``prepbot.interview.Interview``.

Input is prompt_toolkit's multi-line editor when stdin is a terminal: Enter on an empty line or Esc-Enter
sends, a line starting with ``/`` is a command and sends at once, arrows and history (saved under
``PREPBOT_HOME``) work, and pasted text stays whole. Without a terminal, lines are read from stdin up to an
empty line, so a script can pipe answers in.

Ctrl-C while the model writes or grades cancels that generation and returns to the prompt (the answer
stays saved); Ctrl-C or Ctrl-D at the prompt ends the session, which ``--resume`` continues.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from prepbot.cli import render
from prepbot.errors import PrepbotError
from prepbot.files import prune_history, tighten
from prepbot.grading import MAX_ANSWER_CHARS, Grade
from prepbot.interview import Interview, Turn
from prepbot.text import LANGUAGES

COMMANDS = {
    "/hint": "a hint: the item tested, then the rubric point by point",
    "/skip": "skip this question",
    "/repeat": "show the question again",
    "/score": "the running score",
    "/lang X": f"ask and give feedback in X ({', '.join(LANGUAGES)})",
    "/help": "this list",
    "/quit": "end the session (--resume continues it)",
}

ReadInput = Callable[[str], str]  # prompt -> text; raises EOFError / KeyboardInterrupt to end


class _Quit(Exception):
    pass


def terminal_reader(history_path: Any, keep: int = 1000) -> ReadInput:
    """The multi-line editor on a terminal; plain line reading otherwise."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return _read_lines
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings

    bindings = KeyBindings()

    @bindings.add("enter")
    def _enter(event: Any) -> None:
        buffer = event.current_buffer
        text = buffer.text
        command = text.startswith("/") and "\n" not in text
        empty_line = buffer.document.current_line.strip() == "" and text.strip() != ""
        if command or not text.strip() or empty_line:
            buffer.text = text.rstrip("\n")
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    @bindings.add("escape", "enter")
    def _send(event: Any) -> None:
        event.current_buffer.validate_and_handle()

    history_path.parent.mkdir(parents=True, exist_ok=True)
    prune_history(history_path, keep)
    tighten(history_path, 0o600)
    session: Any = PromptSession(
        history=FileHistory(str(history_path)),
        multiline=True,
        key_bindings=bindings,
        prompt_continuation=lambda width, line, wrap: "… ".rjust(width),
    )

    def read(prompt: str) -> str:
        return session.prompt(prompt)

    return read


def _read_lines(prompt: str) -> str:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    lines: list[str] = []
    while True:
        line = sys.stdin.readline()
        if not line:
            if lines:
                break
            raise EOFError
        line = line.rstrip("\n")
        if line.startswith("/") and not lines:
            return line
        if not line.strip():
            if lines:
                break
            return ""
        lines.append(line)
    return "\n".join(lines)


class ChatUI:
    def __init__(self, interview: Interview, console: Console, read: ReadInput):
        self.interview, self.console, self.read = interview, console, read

    def say(self, *objects: Any, **options: Any) -> None:
        """Print without rich's automatic highlighting, so that a line reads (and matches) as written."""
        self.console.print(*objects, highlight=False, **options)

    # --- the loop ------------------------------------------------------------------------------------------

    def run(self) -> None:
        self.opening()
        try:
            while True:
                turn = self.next_turn()
                if turn is None:
                    break
                self.ask(turn)
        except _Quit:
            pass
        finally:
            self.interview.cancel_prewarm(wait=True)  # the process may exit next: the model must be left alone
        self.closing()

    def next_turn(self) -> Turn | None:
        while True:
            try:
                return self.write_next_turn()
            except KeyboardInterrupt:
                self.say("[yellow]Cancelled.[/] Enter to go on, /quit to stop.")
                self.command_or_continue()
            except PrepbotError as exc:
                self.say(f"[red]error:[/] {escape(str(exc))}")
                self.say("Enter to try again, /quit to stop.")
                self.command_or_continue()

    def write_next_turn(self) -> Turn | None:
        """The next turn, with a spinner counting the tokens while the model writes its question."""
        with self.console.status("Writing the next question…", spinner="dots") as status:
            tokens = 0

            def progress(event: str, amount: int) -> None:
                nonlocal tokens
                if event == "token":
                    tokens += amount
                    status.update(f"Writing the next question… {tokens} tokens")

            return self.interview.next_turn(progress)

    def command_or_continue(self) -> None:
        text = self.prompt("> ").strip()
        if text.startswith("/quit"):
            raise _Quit

    def prompt(self, text: str) -> str:
        try:
            return self.read(text)
        except (EOFError, KeyboardInterrupt):
            raise _Quit from None

    def ask(self, turn: Turn) -> None:
        self.show_question(turn)
        self.interview.prewarm(turn)
        if turn.answer is not None and turn.grade is None:
            self.say("[dim]Your saved answer, graded now:[/]")
            self.say(Text(turn.answer, style="dim"))
            if self.grade(turn):
                return
        while True:
            text = self.prompt("answer> ")
            stripped = text.strip()
            if stripped.startswith("/"):
                if self.command(turn, stripped):
                    return
                continue
            if not stripped:
                self.say(
                    "[dim]Type your answer; Enter on an empty line (or Esc-Enter) sends it. /help lists commands.[/]"
                )
                continue
            if len(stripped) > MAX_ANSWER_CHARS:
                self.say(f"[yellow]That answer has {len(stripped)} characters; keep it under {MAX_ANSWER_CHARS}.[/]")
                continue
            self.interview.answer(turn, stripped)
            if self.grade(turn):
                return

    def grade(self, turn: Turn) -> bool:
        """Grade the turn's answer, streaming; False when cancelled or failed (the answer stays saved)."""
        live = Live(Text("Grading…", style="dim"), console=self.console, refresh_per_second=8, transient=False)
        try:
            with live:
                grade = self.interview.grade(turn, listener=lambda partial: live.update(render.partial_grade(partial)))
                live.update(render.partial_grade(grade.model_dump()))
        except KeyboardInterrupt:
            self.say("[yellow]Grading cancelled; your answer is saved.[/] Answer again, or /skip.")
            return False
        except PrepbotError as exc:
            self.say(f"[red]error:[/] {escape(str(exc))}")
            self.say("Your answer is saved. Send it again to retry, or /skip.")
            return False
        self.show_citations(grade)
        return True

    # --- commands ------------------------------------------------------------------------------------------

    def command(self, turn: Turn, text: str) -> bool:
        """Handle a slash command; True when the turn is over."""
        name, _, argument = text.partition(" ")
        if name == "/quit":
            raise _Quit
        if name == "/skip":
            self.interview.skip(turn)
            self.say("[dim]Skipped.[/]")
            return True
        if name == "/hint":
            self.say(f"[cyan]Hint:[/] {escape(self.interview.hint(turn))}")
        elif name == "/repeat":
            self.show_question(turn)
        elif name == "/score":
            self.show_score()
        elif name == "/lang":
            try:
                self.interview.set_language(argument.strip())
                self.say(f"[dim]Questions and feedback are now in {argument.strip()}.[/]")
            except PrepbotError as exc:
                self.say(f"[yellow]{escape(str(exc))}[/]")
        elif name == "/help":
            self.show_help()
        else:
            self.say(f"[yellow]Unknown command {escape(name)}.[/] /help lists them.")
        return False

    # --- output --------------------------------------------------------------------------------------------

    def opening(self) -> None:
        session, interview = self.interview.session, self.interview
        self.say(f"[bold]Mock interview: {escape(session.role)}[/]  [dim]({session.posting_id})[/]")
        done = len(session.main_turns)
        resumed = f", resuming after {done} asked" if session.turns else ""
        planned = len(session.plan)
        self.say(
            f"{planned} question{'' if planned == 1 else 's'}, mode {session.mode}, language {session.language}{resumed}."
            f"  Session [bold]{session.id}[/]."
        )
        self.say(
            "[dim]Enter on an empty line sends an answer. Commands: " + " ".join(c.split()[0] for c in COMMANDS) + "[/]"
        )
        if interview.remaining() == 0 and interview.open_turn() is None and interview.pending_follow_up() is None:
            self.say("[dim]Nothing left to ask in this session.[/]")

    def show_question(self, turn: Turn) -> None:
        label = (
            "Follow-up"
            if turn.kind == "follow_up"
            else f"Question {len(self.interview.session.main_turns)}/{len(self.interview.session.plan)}"
        )
        self.say()
        self.say(f"[bold cyan]{label}[/] [dim]({turn.difficulty or ''})[/]")
        self.say(Text(turn.question, style="bold"))
        item = (
            self.interview.index.get_requirements([turn.requirement_id]).get(turn.requirement_id)
            if turn.requirement_id
            else None
        )
        if item:
            self.say(f'[dim]tests {item.id}: "{escape(item.text)}"[/]')
        if turn.cv_claim:
            self.say(f'[dim]your CV, {escape(turn.cv_claim.id)}: "{escape(turn.cv_claim.quote)}"[/]')
        elif turn.cv_gap:
            self.say("[dim]your CV does not show this requirement[/]")

    def show_citations(self, grade: Grade) -> None:
        if not grade.citations:
            return
        self.say()  # the streamed grade above may end without a line break (piped output)
        self.say("[bold]Requirements[/]")
        for cited in grade.citations:
            self.say(render.citation(cited))

    def show_score(self) -> None:
        board = self.interview.scoreboard()
        mean = board["mean_score"]
        self.say(
            f"Asked {board['asked']} of {board['planned']}, graded {board['graded']}, "
            f"mean {mean if mean is not None else '-'} / 5"
        )
        for n, kind, score in board["scores"]:
            self.say(f"  turn {n} ({kind}): {score}/5")

    def show_help(self) -> None:
        for command, meaning in COMMANDS.items():
            self.say(f"  [bold]{command}[/]  {meaning}")

    def closing(self) -> None:
        interview = self.interview
        finished = interview.finished()
        if finished:
            interview.end()
        self.say()
        self.show_score()
        session = interview.session
        if finished:
            self.say(f"Interview over. `prepbot sessions export {session.id} --format md` writes the report.")
        else:
            self.say(f"Session saved. `prepbot chat --resume {session.id}` continues it.")
