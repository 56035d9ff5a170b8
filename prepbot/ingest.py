"""Ingest: files -> postings -> the index, one file at a time, reporting what changed.

Each file is read and parsed completely before anything of it is written, so a bad file leaves no trace and
the other files of the run still ingest. A posting's ID carries a hash of its items, so an unchanged posting
is recognised by ID; an edited one replaces the posting that came from the same place in the same file.
A large ingest embeds in a worker process instead (see WORKER_MIN_ITEMS), and in this one where it would
wait for the worker (embedders.EmbedWorker takes queued texts back); what it stores is the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.files import Lock
from prepbot.journal import FileState, Journal, file_state
from prepbot.ledger import Ledger
from prepbot.postings import Posting, carry_ids, parse_document
from prepbot.postings.corrections import for_file as corrections_for_file
from prepbot.postings.identity import with_longer_id
from prepbot.postings.parse import Corrections
from prepbot.postings.readers import expand_paths, read_documents
from prepbot.postings.sections import SectionClassifier
from prepbot.retrieval.embedders import EmbedWorker
from prepbot.retrieval.index import PostingSummary, RequirementIndex, embedded_text, source_file

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


REPORT_POSTINGS_MAX = 10_000  # past this many postings the report holds those that changed, this many, and a log
REPORT_WARNINGS_MAX = 1_000  # past this many warnings the report counts the rest
LOG_NAME = "ingest-postings.jsonl"  # in the home: every posting's outcome, for a run past REPORT_POSTINGS_MAX


class IngestReport(BaseModel):
    # every posting's outcome in the order met; past REPORT_POSTINGS_MAX, the first of those that changed, and
    # `log` names a JSONL file with all of them
    postings: list[PostingOutcome] = Field(default_factory=list)
    counts: dict[Outcome, int] = Field(default_factory=dict)
    log: str | None = None
    removed: list[str] = Field(default_factory=list)
    warnings: list[FileProblem] = Field(default_factory=list)
    warnings_left_out: int = 0
    errors: list[FileProblem] = Field(default_factory=list)
    skipped_files: int = 0  # finished by an earlier ingest and unchanged since (prepbot.journal): not read

    def count(self, outcome: Outcome) -> int:
        return self.counts.get(outcome, 0)

    @property
    def changed(self) -> bool:
        return bool(self.removed) or bool(self.count("added") or self.count("updated"))

    def every_posting(self) -> Iterator[PostingOutcome]:
        """Every posting's outcome, from the log where the report holds only some."""
        if self.log is None:
            yield from self.postings
            return
        with open(self.log, encoding="utf-8") as lines:
            for line in lines:
                yield PostingOutcome.model_validate_json(line)


ProgressHook = Callable[[str, int], None]  # (event, amount): "file" once per file, "items" per batch indexed

FLUSH_ITEMS = 1024  # embed and write in large batches: per-posting writes would cost more than the embedder
# An ingest expected to embed at least this many more items, on more than one core, in a process that has
# not loaded the embedding model yet (a `prepbot ingest`), embeds in a worker process (embedders.EmbedWorker)
# while this one parses and writes to the store. A smaller one would lose more to starting the worker than it
# gains; where the model is loaded here already, the worker's own load (~2 s of a core) would be extra work,
# a loss when no core is free (bench/ingest.py). ingest(worker=True/False) overrides.
WORKER_MIN_ITEMS = 2000
# With the worker, a flush writes the older pending files and keeps the newest ones, holding at least
# WORKER_LOOKAHEAD_ITEMS items, for the next: the worker embeds those while this process writes the last batch
# and the posting records and parses on, instead of idling at each flush (docs/decisions.md). Larger flushes
# cost the writes nothing and leave fewer boundaries.
WORKER_FLUSH_ITEMS = 4 * FLUSH_ITEMS
WORKER_LOOKAHEAD_ITEMS = FLUSH_ITEMS


