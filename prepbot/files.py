"""Files prepbot keeps for the user: private to them, and bounded.

Everything under the home (the database, the vector store, chat history, prompt-state caches) holds the
user's postings, answers and grades, so the CLI runs with umask 077: files are created 0600 and folders 0700.
A home made by an older version is tightened when it is opened. What a command exports on request (``--out``)
gets the user's own umask back, as any other program's output would.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from pathlib import Path
from typing import ClassVar

PRIVATE_UMASK = 0o077
_user_umask: int | None = None  # the umask the CLI started with; None when not set by private_process()


def private_process() -> None:
    """From here on this process creates files 0600 and folders 0700 (the CLI calls it first)."""
    global _user_umask
    previous = os.umask(PRIVATE_UMASK)
    if _user_umask is None:
        _user_umask = previous


def exported(path: Path) -> None:
    """Give a file the user asked for the mode their own umask would have given it."""
    if _user_umask is not None:
        with contextlib.suppress(OSError):  # a filesystem without modes (FAT, some mounts): nothing to give back
            os.chmod(path, 0o666 & ~_user_umask)


def private_home(home: Path) -> None:
    """Create the home 0700, or tighten one that others can read (made before files were kept private)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    tighten(home, 0o700)


def tighten(path: Path, mode: int) -> None:
    """Take group and other permissions off ``path`` if it has any (the owner's stay as they are)."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            os.chmod(path, mode)
    except OSError:
        pass  # not ours to change (a shared or read-only mount): the data still works


def prune_history(path: Path, keep: int) -> None:
    """Keep the newest ``keep`` entries of a prompt_toolkit FileHistory file (each starts with a ``# date``
    line after a blank one); an unreadable file is left as it is."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    entries = text.split("\n\n# ")
    if len(entries) <= keep:
        return
    kept = entries[-keep:]
    path.write_text("\n\n# " + "\n\n# ".join(kept), encoding="utf-8")


class Lock:
    """An advisory lock on a file under the home (``flock``), held until ``release()`` or the process ends.

    Two prepbot processes on one home take it around what must not interleave: an ingest (its orphan sweep
    would delete what another ingest has written but not yet recorded) and a chat session (two resumes would
    both write turn n+1). Within one process the lock is re-entrant: it guards against other processes.
    Where ``fcntl`` is missing (Windows) it is a no-op.
    """

    _held: ClassVar[dict[Path, tuple[int, int]]] = {}  # path -> (descriptor, holders in this process)
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path):
        self.path = path
        self._holding = False

    def acquire(self, wait_s: float = 0.0) -> bool:
        """Take the lock, waiting up to ``wait_s`` seconds for another process to let it go; False if it did not."""
        try:
            import fcntl
        except ImportError:
            return True
        deadline = time.monotonic() + wait_s
        while True:
            with self._guard:
                if self.path in self._held:
                    fd, holders = self._held[self.path]
                    self._held[self.path] = (fd, holders + 1)
                    self._holding = True
                    return True
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                else:
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()}\n".encode())
                    self._held[self.path] = (fd, 1)
                    self._holding = True
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def holder(self) -> str:
        """The process ID the holder wrote, for the message ("" when unknown)."""
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def release(self) -> None:
        with self._guard:
            if not self._holding:
                return
            self._holding = False
            fd, holders = self._held.pop(self.path)
            if holders > 1:
                self._held[self.path] = (fd, holders - 1)
            else:
                os.close(fd)  # closing the descriptor releases the flock

    def __del__(self) -> None:
        self.release()
