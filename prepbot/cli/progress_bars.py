"""The one progress display of every long command: on stderr, so stdout stays clean for scripts; gone when
the work is done; off when stderr is no terminal or the command prints JSON."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from prepbot.cli.common import err_console


class Bars:
    """The lines of a progress display, fed by a library call's ``progress(event, amount)`` hook."""

    def __init__(self, progress: Progress, tasks: dict[str, TaskID]):
        self.progress, self.tasks = progress, tasks
        self.first = next(iter(tasks.values()))
        self.tokens = 0

    def __call__(self, event: str, amount: int) -> None:
        """``("total", n)`` sets the first line's total, ``("token", n)`` counts tokens written, and an event
        naming a line advances that line."""
        if event == "total":
            self.progress.update(self.first, total=amount)
        elif event == "token":
            self.tokens += amount
            self.progress.update(self.first, tokens=self.tokens)
        elif event in self.tasks:
            self.progress.advance(self.tasks[event], amount)

    def advance(self, amount: int) -> None:
        """Advance the first line (the bytes of a model file hashed or written)."""
        self.progress.advance(self.first, amount)


@contextmanager
def progress_bars(
    lines: dict[str, str], *, quiet: bool = False, tokens: bool = False, size: int | None = None
) -> Iterator[Bars]:
    """One line per ``{event: label}``, counting items (``tokens``: and the tokens written), or with ``size``
    one line counting the bytes of a file of that size."""
    columns: list[str | ProgressColumn]
    if size is None:
        columns = ["[progress.description]{task.description}", BarColumn(), MofNCompleteColumn()]
        columns += [TextColumn("{task.fields[tokens]} tokens")] if tokens else []
        columns += [TimeElapsedColumn()]
    else:
        columns = ["{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn()]
    disable = quiet or not err_console.is_terminal
    with Progress(*columns, console=err_console, disable=disable, transient=True) as progress:
        tasks = {event: progress.add_task(label, total=size, tokens=0) for event, label in lines.items()}
        yield Bars(progress, tasks)