class _Run:
    """One ingest run: postings wait in a buffer and are indexed in large batches; the postings they
    replace are removed only once their replacements are written, so a failed write loses nothing."""

    def __init__(
        self, index: RequirementIndex, progress: ProgressHook | None, worker: EmbedWorker | None = None, files: int = 0
    ):
        self.index = index
        self.progress = progress
        self.worker = worker  # started by start_worker; until then (and without one) embedding is in-process
        self.auto_worker = False  # start the worker once the run looks large enough (WORKER_MIN_ITEMS)
        self.files_left = files  # files not read yet, the one being read excluded
        self.files_read = 0  # the one being read included
        self.queued_items = 0  # items queued in this run, flushed or not
        self.report = IngestReport()
        self.pending: list[Posting] = []
        self.pending_outcomes: list[int] = []  # their outcomes' numbers in the ledger
        self.pending_removals: list[str] = []  # postings replaced by an edited version
        self.pending_stale: list[str] = []  # postings no longer in their file
        self.marks: list[tuple[int, int, int]] = []  # (pending, removals, stale) lengths after each file read
        self.unfinished: list[tuple[FileState, tuple[int, int, int]]] = []  # files read, not all written yet
        self.journal = Journal(index.settings)
        self.ledger = Ledger(index.settings.home)
        for page in index.posting_pages():
            self.ledger.put_indexed(page)
        self.classifier = classifier_for(index.embedder)
        self.settings = index.settings

    def corrections(self, file: Path) -> Corrections:
        return corrections_for_file(self.settings, file)

    def skip_finished(self, state: FileState) -> bool:
        """A file an earlier ingest finished and that has not changed since: its postings, unread."""
        in_store = self.ledger.indexed_in_file(state.path)
        if not self.journal.finished(state, len(in_store)):
            return False
        self.report.skipped_files += 1
        for summary in in_store:
            self._record(
                PostingOutcome(
                    outcome="unchanged",
                    posting_id=summary.id,
                    title=summary.title,
                    source=summary.source,
                    items=sum(summary.counts.values()),
                )
            )
        return True

    def ingest_file(self, path: Path) -> None:
        corrections = self.corrections(path.resolve())
        state = file_state(path.resolve(), corrections)
        if self.skip_finished(state):
            return
        parsed: list[Posting] = []
        warnings: list[FileProblem] = []
        for document in read_documents(path):
            result = parse_document(document, classifier=self.classifier, corrections=corrections)
            parsed.extend(result.postings)
            warnings.extend(FileProblem(file=str(path), message=w) for w in result.warnings)
        if not parsed:  # the error says it all; the parser's warnings would say it twice
            raise PrepbotError(f"{path}: no posting found (no text items)")
        room = max(0, REPORT_WARNINGS_MAX - len(self.report.warnings))
        self.report.warnings.extend(warnings[:room])
        self.report.warnings_left_out += len(warnings[room:])

        in_file = self.ledger.indexed_in_file(str(path.resolve()))
        kept: set[str] = set()
        # First the postings this file still holds unchanged, wherever they now stand in it (a posting added
        # at the top of a JSONL file moves the others down: they are not edits of each other).
        unchanged: dict[int, PostingSummary] = {}
        by_fingerprint = {s.fingerprint: s for s in in_file}
        for k, posting in enumerate(parsed):
            same = by_fingerprint.get(posting.fingerprint)
            if same is not None and same.id not in kept:
                kept.add(same.id)
                unchanged[k] = same
        for k, posting in enumerate(parsed):
            if k in unchanged:
                self._record(_outcome(posting, "unchanged", posting_id=unchanged[k].id))
                continue
            if self._taken(posting.id) not in (None, posting.fingerprint):
                posting = with_longer_id(posting, self._taken)  # same slug and 24-bit hash, other items
            existing = self.ledger.indexed(posting.id)
            if existing is not None:
                kept.add(posting.id)
                self._record(_outcome(posting, "duplicate", duplicate_of=existing.id))
                continue
            twin = self._indexed_twin(posting)
            if twin is not None:
                self._record(_outcome(posting, "duplicate", duplicate_of=twin))
                continue
            previous = _edited_from(posting, [s for s in in_file if s.id not in kept])
            if previous is not None:
                # An edit: the posting keeps its ID, and every unchanged item its ID, so sessions, progress
                # and `--focus weak` carry over; the items the edit dropped are removed once it is written.
                kept.add(previous.id)
                stored = self.index.get_posting(previous.id)
                if stored is not None:
                    posting = carry_ids(stored, posting)
                self.pending_removals.append(previous.id)
                self._queue(posting, _outcome(posting, "updated", replaced=[previous.id]))
            else:
                kept.add(posting.id)
                self._queue(posting, _outcome(posting, "added"))
        self.pending_stale.extend(s.id for s in in_file if s.id not in kept)
        self.marks.append((len(self.pending), len(self.pending_removals), len(self.pending_stale)))
        self.unfinished.append((state, self.marks[-1]))
        self.ledger.commit()
        pending_items = sum(len(p.requirements) for p in self.pending)
        if self.auto_worker:  # items still to embed: those pending, and the files left at this run's rate so far
            if pending_items + self.queued_items * self.files_left // self.files_read >= WORKER_MIN_ITEMS:
                self.auto_worker = False
                self.start_worker()
        if self.worker is not None and self.worker.running:
            if pending_items >= WORKER_FLUSH_ITEMS + WORKER_LOOKAHEAD_ITEMS:
                self.flush(keep_items=WORKER_LOOKAHEAD_ITEMS)
        elif pending_items >= FLUSH_ITEMS:
            self.flush()

    def _queue(self, posting: Posting, outcome: PostingOutcome) -> None:
        self.pending.append(posting)
        self.pending_outcomes.append(self._record(outcome))
        self.ledger.add_seen(posting)
        self.queued_items += len(posting.requirements)
        if self.worker is not None and self.worker.running:
            self.worker.submit(_texts(posting))

    def _record(self, outcome: PostingOutcome) -> int:
        return self.ledger.add_outcome(outcome.outcome, outcome.model_dump_json())

    def _taken(self, posting_id: str) -> str | None:
        """The fingerprint of the posting that holds ``posting_id``, indexed or queued in this run; None if free."""
        indexed = self.ledger.indexed(posting_id)
        return indexed.fingerprint if indexed is not None else self.ledger.seen_fingerprint(posting_id)

    def start_worker(self) -> None:
        """Start the worker and send it what is already pending; flush embeds in-process where it cannot start."""
        if self.worker is not None and not self.worker.running and self.worker.failure is None:
            if self.worker.start():
                for posting in self.pending:
                    self.worker.submit(_texts(posting))

    def _indexed_twin(self, posting: Posting) -> str | None:
        """A near-duplicate already indexed: same items, other formatting."""
        twin = self.ledger.seen_twin(posting)
        if twin is not None:
            return twin
        return self.ledger.indexed_with_fingerprint(posting.fingerprint)

    def _cut(self, keep_items: int) -> tuple[int, int, int] | None:
        """Where to split the pending lists so that the files after the cut hold at least ``keep_items`` items:
        the latest file boundary that does; None where there is none (nothing to write yet)."""
        if keep_items <= 0:
            return len(self.pending), len(self.pending_removals), len(self.pending_stale)
        tail, counted = 0, len(self.pending)
        for mark in reversed(self.marks):
            tail += sum(len(p.requirements) for p in self.pending[mark[0] : counted])
            counted = mark[0]
            if tail >= keep_items:
                return mark if mark[0] > 0 else None
        return None

    def flush(self, keep_items: int = 0) -> None:
        """Index the pending postings, all of them or (``keep_items``) all but the newest files holding at least
        that many items, and only then remove the postings they replace."""
        cut = self._cut(keep_items)
        if cut is None:
            return
        postings, outcomes = self.pending[: cut[0]], self.pending_outcomes[: cut[0]]
        removals, stale = self.pending_removals[: cut[1]], self.pending_stale[: cut[2]]
        self.pending, self.pending_outcomes = self.pending[cut[0] :], self.pending_outcomes[cut[0] :]
        self.pending_removals, self.pending_stale = self.pending_removals[cut[1] :], self.pending_stale[cut[2] :]
        self.marks = [(a - cut[0], b - cut[1], c - cut[2]) for a, b, c in self.marks if a > cut[0]]
        finished = [state for state, mark in self.unfinished if all(m <= c for m, c in zip(mark, cut))]
        self.unfinished = [
            (state, (a - cut[0], b - cut[1], c - cut[2]))
            for state, (a, b, c) in self.unfinished
            if not all(m <= c for m, c in zip((a, b, c), cut))
        ]
        progress = self.progress
        on_items = (lambda n: progress("items", n)) if progress else None
        embed = None
        if self.worker is not None and self.worker.running:
            self.worker.send()
            embed = self.worker.embed
        try:
            self.index.add_postings(postings, on_items, embed=embed)
        except PrepbotError as exc:
            files = sorted({source_file(p.source) for p in postings})
            self.report.errors.extend(FileProblem(file=f, message=str(exc)) for f in files)
            for posting in postings:
                self.ledger.discard_seen(posting)
            self.ledger.drop_outcomes(outcomes)
        else:
            written = {posting.id: posting for posting in postings}
            for posting_id in removals + stale:
                if posting_id in written:  # the edit kept its ID: only the items it dropped go
                    self.index.remove_items(posting_id, keep={item.id for item in written[posting_id].requirements})
                else:
                    self.index.remove_posting(posting_id)
                    self.ledger.discard_indexed(posting_id)
            self.ledger.put_written(postings)
            self.report.removed.extend(stale)
            # the files wholly written are finished: an ingest cut short after this point skips them
            self.journal.record([(state, len(self.ledger.indexed_in_file(state.path))) for state in finished])
        self.ledger.commit()
        if self.worker is not None:
            self.worker.forget([text for posting in postings for text in _texts(posting)])

    def finish(self) -> IngestReport:
        """The report, with every outcome or (past REPORT_POSTINGS_MAX) those that changed and a log of all."""
        ledger, report = self.ledger, self.report
        report.counts = ledger.outcome_counts()  # type: ignore[assignment]  # the outcomes the ledger took
        log = self.settings.home / LOG_NAME
        log.unlink(missing_ok=True)
        if sum(report.counts.values()) <= REPORT_POSTINGS_MAX:
            report.postings = [PostingOutcome.model_validate_json(body) for body in ledger.outcomes()]
        else:
            changed = ledger.outcomes(changed_only=True, limit=REPORT_POSTINGS_MAX)
            report.postings = [PostingOutcome.model_validate_json(body) for body in changed]
            with open(log, "w", encoding="utf-8") as out:
                out.writelines(body + "\n" for body in ledger.outcomes())
            report.log = str(log)
        return report


