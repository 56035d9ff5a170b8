"""The persistent sparse index: BM25 over ranking.bm25_tokens, kept on disk beside the vector store.

An index is a directory of immutable segments (numpy arrays, memory-mapped when read) and a manifest naming
them. A write builds a new segment in a temporary directory, renames it into place and then replaces the
manifest, so a reader or a killed writer only ever sees whole writes. Removal marks documents deleted (a
new deletion file per segment, named in the manifest). Segments of a similar size are merged, four at a
time, so a store written in many small batches keeps a few large segments.

Each segment holds both directions: token -> (document, term frequency) for a search over everything, and
document -> (token, term frequency) for a search within one posting, which scores only that posting's
documents with BM25 statistics of those documents alone (what building an index of just them would give).
Scores are bm25s's "lucene" BM25 (k1 1.5, b 0.75), so a filtered search ranks exactly as before.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prepbot.retrieval.ranking import bm25_tokens

K1 = 1.5
B = 0.75
MERGE_FACTOR = 4  # merge this many segments of the same size tier (log base MERGE_FACTOR of their size)
MAX_TOKEN_CHARS = 40  # longer tokens are cut (both in documents and queries), keeping the vocabulary compact
READ_ATTEMPTS = 5  # a reader racing a writer's merge reads the manifest again this many times
MANIFEST = "MANIFEST"  # no suffix: a folder scan for postings never reads it
_ARRAYS = ("ids", "postings", "doc_posting", "doc_section", "doc_len", "fwd_ptr", "fwd_tok", "fwd_tf")
_INVERTED = ("vocab", "inv_ptr", "inv_doc", "inv_tf")


@dataclass
class SparseDoc:
    id: str
    posting_id: str
    section: int  # an index into postings.SECTIONS (any small integer the caller filters by)
    text: str


def doc_tokens(text: str) -> list[str]:
    return [token[:MAX_TOKEN_CHARS] for token in bm25_tokens(text)]


class Segment:
    """One immutable segment, its arrays memory-mapped; ``deleted`` is the current deletion mask."""

    def __init__(self, directory: Path, deleted: np.ndarray | None):
        self.name = directory.name
        self.arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in _ARRAYS + _INVERTED}
        self.size = len(self.arrays["ids"])
        self.deleted = deleted if deleted is not None else np.zeros(self.size, dtype=bool)
        self.live = ~self.deleted
        self.dirty = False  # the deletion mask changed since it was saved
        self._rows: dict[str, tuple[int, int]] | None = None
        self._live_length: tuple[np.ndarray, float] | None = None

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def posting_rows(self) -> dict[str, tuple[int, int]]:
        """posting ID -> its documents' rows [start, end) (a segment keeps a posting's documents together)."""
        if self._rows is None:
            starts = np.searchsorted(self.doc_posting, np.arange(len(self.postings) + 1))
            names = [p.decode() for p in self.postings.tolist()]
            self._rows = {name: (int(starts[i]), int(starts[i + 1])) for i, name in enumerate(names)}
        return self._rows

    def id_of(self, row: int) -> str:
        return bytes(self.ids[row]).decode()

    @property
    def live_length(self) -> float:
        """Total length of the live documents (cached until the deletion mask changes)."""
        if self._live_length is None or self._live_length[0] is not self.live:
            self._live_length = (self.live, float(np.asarray(self.doc_len)[self.live].sum()))
        return self._live_length[1]

    def token_ids(self, tokens: list[str]) -> np.ndarray:
        """Positions in this segment's vocabulary of the tokens it has (repeats kept, unknown ones dropped)."""
        width = self.vocab.dtype.itemsize // 4  # a longer token cannot be in the vocabulary (and would be cut)
        tokens = [token for token in tokens if len(token) <= width]
        if not tokens or not len(self.vocab):
            return np.zeros(0, dtype=np.int64)
        query = np.asarray(tokens, dtype=self.vocab.dtype)
        at = np.searchsorted(self.vocab, query)
        at = np.minimum(at, len(self.vocab) - 1)
        return at[self.vocab[at] == query]

    def docs(self, rows: np.ndarray) -> Iterator[tuple[str, str, int, list[str], list[int]]]:
        """(id, posting, section, tokens, term frequencies) of these rows, for merging."""
        postings = [p.decode() for p in self.postings.tolist()]
        for row in rows.tolist():
            start, end = int(self.fwd_ptr[row]), int(self.fwd_ptr[row + 1])
            tokens = self.vocab[self.fwd_tok[start:end]].tolist()
            yield (
                self.id_of(row),
                postings[int(self.doc_posting[row])],
                int(self.doc_section[row]),
                tokens,
                self.fwd_tf[start:end].tolist(),
            )


