"""Ingest: files -> postings -> the index, one file at a time, reporting what changed.

Each file is read and parsed completely before anything of it is written, so a bad file leaves no trace and
the other files of the run still ingest. A posting's ID carries a hash of its items, so an unchanged posting
is recognised by ID; an edited one replaces the posting that came from the same place in the same file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from prepbot.errors import PrepbotError
from prepbot.index import PostingSummary, RequirementIndex, source_file
from prepbot.postings import NEAR_DUPLICATE_JACCARD, Posting, parse_document
from prepbot.readers import expand_paths, read_documents

Outcome = Literal["added", "updated", "unchanged", "duplicate"]


class PostingOutcome(BaseModel):
    outcome: Outcome
    posting_id: str
    title: str
    source: str
    items: int
    duplicate_of: str | None = None  # for "duplicate": the indexed posting it repeats
    replaced: list[str] = Field(default_factory=list)  # for "updated": the IDs it replaced


class FileProblem(BaseModel):
    file: str
    message: str


class IngestReport(BaseModel):
    postings: list[PostingOutcome] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    warnings: list[FileProblem] = Field(default_factory=list)
    errors: list[FileProblem] = Field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for p in self.postings if p.outcome == outcome)

    @property
    def changed(self) -> bool:
        return bool(self.removed) or any(p.outcome in ("added", "updated") for p in self.postings)


ProgressHook = Callable[[str, int], None]  # (event, amount): "file" once per file, "items" per batch indexed

FLUSH_ITEMS = 1024  # embed and write in large batches: per-posting writes would cost more than the embedder


class _Run:
    """One ingest run: postings wait in a buffer and are indexed in large batches; the postings they
    replace are removed only once their replacements are written, so a failed write loses nothing."""

    def __init__(self, index: RequirementIndex, progress: ProgressHook | None):
        self.index = index
        self.progress = progress
        self.report = IngestReport()
        self.pending: list[Posting] = []
        self.pending_outcomes: list[PostingOutcome] = []
        self.pending_removals: list[str] = []  # postings replaced by an edited version
        self.pending_stale: list[str] = []  # postings no longer in their file
        self.seen = _SeenPostings()
        self.indexed = _IndexedPostings(index)

    def ingest_file(self, path: Path) -> None:
        parsed: list[Posting] = []
        warnings: list[FileProblem] = []
        for document in read_documents(path):
            result = parse_document(document)
            parsed.extend(result.postings)
            warnings.extend(FileProblem(file=str(path), message=w) for w in result.warnings)
        self.report.warnings.extend(warnings)
        if not parsed:
            raise PrepbotError(f"{path}: no posting found (no text items)")

        before = {s.source: s for s in self.indexed.in_file(str(path.resolve()))}
        kept: set[str] = set()
        for posting in parsed:
            existing = self.indexed.get(posting.id)
            if existing is not None:
                kept.add(posting.id)
                if existing.source == posting.source:
                    self.report.postings.append(_outcome(posting, "unchanged"))
                else:
                    self.report.postings.append(_outcome(posting, "duplicate", duplicate_of=existing.id))
                continue
            twin = self._indexed_twin(posting)
            if twin is not None:
                self.report.postings.append(_outcome(posting, "duplicate", duplicate_of=twin))
                continue
            previous = before.get(posting.source)
            kept.add(posting.id)
            if previous is not None and previous.id not in kept:
                kept.add(previous.id)
                self.pending_removals.append(previous.id)
                self._queue(posting, _outcome(posting, "updated", replaced=[previous.id]))
            else:
                self._queue(posting, _outcome(posting, "added"))
        self.pending_stale.extend(s.id for s in before.values() if s.id not in kept)
        if sum(len(p.requirements) for p in self.pending) >= FLUSH_ITEMS:
            self.flush()

    def _queue(self, posting: Posting, outcome: PostingOutcome) -> None:
        self.pending.append(posting)
        self.pending_outcomes.append(outcome)
        self.report.postings.append(outcome)
        self.seen.add(posting)

    def _indexed_twin(self, posting: Posting) -> str | None:
        """A near-duplicate already indexed: same items, other formatting."""
        twin = self.seen.twin_of(posting)
        if twin is not None:
            return twin
        return self.indexed.with_fingerprint(posting.fingerprint)

    def flush(self) -> None:
        on_items = (lambda n: self.progress("items", n)) if self.progress else None
        try:
            self.index.add_postings(self.pending, on_items)
        except PrepbotError as exc:
            files = sorted({source_file(p.source) for p in self.pending})
            self.report.errors.extend(FileProblem(file=f, message=str(exc)) for f in files)
            for posting in self.pending:
                self.seen.discard(posting)
            self.report.postings = [o for o in self.report.postings if o not in self.pending_outcomes]
        else:
            for posting in self.pending:
                self.indexed.add(posting)
            for posting_id in self.pending_removals + self.pending_stale:
                self.index.remove_posting(posting_id)
                self.indexed.discard(posting_id)
            self.report.removed.extend(self.pending_stale)
        self.pending, self.pending_outcomes, self.pending_removals, self.pending_stale = [], [], [], []


class _IndexedPostings:
    """The store's posting records, read in one query when the run starts and kept current with the run's
    own writes and removals: asking the store three times per file cost more than parsing the file."""

    def __init__(self, index: RequirementIndex) -> None:
        self.by_id: dict[str, PostingSummary] = {}  # in list_postings order: oldest first
        self.by_file: dict[str, list[str]] = {}
        self.by_fingerprint: dict[str, list[str]] = {}
        for summary in index.list_postings():
            self._put(summary)

    def _put(self, summary: PostingSummary) -> None:
        self.by_id[summary.id] = summary
        self.by_file.setdefault(source_file(summary.source), []).append(summary.id)
        self.by_fingerprint.setdefault(summary.fingerprint, []).append(summary.id)

    def get(self, posting_id: str) -> PostingSummary | None:
        return self.by_id.get(posting_id)

    def in_file(self, file: str) -> list[PostingSummary]:
        return [self.by_id[posting_id] for posting_id in self.by_file.get(file, [])]

    def with_fingerprint(self, fingerprint: str) -> str | None:
        """The oldest indexed posting with these items, as ``list_postings(where=fingerprint)[0]``."""
        ids = self.by_fingerprint.get(fingerprint)
        return ids[0] if ids else None

    def add(self, posting: Posting) -> None:
        self.discard(posting.id)
        self._put(PostingSummary(
            id=posting.id, title=posting.title, company=posting.company, language=posting.language,
            source=posting.source, fingerprint=posting.fingerprint, counts=posting.counts(),
            ingested_at=time.time(),
        ))

    def discard(self, posting_id: str) -> None:
        summary = self.by_id.pop(posting_id, None)
        if summary is not None:
            self.by_file[source_file(summary.source)].remove(posting_id)
            self.by_fingerprint[summary.fingerprint].remove(posting_id)


class _SeenPostings:
    """Postings of this run, found again by shared items: comparing each new posting with every earlier
    one would make a large ingest quadratic."""

    def __init__(self) -> None:
        self.keys: dict[str, frozenset[str]] = {}
        self.by_key: dict[str, set[str]] = {}
        self.by_fingerprint: dict[str, str] = {}

    def add(self, posting: Posting) -> None:
        self.by_fingerprint.setdefault(posting.fingerprint, posting.id)
        self.keys[posting.id] = keys = posting.item_keys()
        for key in keys:
            self.by_key.setdefault(key, set()).add(posting.id)

    def discard(self, posting: Posting) -> None:
        if self.by_fingerprint.get(posting.fingerprint) == posting.id:
            del self.by_fingerprint[posting.fingerprint]
        for key in self.keys.pop(posting.id, frozenset()):
            self.by_key[key].discard(posting.id)

    def twin_of(self, posting: Posting) -> str | None:
        if posting.fingerprint in self.by_fingerprint:
            return self.by_fingerprint[posting.fingerprint]
        keys = posting.item_keys()
        candidates = set().union(*(self.by_key.get(key, set()) for key in keys)) if keys else set()
        for other in sorted(candidates):
            other_keys = self.keys[other]
            if len(keys & other_keys) / len(keys | other_keys) >= NEAR_DUPLICATE_JACCARD:
                return other
        return None


def ingest(paths: list[str], index: RequirementIndex, progress: ProgressHook | None = None) -> IngestReport:
    files = expand_paths(paths)
    run = _Run(index, progress)
    index.sweep_orphans()
    for path in files:
        try:
            run.ingest_file(path)
        except PrepbotError as exc:
            run.report.errors.append(FileProblem(file=str(path), message=str(exc)))
        if progress:
            progress("file", 1)
    run.flush()
    return run.report


def _outcome(posting: Posting, outcome: Outcome, **extra: object) -> PostingOutcome:
    return PostingOutcome(
        outcome=outcome,
        posting_id=posting.id,
        title=posting.title,
        source=posting.source,
        items=len(posting.requirements),
        **extra,  # type: ignore[arg-type]
    )