def ingest(
    paths: list[str],
    index: RequirementIndex,
    progress: ProgressHook | None = None,
    worker: bool | None = None,
) -> IngestReport:
    """``worker``: embed in a worker process (True), in this one (False), or by size (None: WORKER_MIN_ITEMS).
    Files an earlier ingest finished that have not changed since are left unread (journal.py)."""
    files = expand_paths(paths)
    use_worker = worker is not False and EmbedWorker.supports(index.embedder)
    with ingest_lock(index.settings), EmbedWorker(index.embedder) as embed_worker:
        run = _Run(index, progress, embed_worker if use_worker else None, files=len(files))
        run.auto_worker = (
            use_worker and worker is None and _cores() > 1 and not getattr(index.embedder, "loaded", False)
        )
        try:
            report = _run(run, files, progress, start_worker=bool(worker))
        finally:
            run.ledger.close()
    if embed_worker.failure:
        message = f"{embed_worker.failure}; embedded in this process instead"
        report.warnings.append(FileProblem(file="", message=message))
    return report


def _run(run: _Run, files: list[Path], progress: ProgressHook | None, start_worker: bool) -> IngestReport:
    run.index.sweep_orphans()
    if start_worker:
        run.start_worker()
    for path in files:
        run.files_left -= 1
        run.files_read += 1
        try:
            run.ingest_file(path)
        except PrepbotError as exc:
            run.report.errors.append(FileProblem(file=str(path), message=str(exc)))
        if progress:
            progress("file", 1)
    run.flush()
    return run.finish()