def _build(directory: Path, docs: Iterable[tuple[str, str, int, list[str], list[int]]]) -> None:
    """Write a segment from (id, posting, section, tokens, tfs) records."""
    records = sorted(docs, key=lambda d: d[1])  # a posting's documents together
    postings = sorted({r[1] for r in records})
    posting_code = {p: i for i, p in enumerate(postings)}
    vocab = sorted({t for r in records for t in r[3]})
    token_code = {t: i for i, t in enumerate(vocab)}
    fwd_ptr = np.zeros(len(records) + 1, dtype=np.int64)
    fwd_ptr[1:] = np.cumsum([len(r[3]) for r in records])
    fwd_tok = np.fromiter((token_code[t] for r in records for t in r[3]), dtype=np.int32, count=int(fwd_ptr[-1]))
    fwd_tf = np.fromiter((f for r in records for f in r[4]), dtype=np.float32, count=int(fwd_ptr[-1]))
    doc_of = np.repeat(np.arange(len(records), dtype=np.int32), np.diff(fwd_ptr))
    order = np.argsort(fwd_tok, kind="stable")
    inv_ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    inv_ptr[1:] = np.cumsum(np.bincount(fwd_tok, minlength=len(vocab)))
    arrays = {
        "ids": np.array([r[0].encode() for r in records], dtype=bytes),
        "postings": np.array([p.encode() for p in postings], dtype=bytes),
        "doc_posting": np.array([posting_code[r[1]] for r in records], dtype=np.int32),
        "doc_section": np.array([r[2] for r in records], dtype=np.int8),
        "doc_len": np.array([sum(r[4]) for r in records], dtype=np.float32),
        "fwd_ptr": fwd_ptr,
        "fwd_tok": fwd_tok,
        "fwd_tf": fwd_tf,
        "vocab": np.array(vocab, dtype=str) if vocab else np.zeros(0, dtype="<U1"),
        "inv_ptr": inv_ptr,
        "inv_doc": doc_of[order],
        "inv_tf": fwd_tf[order],
    }
    directory.mkdir(parents=True)
    for name, array in arrays.items():
        np.save(directory / f"{name}.npy", array)


def _record(doc: SparseDoc) -> tuple[str, str, int, list[str], list[int]]:
    counts = Counter(doc_tokens(doc.text))
    return doc.id, doc.posting_id, doc.section, list(counts), list(counts.values())


