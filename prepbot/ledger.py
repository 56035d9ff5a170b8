"""An ingest run's ledger: what the run asks of every posting, kept in a SQLite file instead of in memory.

Three things grow with the postings of a run: the store's posting records (is this ID taken, what did this
file hold, which posting has these items), the postings this run has queued (found again by their items, for
near-duplicates) and one outcome per posting for the report. Held in Python objects they cost ~7 KB a posting
(700 MB for 100k postings); here they cost a page cache of LEDGER_CACHE_KIB, whatever the run's size. The file
lives in the home, under the ingest lock, and is deleted when the run ends (or, after a kill, by the next run).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prepbot.postings import Posting
from prepbot.postings.identity import NEAR_DUPLICATE_JACCARD

if TYPE_CHECKING:
    from prepbot.retrieval.index import PostingSummary

LEDGER_CACHE_KIB = 8192
LEDGER_GLOB = ".ingest-ledger-*.sqlite3"

_SCHEMA = """
CREATE TABLE indexed (id TEXT PRIMARY KEY, file TEXT, fingerprint TEXT, at REAL, summary TEXT);
CREATE INDEX indexed_file ON indexed (file, at, id);
CREATE INDEX indexed_fingerprint ON indexed (fingerprint, at, id);
CREATE TABLE seen (id TEXT PRIMARY KEY, fingerprint TEXT, keys TEXT, n INTEGER);
CREATE INDEX seen_fingerprint ON seen (fingerprint, n);
CREATE TABLE seen_prefix (key INTEGER, id TEXT);
CREATE INDEX seen_prefix_key ON seen_prefix (key);
CREATE INDEX seen_prefix_id ON seen_prefix (id);
CREATE TABLE outcome (n INTEGER PRIMARY KEY, outcome TEXT, body TEXT);
"""


def _keys(posting: Posting) -> list[int]:
    """A posting's normalised item texts as signed 64-bit integers, in ascending order (equal texts, equal
    keys; others collide with odds of ~2^-64 a pair)."""
    digests = (hashlib.blake2b(text.encode(), digest_size=8).digest() for text in posting.item_keys())
    return sorted(int.from_bytes(digest, "big", signed=True) for digest in digests)


def _prefix(keys: list[int]) -> list[int]:
    """The keys a near-duplicate must share at least one of (prefix filtering): two sets with Jaccard >= t
    share at least ceil(t * n) of each one's n keys, so under one global order (the keys' values) the first
    n - ceil(t * n) + 1 keys of each meet. Only these are indexed and looked up: with a boilerplate line in
    thousands of postings, looking up every key made the search for a twin cost ~thousands of rows a posting."""
    needed = math.ceil(NEAR_DUPLICATE_JACCARD * len(keys) - 1e-9)
    return keys[: len(keys) - needed + 1]


class Ledger:
    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        for stale in home.glob(LEDGER_GLOB):  # left by a run that was killed: the ingest lock is ours now
            stale.unlink(missing_ok=True)
        self.path = home / LEDGER_GLOB.replace("*", str(os.getpid()))
        self.db = sqlite3.connect(self.path)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{LEDGER_CACHE_KIB}"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.executescript(_SCHEMA)
        self.seen_n = 0

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)

    def commit(self) -> None:
        self.db.commit()

    # -- the store's posting records, as ``index.list_postings()`` has them, kept current with the run's writes

    def put_indexed(self, summaries: Iterable[PostingSummary]) -> None:
        from prepbot.retrieval.index import source_file

        self.db.executemany(
            "INSERT OR REPLACE INTO indexed VALUES (?, ?, ?, ?, ?)",
            ((s.id, source_file(s.source), s.fingerprint, s.ingested_at, s.model_dump_json()) for s in summaries),
        )

    def put_written(self, postings: list[Posting]) -> None:
        """Postings this run has just written, as the store now lists them."""
        from prepbot.retrieval.index import PostingSummary

        fields = ("id", "title", "company", "language", "source", "fingerprint")
        self.put_indexed(
            PostingSummary(**{f: getattr(p, f) for f in fields}, counts=p.counts(), ingested_at=time.time())
            for p in postings
        )

    def indexed(self, posting_id: str) -> PostingSummary | None:
        row = self.db.execute("SELECT summary FROM indexed WHERE id = ?", (posting_id,)).fetchone()
        return None if row is None else _summary(row[0])

    def indexed_in_file(self, file: str) -> list[PostingSummary]:
        rows = self.db.execute("SELECT summary FROM indexed WHERE file = ? ORDER BY at, id", (file,))
        return [_summary(row[0]) for row in rows]

    def indexed_with_fingerprint(self, fingerprint: str) -> str | None:
        """The oldest indexed posting with these items, as ``list_postings(where=fingerprint)[0]``."""
        query = "SELECT id FROM indexed WHERE fingerprint = ? ORDER BY at, id LIMIT 1"
        row = self.db.execute(query, (fingerprint,)).fetchone()
        return None if row is None else row[0]

    def discard_indexed(self, posting_id: str) -> None:
        self.db.execute("DELETE FROM indexed WHERE id = ?", (posting_id,))

    # -- the postings this run queued, found again by shared items (identity.NEAR_DUPLICATE_JACCARD)

    def add_seen(self, posting: Posting) -> None:
        self.discard_seen(posting)
        keys = _keys(posting)
        self.seen_n += 1
        row = (posting.id, posting.fingerprint, json.dumps(keys), self.seen_n)
        self.db.execute("INSERT INTO seen VALUES (?, ?, ?, ?)", row)
        self.db.executemany("INSERT INTO seen_prefix VALUES (?, ?)", ((key, posting.id) for key in _prefix(keys)))

    def seen_fingerprint(self, posting_id: str) -> str | None:
        row = self.db.execute("SELECT fingerprint FROM seen WHERE id = ?", (posting_id,)).fetchone()
        return None if row is None else row[0]

    def discard_seen(self, posting: Posting) -> None:
        self.db.execute("DELETE FROM seen WHERE id = ?", (posting.id,))
        self.db.execute("DELETE FROM seen_prefix WHERE id = ?", (posting.id,))

    def seen_twin(self, posting: Posting) -> str | None:
        """The first posting this run queued with the same fingerprint, else the one (by ID) that shares at
        least NEAR_DUPLICATE_JACCARD of its items."""
        query = "SELECT id FROM seen WHERE fingerprint = ? ORDER BY n LIMIT 1"
        row = self.db.execute(query, (posting.fingerprint,)).fetchone()
        if row is not None:
            return row[0]
        keys = set(_keys(posting))
        if not keys:
            return None
        candidates = self.db.execute(
            "SELECT s.id, s.keys FROM seen s WHERE s.id IN (SELECT id FROM seen_prefix"
            " WHERE key IN (SELECT value FROM json_each(?))) ORDER BY s.id",
            (json.dumps(_prefix(sorted(keys))),),
        )
        for other, other_keys in candidates:
            theirs = set(json.loads(other_keys))
            if len(keys & theirs) / len(keys | theirs) >= NEAR_DUPLICATE_JACCARD:
                return str(other)
        return None

    # -- one outcome a posting (ingest.PostingOutcome as JSON), in the order the run met them

    def add_outcome(self, outcome: str, body: str) -> int:
        cursor = self.db.execute("INSERT INTO outcome (outcome, body) VALUES (?, ?)", (outcome, body))
        return int(cursor.lastrowid or 0)

    def drop_outcomes(self, numbers: list[int]) -> None:
        self.db.executemany("DELETE FROM outcome WHERE n = ?", ((n,) for n in numbers))

    def outcome_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT outcome, COUNT(*) FROM outcome GROUP BY outcome").fetchall())

    def outcomes(self, changed_only: bool = False, limit: int = -1) -> Iterator[str]:
        where = " WHERE outcome != 'unchanged'" if changed_only else ""
        for (body,) in self.db.execute(f"SELECT body FROM outcome{where} ORDER BY n LIMIT ?", (limit,)):
            yield str(body)


def _summary(body: str) -> PostingSummary:
    from prepbot.retrieval.index import PostingSummary

    return PostingSummary.model_validate_json(body)