INGEST_LOCK_WAIT_S = 600.0  # another ingest of this home runs first; past this the user is told why


@contextmanager
def ingest_lock(settings: Settings) -> Iterator[None]:
    """One writer of the store per home at a time (files.Lock): ingests, corrections and removals queue."""
    lock = Lock(settings.home / "locks" / "store.lock")
    if not lock.acquire(INGEST_LOCK_WAIT_S):
        holder = lock.holder()
        raise PrepbotError(
            f"another prepbot process{f' (pid {holder})' if holder else ''} has been writing to the store "
            f"{settings.home} for over {INGEST_LOCK_WAIT_S:.0f} s; let it finish, then retry"
        )
    try:
        yield
    finally:
        lock.release()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _texts(posting: Posting) -> list[str]:
    """The texts add_postings will embed for a posting, sent to the worker as the posting is queued."""
    return [embedded_text(item) for item in posting.requirements] + [posting.title]


def _edited_from(posting: Posting, candidates: list[PostingSummary]) -> PostingSummary | None:
    """The indexed posting of the same file that ``posting`` is an edit of: the one of the same title and
    place in the file, else of the same title, else of the same place."""
    same_title = [s for s in candidates if s.title == posting.title]
    for summary in same_title:
        if summary.source == posting.source:
            return summary
    if same_title:
        return same_title[0]
    return next((s for s in candidates if s.source == posting.source), None)