class SparseIndex:
    """BM25 over a store's items, persisted in ``directory``. Writers hold the directory's lock; readers
    pick up other processes' writes on their next search (the manifest is read again when it changed)."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.segments: dict[str, Segment] = {}
        self.manifest: dict = {"segments": [], "generation": ""}
        self._stamp: tuple[int, int] | None = None
        self.refresh()

    # --- the manifest --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the manifest again if another process replaced it, opening the segments it names."""
        path = self.directory / MANIFEST
        try:
            stat = path.stat()
        except FileNotFoundError:
            return
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if stamp == self._stamp:
            return
        for attempt in range(READ_ATTEMPTS):
            try:
                manifest = json.loads(path.read_text())
                segments = {entry["name"]: self._open(entry) for entry in manifest["segments"]}
                break
            except (FileNotFoundError, json.JSONDecodeError):
                # a writer replaced the manifest and collected what the one read here named: read it again
                if attempt == READ_ATTEMPTS - 1:
                    raise
                stamp = (path.stat().st_mtime_ns, path.stat().st_ino)
        self.segments, self.manifest, self._stamp = segments, manifest, stamp

    def _open(self, entry: dict) -> Segment:
        old = self.segments.get(entry["name"])
        if old is not None and not old.dirty and entry.get("deleted") == old_deleted(self.manifest, entry["name"]):
            return old
        deleted = np.load(self.directory / entry["deleted"]) if entry.get("deleted") else None
        return Segment(self.directory / entry["name"], deleted)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """The write lock, with the manifest current; the manifest is saved when the block ends."""
        with open(self.directory / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._stamp = None
                self.refresh()
                try:
                    yield
                except BaseException:  # what this write changed in memory goes; the disk never had it
                    self.segments, self._stamp = {}, None
                    self.refresh()
                    raise
                self._save()
                self._collect()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _save(self) -> None:
        entries = []
        for name, segment in self.segments.items():
            deleted = old_deleted(self.manifest, name)
            if segment.deleted.any() and segment.dirty:
                deleted = f"{name}.deleted-{uuid.uuid4().hex[:8]}.npy"
                np.save(self.directory / deleted, segment.deleted)
                segment.dirty = False
            elif not segment.deleted.any():
                deleted = None
            entries.append({"name": name, "size": segment.size, "live": int(segment.live.sum()), "deleted": deleted})
        manifest = {"segments": entries, "generation": self.manifest.get("generation", "")}
        temporary = self.directory / f"{MANIFEST}.{uuid.uuid4().hex[:8]}"
        temporary.write_text(json.dumps(manifest))
        os.replace(temporary, self.directory / MANIFEST)
        self.manifest = manifest
        stat = (self.directory / MANIFEST).stat()
        self._stamp = (stat.st_mtime_ns, stat.st_ino)

    def _collect(self) -> None:
        """Delete segment directories and deletion files the manifest no longer names (a killed write's too)."""
        named = {e["name"] for e in self.manifest["segments"]} | {
            e["deleted"] for e in self.manifest["segments"] if e.get("deleted")
        }
        for path in self.directory.iterdir():
            if path.name in named or path.name in (MANIFEST, ".lock"):
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)

    @property
    def generation(self) -> str:
        return self.manifest.get("generation", "")

    def set_generation(self, generation: str) -> None:
        """Call inside ``writing``: the store write this index is in step with."""
        self.manifest["generation"] = generation

    # --- writing -------------------------------------------------------------------------------------

    def add(self, docs: list[SparseDoc], replace: bool = True) -> None:
        """Add documents (call inside ``writing``); a document whose ID is indexed already replaces it, unless
        ``replace`` is False (a rebuild: none is)."""
        if not docs:
            return
        if replace:
            self._delete({d.posting_id for d in docs}, {d.id for d in docs})
        self._new_segment([_record(doc) for doc in docs])
        self._merge()

    def _new_segment(self, records: list) -> None:
        name = f"seg-{uuid.uuid4().hex[:12]}"
        temporary = self.directory / f"tmp-{name}"
        _build(temporary, records)
        os.replace(temporary, self.directory / name)
        self.segments[name] = Segment(self.directory / name, None)

    def remove_postings(self, posting_ids: Iterable[str]) -> None:
        """Remove every document of these postings (call inside ``writing``)."""
        self._delete(set(posting_ids), None)

    def remove_ids(self, posting_id: str, ids: Iterable[str]) -> None:
        """Remove these documents of one posting (call inside ``writing``)."""
        self._delete({posting_id}, set(ids))

    def _delete(self, posting_ids: set[str], ids: set[str] | None) -> None:
        for segment in self.segments.values():
            for posting_id in posting_ids:
                span = segment.posting_rows.get(posting_id)
                if span is None:
                    continue
                rows = np.arange(*span)
                if ids is not None:
                    rows = rows[[segment.id_of(int(r)) in ids for r in rows]]
                rows = rows[segment.live[rows]]
                if len(rows):
                    if not segment.deleted.flags.writeable:
                        segment.deleted = segment.deleted.copy()
                    segment.deleted[rows] = True
                    segment.live = ~segment.deleted
                    segment.dirty = True

    def _merge(self) -> None:
        """Merge MERGE_FACTOR segments of one size tier into one until no tier holds that many; a segment
        that is mostly deleted is rewritten on its own (or dropped when nothing of it is left)."""
        while group := self._merge_group():
            records = [r for segment in group for r in segment.docs(np.flatnonzero(segment.live))]
            for segment in group:
                del self.segments[segment.name]
            if records:
                self._new_segment(records)

    def _merge_group(self) -> list[Segment]:
        tiers: dict[int, list[Segment]] = {}
        for live, segment in sorted(((int(s.live.sum()), s) for s in self.segments.values()), key=lambda p: p[0]):
            if live * 2 < segment.size:
                return [segment]
            tiers.setdefault(int(math.log(max(live, 1), MERGE_FACTOR)), []).append(segment)
        return next((group[:MERGE_FACTOR] for _, group in sorted(tiers.items()) if len(group) >= MERGE_FACTOR), [])

    def clear(self) -> None:
        """Drop every document (call inside ``writing``), before a rebuild."""
        self.segments = {}

    # --- reading -------------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return int(sum(int(segment.live.sum()) for segment in self.segments.values()))

    def size(self, posting_id: str | None = None, section: int | None = None) -> int:
        """How many documents a search with this filter would rank."""
        self.refresh()
        if posting_id is None and section is None:
            return self.count
        total = 0
        for segment in self.segments.values():
            if posting_id is not None:
                span = segment.posting_rows.get(posting_id)
                if span is None:
                    continue
                live, sections = segment.live[span[0] : span[1]], segment.doc_section[span[0] : span[1]]
            else:
                live, sections = segment.live, segment.doc_section
            total += int((live if section is None else live & (np.asarray(sections) == section)).sum())
        return total

    def _rows_of(self, posting_id: str, section: int | None) -> Iterator[tuple[Segment, int]]:
        """The live rows of one posting (of one section), segment by segment, in the order written."""
        for segment in self.segments.values():
            span = segment.posting_rows.get(posting_id)
            for row in range(*span) if span is not None else ():
                if segment.live[row] and (section is None or int(segment.doc_section[row]) == section):
                    yield segment, row

    def ids_of(self, posting_id: str, section: int | None = None) -> list[str]:
        """The live documents of one posting (of one section), in the order they were written."""
        self.refresh()
        return [segment.id_of(row) for segment, row in self._rows_of(posting_id, section)]

    def posting_ids(self) -> set[str]:
        """The postings with at least one live document."""
        found: set[str] = set()
        for segment in self.segments.values():
            for posting_id, (lo, hi) in segment.posting_rows.items():
                if segment.live[lo:hi].any():
                    found.add(posting_id)
        return found

    def search(self, query: str, depth: int, *, posting_id: str | None = None, section: int | None = None) -> list[str]:
        """Document IDs by BM25, best first, at most ``depth``, only those with a positive score. Statistics
        (document count, lengths, document frequencies) are those of the documents the filter keeps."""
        self.refresh()
        tokens = doc_tokens(query)
        if not tokens or depth <= 0:
            return []
        if posting_id is not None:
            return self._search_rows(tokens, depth, posting_id, section)
        return self._search_all(tokens, depth, section)

    def _search_all(self, tokens: list[str], depth: int, section: int | None) -> list[str]:
        masks = {
            name: (s.live & (np.asarray(s.doc_section) == section)) if section is not None else s.live
            for name, s in self.segments.items()
        }
        total = sum(int(m.sum()) for m in masks.values())
        if total == 0:
            return []
        if section is None:
            length = sum(s.live_length for s in self.segments.values())
        else:
            length = sum(float(np.asarray(s.doc_len)[masks[n]].sum()) for n, s in self.segments.items())
        average = length / total
        # document frequency of each distinct query token over the kept documents of every segment
        hits: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {}
        df: Counter[str] = Counter()
        distinct = list(dict.fromkeys(tokens))
        for name, segment in self.segments.items():
            known = segment.token_ids(distinct)
            vocab = segment.vocab[known].tolist() if len(known) else []
            for token, position in zip(vocab, known.tolist()):
                lo, hi = int(segment.inv_ptr[position]), int(segment.inv_ptr[position + 1])
                docs = np.asarray(segment.inv_doc[lo:hi])
                keep = masks[name][docs]
                docs, tfs = docs[keep], np.asarray(segment.inv_tf[lo:hi])[keep]
                df[token] += len(docs)
                hits.setdefault(token, []).append((name, docs, tfs))
        multiplicity = Counter(tokens)
        best: list[tuple[float, str, int]] = []
        scores_by_segment: dict[str, np.ndarray] = {}
        for token, found in hits.items():
            idf = math.log(1 + (total - df[token] + 0.5) / (df[token] + 0.5)) * multiplicity[token]
            for name, docs, tfs in found:
                segment = self.segments[name]
                scores = scores_by_segment.setdefault(name, np.zeros(segment.size, dtype=np.float32))
                lengths = np.asarray(segment.doc_len)[docs]
                scores[docs] += idf * tfs / (K1 * ((1 - B) + B * lengths / average) + tfs)
        for name, scores in scores_by_segment.items():
            candidates = np.flatnonzero(scores > 0)
            if len(candidates) > depth:
                candidates = candidates[np.argpartition(-scores[candidates], depth - 1)[:depth]]
            best.extend((float(scores[row]), name, int(row)) for row in candidates)
        best.sort(key=lambda hit: (-hit[0], hit[1], hit[2]))
        return [self.segments[name].id_of(row) for _, name, row in best[:depth]]

    def _search_rows(self, tokens: list[str], depth: int, posting_id: str, section: int | None) -> list[str]:
        """Within one posting: its documents scored with statistics of its documents only."""
        docs: list[tuple[str, dict[str, float], float]] = []  # (id, token -> tf, length)
        for segment, row in self._rows_of(posting_id, section):
            lo, hi = int(segment.fwd_ptr[row]), int(segment.fwd_ptr[row + 1])
            terms = dict(zip(segment.vocab[segment.fwd_tok[lo:hi]].tolist(), segment.fwd_tf[lo:hi].tolist()))
            docs.append((segment.id_of(row), terms, float(segment.doc_len[row])))
        if not docs:
            return []
        total = len(docs)
        average = sum(length for _, _, length in docs) / total or 1.0
        df = Counter(token for _, terms, _ in docs for token in terms)
        multiplicity = Counter(tokens)
        scored = []
        for doc_id, terms, length in docs:
            score = 0.0
            for token, times in multiplicity.items():
                tf = terms.get(token)
                if tf:
                    idf = math.log(1 + (total - df[token] + 0.5) / (df[token] + 0.5))
                    score += times * idf * tf / (K1 * ((1 - B) + B * length / average) + tf)
            if score > 0:
                scored.append((score, doc_id))
        scored.sort(key=lambda hit: (-hit[0], hit[1]))
        return [doc_id for _, doc_id in scored[:depth]]


def old_deleted(manifest: dict, name: str) -> str | None:
    return next((e.get("deleted") for e in manifest.get("segments", []) if e["name"] == name), None)
