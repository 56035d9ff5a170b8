"""A user's corrections of how a posting file was read, kept in the database by file, so that they
survive re-ingesting the file: a section's kind (by its heading), a heading where a posting begins, or that
the file is one posting. This module owns the ``posting_corrections`` table."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from prepbot import db
from prepbot.config import Settings
from prepbot.postings.models import SECTIONS, Section
from prepbot.postings.parse import Corrections, heading_key


def for_file(settings: Settings, file: str | Path) -> Corrections:
    with closing(db.connect(settings)) as conn:
        rows = conn.execute(
            "SELECT what, heading, kind FROM posting_corrections WHERE file = ?", (str(file),)
        ).fetchall()
    corrections = Corrections()
    for row in rows:
        if row["what"] == "section" and row["kind"] in SECTIONS:
            corrections.sections[row["heading"]] = row["kind"]
        elif row["what"] == "split":
            corrections.split_at.add(row["heading"])
        elif row["what"] == "one":
            corrections.one_posting = True
    return corrections


def set_section_kind(settings: Settings, file: str | Path, heading: str, kind: Section) -> None:
    _put(settings, file, "section", heading_key(heading), kind)


def split_at(settings: Settings, file: str | Path, heading: str) -> None:
    _put(settings, file, "split", heading_key(heading), "")
    _delete(settings, file, "one")


def one_posting(settings: Settings, file: str | Path) -> None:
    _put(settings, file, "one", "", "")
    _delete(settings, file, "split")


def reset(settings: Settings, file: str | Path) -> int:
    with closing(db.connect(settings)) as conn:
        return conn.execute("DELETE FROM posting_corrections WHERE file = ?", (str(file),)).rowcount


def _put(settings: Settings, file: str | Path, what: str, heading: str, kind: str) -> None:
    with closing(db.connect(settings)) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO posting_corrections (file, what, heading, kind) VALUES (?, ?, ?, ?)",
            (str(file), what, heading, kind),
        )


def _delete(settings: Settings, file: str | Path, what: str) -> None:
    with closing(db.connect(settings)) as conn:
        conn.execute("DELETE FROM posting_corrections WHERE file = ? AND what = ?", (str(file), what))