_CLASSIFIERS: dict[int, SectionClassifier] = {}


def classifier_for(embedder: object) -> SectionClassifier | None:
    """The section classifier on this index's embedder (prototypes embedded once per embedder)."""
    embed = getattr(embedder, "embed", None)
    if embed is None:
        return None
    key = id(embedder)
    if key not in _CLASSIFIERS:
        _CLASSIFIERS[key] = SectionClassifier(embed)
    return _CLASSIFIERS[key]


def _outcome(
    posting: Posting,
    outcome: Outcome,
    posting_id: str | None = None,
    duplicate_of: str | None = None,
    replaced: list[str] | None = None,
) -> PostingOutcome:
    return PostingOutcome(
        outcome=outcome,
        posting_id=posting_id or posting.id,
        title=posting.title,
        source=posting.source,
        items=len(posting.requirements),
        duplicate_of=duplicate_of,
        replaced=replaced or [],
    )


def correct(
    index: RequirementIndex,
    posting_id: str,
    *,
    heading: str | None = None,
    kind: str | None = None,
    split: bool = False,
    one_posting: bool = False,
    reset: bool = False,
) -> IngestReport:
    """Record a correction of how a posting's file was read, then ingest the file again with it (IDs of
    unchanged items carry over). ``heading`` with ``kind``: that section's kind; ``heading`` with ``split``:
    a posting begins at that heading; ``one_posting``: the whole file is one posting; ``reset``: forget the
    file's corrections. The correction is kept by file, so later ingests of the file apply it too."""
    from prepbot.postings import SECTIONS
    from prepbot.postings import corrections as store

    posting = index.get_posting(posting_id)
    if posting is None:
        raise PrepbotError(f"no posting {posting_id!r}; `prepbot postings list` shows the IDs")
    file = source_file(posting.source)
    if not Path(file).is_file():
        raise PrepbotError(f"{file}: the posting's file is gone; correct a copy and ingest it")
    settings = index.settings
    if reset:
        store.reset(settings, file)
    elif one_posting:
        store.one_posting(settings, file)
    elif heading is not None:
        siblings = [s for s in index.list_postings() if source_file(s.source) == file]
        known = {o.heading for s in siblings if (p := index.get_posting(s.id)) for o in p.outline if o.heading}
        if heading not in known and not split:
            raise PrepbotError(
                f"no heading {heading!r} in {posting_id}; `prepbot postings show {posting_id}` lists them"
            )
        if split:
            store.split_at(settings, file, heading)
        elif kind in SECTIONS:
            store.set_section_kind(settings, file, heading, kind)
        else:
            raise PrepbotError(f"--kind must be one of {', '.join(SECTIONS)}")
    else:
        raise PrepbotError(
            "say what to correct: --section HEADING --kind KIND, --split-at HEADING, --one-posting or --reset"
        )
    return ingest([file], index, worker=False)
