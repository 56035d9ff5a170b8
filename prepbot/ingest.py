"""Ingest: files -> postings -> the index, one file at a time, reporting what changed.

Each file is read and parsed completely before anything of it is written, so a bad file leaves no trace and
the other files of the run still ingest. A posting's ID carries a hash of its items, so an unchanged posting
is recognised by ID; an edited one replaces the posting that came from the same place in the same file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from prepbot.errors import PrepbotError
from prepbot.index import RequirementIndex
from prepbot.postings import Posting, is_near_duplicate, parse_document
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


def ingest(paths: list[str], index: RequirementIndex, progress: ProgressHook | None = None) -> IngestReport:
    files = expand_paths(paths)
    report = IngestReport()
    index.sweep_orphans()
    for path in files:
        try:
            _ingest_file(path, index, report, progress)
        except PrepbotError as exc:
            report.errors.append(FileProblem(file=str(path), message=str(exc)))
        if progress:
            progress("file", 1)
    return report


def _ingest_file(path: Path, index: RequirementIndex, report: IngestReport, progress: ProgressHook | None) -> None:
    parsed: list[Posting] = []
    for document in read_documents(path):
        result = parse_document(document)
        parsed.extend(result.postings)
        report.warnings.extend(FileProblem(file=str(path), message=w) for w in result.warnings)
    if not parsed:
        raise PrepbotError(f"{path}: no posting found (no text items)")

    before = {s.source: s for s in index.list_postings() if _same_file(s.source, path)}
    kept: set[str] = set()
    indexed: list[Posting] = []
    on_items = (lambda n: progress("items", n)) if progress else None
    for posting in parsed:
        existing = index.posting_summary(posting.id)
        if existing is not None:
            kept.add(posting.id)
            outcome = "unchanged" if existing.source == posting.source else "duplicate"
            report.postings.append(_outcome(posting, outcome, duplicate_of=existing.id if outcome == "duplicate" else None))
            continue
        twin = _indexed_twin(posting, indexed, index)
        if twin is not None:
            report.postings.append(_outcome(posting, "duplicate", duplicate_of=twin))
            continue
        previous = before.get(posting.source)
        index.add_posting(posting, on_items)
        indexed.append(posting)
        kept.add(posting.id)
        if previous is not None and previous.id not in kept:
            index.remove_posting(previous.id)
            kept.add(previous.id)
            report.postings.append(_outcome(posting, "updated", replaced=[previous.id]))
        else:
            report.postings.append(_outcome(posting, "added"))
    for stale in before.values():
        if stale.id not in kept:
            index.remove_posting(stale.id)
            report.removed.append(stale.id)


def _indexed_twin(posting: Posting, this_run: list[Posting], index: RequirementIndex) -> str | None:
    """A near-duplicate already indexed: same items, other formatting (equal fingerprints or close item sets)."""
    for other in this_run:
        if is_near_duplicate(posting, other):
            return other.id
    same = index.list_postings(where={"fingerprint": posting.fingerprint})
    return same[0].id if same else None


def _same_file(source: str, path: Path) -> bool:
    return source.split("#", 1)[0] == str(path.resolve())


def _outcome(posting: Posting, outcome: Outcome, **extra: object) -> PostingOutcome:
    return PostingOutcome(
        outcome=outcome,
        posting_id=posting.id,
        title=posting.title,
        source=posting.source,
        items=len(posting.requirements),
        **extra,  # type: ignore[arg-type]
    )
