"""The SQLite database under ``settings.home``: one connection helper and numbered migrations.

To change the schema, append a ``Migration`` with the next number to ``MIGRATIONS``; never edit one that
has shipped, since databases in the wild have already applied it. Each runs once, in its own transaction.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

from prepbot.config import Settings, get_settings
from prepbot.errors import PrepbotError
from prepbot.files import private_home, tighten


class Migration(NamedTuple):
    number: int
    name: str
    sql: str


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "llm_calls",
        """
        CREATE TABLE llm_calls (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            backend TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt TEXT NOT NULL,
            inputs_hash TEXT NOT NULL,
            cache_key TEXT NOT NULL,
            output TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            latency_s REAL NOT NULL,
            cost_usd REAL,
            cached INTEGER NOT NULL DEFAULT 0,
            error TEXT
        );
        CREATE INDEX llm_calls_cache_key ON llm_calls (cache_key);
        """,
    ),
    Migration(
        2,
        "question_sets",
        """
        CREATE TABLE question_sets (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            posting_id TEXT NOT NULL,
            role TEXT NOT NULL,
            language TEXT NOT NULL,
            backend TEXT NOT NULL,
            model TEXT NOT NULL,
            questions INTEGER NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX question_sets_posting ON question_sets (posting_id, created_at);
        """,
    ),
    Migration(
        3,
        "interview_sessions",
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            ended_at TEXT,
            posting_id TEXT NOT NULL,
            role TEXT NOT NULL,
            mode TEXT NOT NULL,
            language TEXT NOT NULL,
            set_id TEXT,
            backend TEXT,
            model TEXT,
            plan TEXT NOT NULL
        );
        CREATE INDEX sessions_posting ON sessions (posting_id, started_at);
        CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions (id),
            n INTEGER NOT NULL,
            kind TEXT NOT NULL,
            follows INTEGER,
            requirement_id TEXT,
            question TEXT NOT NULL,
            body TEXT NOT NULL,
            asked_at TEXT NOT NULL,
            answer TEXT,
            answered_at TEXT,
            skipped INTEGER NOT NULL DEFAULT 0,
            score INTEGER,
            grade TEXT,
            graded_at TEXT,
            timings TEXT,
            UNIQUE (session_id, n)
        );
        CREATE INDEX turns_requirement ON turns (requirement_id, graded_at);
        """,
    ),
    Migration(
        4,
        "llm_calls.logprobs",
        """
        -- JSON: for each generated token, its most likely alternatives (prepbot.llm.TokenLogprob)
        ALTER TABLE llm_calls ADD COLUMN logprobs TEXT;
        """,
    ),
    Migration(
        5,
        "posting_corrections",
        """
        -- a user's corrections of how a posting file was read (prepbot.postings.corrections)
        CREATE TABLE posting_corrections (
            file TEXT NOT NULL,
            what TEXT NOT NULL,  -- 'section' (heading -> kind), 'split' (heading starts a posting), 'one'
            heading TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL DEFAULT (datetime('now')),
            PRIMARY KEY (file, what, heading)
        );
        """,
    ),
    Migration(
        6,
        "sessions.cv_id",
        """
        -- the CV a session was planned from (prepbot chat --cv)
        ALTER TABLE sessions ADD COLUMN cv_id TEXT;
        """,
    ),
    Migration(
        7,
        "ingested_files",
        """
        -- files an ingest finished, per store (prepbot.journal): the next ingest skips them unread
        CREATE TABLE ingested_files (
            store TEXT NOT NULL,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            reading TEXT NOT NULL,  -- parser source and the file's corrections, hashed
            postings INTEGER NOT NULL,  -- of this file, in the store
            at REAL NOT NULL,
            PRIMARY KEY (store, path)
        );
        """,
    ),
]

# Paths already migrated by this process, so a connection costs one open, not a schema check.
_migrated: set[Path] = set()


def connect(settings: Settings | None = None) -> sqlite3.Connection:
    """A new connection to the migrated database; close it when done (``with closing(connect()) as db``)."""
    path = (settings or get_settings()).db_path
    try:
        private_home(path.parent)
        # Autocommit mode: each statement commits unless the caller opens a transaction with ``with db:``.
        db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        # WAL lets the CLI read the log while another prepbot process writes to it.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        if path not in _migrated:
            tighten(path, 0o600)
            migrate(db)
            prune_calls(db, settings or get_settings())
            _migrated.add(path)
    except sqlite3.Error as exc:
        raise PrepbotError(f"cannot open or migrate the database {path}: {exc}") from exc
    return db


def prune_calls(db: sqlite3.Connection, settings: Settings) -> int:
    """Delete LLM calls older than ``log_keep_days`` and all but the newest ``log_max_calls``; how many went."""
    deleted = 0
    if settings.log_keep_days:
        cutoff = (datetime.now(timezone.utc) - timedelta(days=settings.log_keep_days)).isoformat()
        deleted += db.execute("DELETE FROM llm_calls WHERE created_at < ?", (cutoff,)).rowcount
    if settings.log_max_calls:
        sql = "DELETE FROM llm_calls WHERE id <= (SELECT id FROM llm_calls ORDER BY id DESC LIMIT 1 OFFSET ?)"
        deleted += db.execute(sql, (settings.log_max_calls,)).rowcount
    return deleted


def migrate(db: sqlite3.Connection) -> list[int]:
    """Apply the migrations this database lacks, in order, atomically; returns the numbers applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS migrations (number INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    # The write lock is taken before reading what is done, so two processes starting at once cannot both apply.
    db.execute("BEGIN IMMEDIATE")
    try:
        done = {row[0] for row in db.execute("SELECT number FROM migrations")}
        applied = []
        for migration in sorted(MIGRATIONS):
            if migration.number in done:
                continue
            for statement in _statements(migration.sql):
                db.execute(statement)
            db.execute("INSERT INTO migrations (number, name) VALUES (?, ?)", (migration.number, migration.name))
            applied.append(migration.number)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return applied


def _statements(script: str) -> list[str]:
    """Split a script into statements the way SQLite does (executescript would commit our transaction)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
