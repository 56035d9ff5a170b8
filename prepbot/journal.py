"""The ingest journal: which files an ingest finished, so that the next one skips them unread.

A file is entered once every posting it holds is in the store (written by a flush, or found unchanged), with
its size, modification time, the number of its postings in the store and a key of how it was read: the
parser's own source and the file's corrections. An ingest cut short (Ctrl-C, a kill, a crash) therefore
continues where it stopped: the files it finished are skipped, the rest are read again. A file is read again
when it changed, when the parser or its corrections did, or when the store no longer holds as many of its
postings (one was removed).
"""

from __future__ import annotations

import hashlib
import time
from contextlib import closing
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from prepbot import db
from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.postings.parse import Corrections


@dataclass(frozen=True)
class FileState:
    path: str
    size: int
    mtime_ns: int
    reading: str  # parser source + corrections, hashed


@cache
def parser_key() -> str:
    """A hash of the code that reads postings: a new prepbot that reads files differently reads them again."""
    import prepbot.postings as package

    digest = hashlib.sha256()
    for source in sorted(Path(package.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def file_state(path: Path, corrections: Corrections) -> FileState:
    try:
        stat = path.stat()
    except OSError as exc:
        raise PrepbotError(f"{path}: cannot read it ({exc.strerror})") from None
    reading = hashlib.sha256(f"{parser_key()}|{corrections.model_dump_json()}".encode()).hexdigest()[:16]
    return FileState(str(path), stat.st_size, stat.st_mtime_ns, reading)


class Journal:
    """The finished files of one store (a home can point at several stores and collections)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = f"{settings.chroma_url or settings.chroma_dir}|{settings.collection}"
        with closing(db.connect(settings)) as conn:
            rows = conn.execute(
                "SELECT path, size, mtime_ns, reading, postings FROM ingested_files WHERE store = ?", (self.store,)
            ).fetchall()
        self.done = {row["path"]: (FileState(*tuple(row)[:4]), row["postings"]) for row in rows}

    def finished(self, state: FileState, postings_in_store: int) -> bool:
        entry = self.done.get(state.path)
        return entry is not None and entry == (state, postings_in_store)

    def record(self, finished: list[tuple[FileState, int]]) -> None:
        if not finished:
            return
        with closing(db.connect(self.settings)) as conn, conn:
            conn.executemany(
                "INSERT OR REPLACE INTO ingested_files (store, path, size, mtime_ns, reading, postings, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(self.store, s.path, s.size, s.mtime_ns, s.reading, n, time.time()) for s, n in finished],
            )
        self.done.update({state.path: (state, count) for state, count in finished})
