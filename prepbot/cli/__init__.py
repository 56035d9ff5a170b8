"""The command line: each command parses its options, calls one library function and renders the result.

- ``app``: the Typer app, every command registered on it in one place, the error boundary, ``main()``.
- one module per command group: ``postings`` (ingest, search, remove, postings list/show/fix),
  ``question_sets`` (questions, questions show/list), ``interview`` (chat, grade, progress), ``sessions``,
  ``models`` (models list/pull/verify/path, serve-model), ``system`` (doctor, logs), ``evals`` (eval).
- ``chat``: the terminal side of a mock interview; ``render``: rich output for people; ``progress_bars``:
  the progress display of long commands; ``common``: the consoles, ``--json`` output and shared options.
"""

from __future__ import annotations

from prepbot.cli.app import app, main
from prepbot.cli.question_sets import questions

__all__ = ["app", "main", "questions"]
