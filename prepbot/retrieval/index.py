"""The requirement index: postings and their items in chromadb, searched by dense + BM25 fused by rank.

Two collections hold everything, so an embedded store and a chroma server (``PREPBOT_CHROMA_URL``) behave
the same: ``<collection>`` has one record per requirement item, ``<collection>-postings`` one per posting
(its title embedded, for role matching). A posting record is written after its items, so a posting that is
listed is always complete; items left without a posting record by a crash are swept on the next write.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from pydantic import BaseModel

from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.files import private_home
from prepbot.postings import CORE_SECTIONS, SECTIONS, OutlineSection, Posting, Requirement
from prepbot.retrieval.embedders import Embedder, PrepbotEmbeddingFunction, get_embedder
from prepbot.retrieval.ranking import (
    ANSWER_MATCH_MAX_ITEMS,
    answer_scores,
    answer_sentences,
    bm25_ranking,
    is_answer_like,
    rrf_fuse,
    unit,
)
from prepbot.text import Language

EMBED_BATCH = 256
LOCK_WAIT_S = 10.0  # how long opening an embedded store waits for another process's lock on it


class PostingSummary(BaseModel):
    id: str
    title: str
    company: str | None
    language: Language
    source: str
    fingerprint: str
    counts: dict[str, int]
    ingested_at: float


class SearchHit(BaseModel):
    id: str
    posting_id: str
    section: str
    group: str | None
    text: str
    title: str
    score: float


def _meta(value: Any) -> Any:
    """chroma metadata takes no None: store an empty string and read it back as None."""
    return "" if value is None else value


def _unmeta(value: Any) -> Any:
    return None if value == "" else value


class RequirementIndex:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = self._connect(settings)
        self.embedder: Embedder = get_embedder(
            settings.embedder, base_url=settings.base_url, api_key=settings.resolved_api_key()
        )
        function = PrepbotEmbeddingFunction(settings.embedder)
        try:
            self.items = self.client.get_or_create_collection(
                settings.collection, embedding_function=function, configuration={"hnsw": {"space": "cosine"}}
            )
            self.postings = self.client.get_or_create_collection(
                f"{settings.collection}-postings",
                embedding_function=function,
                configuration={"hnsw": {"space": "cosine"}},
            )
        except Exception as exc:  # chroma raises many types for a corrupt or foreign store
            raise PrepbotError(f"vector store {self.location} cannot be opened: {_reason(exc)}") from None

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.chroma_dir)

    @staticmethod
    def _connect(settings: Settings) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if settings.chroma_url:
                url = urlparse(settings.chroma_url)
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or 8000,
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
                return client
            private_home(settings.home)
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            _check_not_locked(settings.chroma_dir)
            return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
        except PrepbotError:
            raise
        except Exception as exc:
            where = settings.chroma_url or settings.chroma_dir
            raise PrepbotError(f"vector store {where} cannot be opened: {_reason(exc)}") from None

    # --- writing ----------------------------------------------------------------------------------------

    def add_postings(
        self,
        postings: list[Posting],
        on_items: Callable[[int], None] | None = None,
        embed: Callable[[list[str]], Any] | None = None,
    ) -> None:
        """Index postings: their items embedded and written in batches of EMBED_BATCH, then the posting records
        with their embedded titles. On failure none of these postings stays.

        ``embed`` stands in for ``self.embedder.embed`` (ingest's embedder worker, which was sent these texts
        ahead, items in order then each title): it must return the vectors that embedder would."""
        embed = embed or self.embedder.embed
        items = [(posting, item) for posting in postings for item in posting.requirements]
        try:
            for start in range(0, len(items), EMBED_BATCH):
                batch = items[start : start + EMBED_BATCH]
                self.items.upsert(
                    ids=[item.id for _, item in batch],
                    documents=[item.text for _, item in batch],
                    embeddings=embed([embedded_text(item) for _, item in batch]),
                    metadatas=[self._item_metadata(posting, item) for posting, item in batch],
                )
                if on_items:
                    on_items(len(batch))
            if postings:
                self.postings.upsert(
                    ids=[posting.id for posting in postings],
                    documents=[posting.title for posting in postings],
                    embeddings=embed([posting.title for posting in postings]),
                    metadatas=[self._posting_metadata(posting) for posting in postings],
                )
        except Exception as exc:
            for posting in postings:
                self._delete_items(posting.id)
            if isinstance(exc, PrepbotError):
                raise
            raise PrepbotError(f"could not write to the vector store {self.location}: {_reason(exc)}") from None

    @staticmethod
    def _posting_metadata(posting: Posting) -> dict[str, Any]:
        return {
            "title": posting.title,
            "company": _meta(posting.company),
            "language": posting.language,
            "source": posting.source,
            "file": source_file(posting.source),
            "fingerprint": posting.fingerprint,
            "counts": json.dumps(posting.counts()),
            "outline": json.dumps([section.model_dump() for section in posting.outline], ensure_ascii=False),
            "ingested_at": time.time(),
        }

    @staticmethod
    def _item_metadata(posting: Posting, item: Requirement) -> dict[str, Any]:
        return {
            "posting_id": posting.id,
            "section": item.section,
            "n": item.n,
            "group": _meta(item.group),
            "detail": _meta(item.detail),
            "language": posting.language,
            "title": posting.title,
            "company": _meta(posting.company),
        }

    def remove_posting(self, posting_id: str) -> bool:
        existed = bool(self.postings.get(ids=[posting_id], include=[])["ids"])
        self.postings.delete(ids=[posting_id])
        self._delete_items(posting_id)
        return existed

    def remove_items(self, posting_id: str, keep: set[str]) -> None:
        """Delete a posting's items other than ``keep`` (those an edit of the posting no longer has)."""
        got = self.items.get(where={"posting_id": posting_id}, include=[])
        stale = [item_id for item_id in got["ids"] if item_id not in keep]
        if stale:
            self.items.delete(ids=stale)

    def _delete_items(self, posting_id: str) -> None:
        self.items.delete(where={"posting_id": posting_id})

    def sweep_orphans(self) -> int:
        """Items whose posting record never got written (a crash mid-ingest)."""
        known = set(self.postings.get(include=[])["ids"])
        metas = self.items.get(include=["metadatas"])["metadatas"] or []
        orphans = {meta["posting_id"] for meta in metas} - known
        for posting_id in orphans:
            self._delete_items(posting_id)
        return len(orphans)

    # --- reading ----------------------------------------------------------------------------------------

    def list_postings(self, where: dict[str, Any] | None = None) -> list[PostingSummary]:
        got = self.postings.get(where=where, include=["metadatas"])
        summaries = [self._summary(pid, meta) for pid, meta in zip(got["ids"], got["metadatas"] or [])]
        return sorted(summaries, key=lambda s: (s.ingested_at, s.id))

    @staticmethod
    def _summary(posting_id: str, meta: dict[str, Any]) -> PostingSummary:
        return PostingSummary(
            id=posting_id,
            title=meta["title"],
            company=_unmeta(meta.get("company")),
            language=meta["language"],
            source=meta["source"],
            fingerprint=meta["fingerprint"],
            counts=json.loads(meta["counts"]),
            ingested_at=meta["ingested_at"],
        )

    def posting_summary(self, posting_id: str) -> PostingSummary | None:
        got = self.postings.get(ids=[posting_id], include=["metadatas"])
        return self._summary(got["ids"][0], got["metadatas"][0]) if got["ids"] else None

    def get_posting(self, posting_id: str) -> Posting | None:
        got = self.postings.get(ids=[posting_id], include=["metadatas"])
        if not got["ids"]:
            return None
        summary = self._summary(got["ids"][0], got["metadatas"][0])
        outline = [OutlineSection.model_validate(s) for s in json.loads(got["metadatas"][0].get("outline") or "[]")]
        got = self.items.get(where={"posting_id": posting_id}, include=["documents", "metadatas"])
        requirements = [
            self._requirement(rid, doc, meta)
            for rid, doc, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
        ]
        requirements.sort(key=lambda r: (SECTIONS.index(r.section), r.n))
        return Posting(
            id=summary.id,
            title=summary.title,
            company=summary.company,
            language=summary.language,
            source=summary.source,
            fingerprint=summary.fingerprint,
            requirements=requirements,
            outline=outline,
        )

    @staticmethod
    def _requirement(requirement_id: str, text: str, meta: dict[str, Any]) -> Requirement:
        return Requirement(
            id=requirement_id,
            posting_id=meta["posting_id"],
            section=meta["section"],
            n=meta["n"],
            group=_unmeta(meta.get("group")),
            text=text,
            detail=_unmeta(meta.get("detail")),
        )

    def get_requirements(self, requirement_ids: list[str]) -> dict[str, Requirement]:
        """The stored items for these IDs (unknown IDs are simply absent): the ground truth for citations."""
        if not requirement_ids:
            return {}
        got = self.items.get(ids=list(dict.fromkeys(requirement_ids)), include=["documents", "metadatas"])
        return {
            rid: self._requirement(rid, doc, meta)
            for rid, doc, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
        }

    def item_vectors(self, posting_id: str) -> tuple[list[str], np.ndarray]:
        """A posting's item IDs and their stored vectors (unit length), in the store's order."""
        got = self.items.get(where={"posting_id": posting_id}, include=["embeddings"])
        vectors = np.asarray(got["embeddings"] if got["embeddings"] is not None else [], dtype=np.float32)
        if len(vectors):
            vectors = vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9)
        return list(got["ids"]), vectors

    def search(
        self, query: str, *, posting_id: str | None = None, section: str | None = None, k: int = 5
    ) -> list[SearchHit]:
        """Dense and BM25 rankings over the same filtered items, fused by reciprocal rank (k=60)."""
        if not query.strip():
            raise PrepbotError("the search query is empty")
        where = _where(posting_id=posting_id, section=section)
        candidates = self.items.get(where=where, include=["documents", "metadatas"])
        ids: list[str] = candidates["ids"]
        if not ids:
            return []
        depth = min(len(ids), max(k * 4, 20))
        if is_answer_like(query) and len(ids) <= ANSWER_MATCH_MAX_ITEMS:
            return self._match_answer(query, where, k)
        dense = self.items.query(
            query_embeddings=self.embedder.embed([query]), n_results=depth, where=where, include=[]
        )["ids"][0]
        searched = [
            _searched(doc, meta) for doc, meta in zip(candidates["documents"] or [], candidates["metadatas"] or [])
        ]
        fused = rrf_fuse([dense, bm25_ranking(query, ids, searched, depth)])
        by_id = {rid: (doc, meta) for rid, doc, meta in zip(ids, candidates["documents"], candidates["metadatas"])}
        ranked = sorted(fused.items(), key=lambda pair: -pair[1])[:k]
        return [
            SearchHit(
                id=rid,
                posting_id=by_id[rid][1]["posting_id"],
                section=by_id[rid][1]["section"],
                group=_unmeta(by_id[rid][1].get("group")),
                text=by_id[rid][0],
                title=by_id[rid][1]["title"],
                score=round(score, 6),
            )
            for rid, score in ranked
        ]

    def _match_answer(self, query: str, where: dict[str, Any] | None, k: int) -> list[SearchHit]:
        """The items an answer (several sentences) is about: each item scored by its two best-matching
        sentences of the answer and by the whole answer, plus the share of its own distinctive words the
        answer uses; duties and requirements before the rest (an answer is about what the job asks)."""
        got = self.items.get(where=where, include=["documents", "metadatas", "embeddings"])
        ids, docs, metas = got["ids"], got["documents"] or [], got["metadatas"] or []
        vectors = unit(np.asarray(got["embeddings"], dtype=np.float32))
        sentences = answer_sentences(query)
        queries = unit(np.asarray(self.embedder.embed([query, *sentences]), dtype=np.float32))
        scores = answer_scores(queries[0], queries[1:], vectors, [_searched(d, m) for d, m in zip(docs, metas)], query)
        order = sorted(range(len(ids)), key=lambda i: (metas[i]["section"] not in CORE_SECTIONS, -scores[i]))
        return [
            SearchHit(
                id=ids[i],
                posting_id=metas[i]["posting_id"],
                section=metas[i]["section"],
                group=_unmeta(metas[i].get("group")),
                text=docs[i],
                title=metas[i]["title"],
                score=round(float(scores[i]), 6),
            )
            for i in order[:k]
        ]

    def match_titles(self, role: str, k: int = 5) -> list[tuple[PostingSummary, float]]:
        """Postings whose title matches a role in any language (dense similarity on the embedded titles)."""
        count = self.postings.count()
        if count == 0:
            return []
        got = self.postings.query(
            query_embeddings=self.embedder.embed([role]), n_results=min(k, count), include=["metadatas", "distances"]
        )
        return [
            (self._summary(pid, meta), 1.0 - dist)
            for pid, meta, dist in zip(got["ids"][0], got["metadatas"][0], got["distances"][0])
        ]


def _searched(document: str, meta: dict[str, Any]) -> str:
    return f"{document} {meta['detail']}" if meta.get("detail") else document


def embedded_text(item: Requirement) -> str:
    """What is embedded for an item: its text, and its nested detail lines, so that both find it."""
    return f"{item.text}\n{item.detail}" if item.detail else item.text


def source_file(source: str) -> str:
    """A posting's source is its file, plus "#k" when the file holds several postings."""
    return source.split("#", 1)[0]


def _where(**filters: str | None) -> dict[str, Any] | None:
    clauses = [{key: value} for key, value in filters.items() if value]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


_checked_stores: set[Path] = set()
_checked_lock = threading.Lock()


def _check_not_locked(chroma_dir: Path) -> None:
    """Fail fast when another process holds the embedded store's sqlite database: chroma opens it with a
    write lock and, when another process has one, waits for it without a time limit (a store held by an
    open `sqlite3` shell or another program hung every command for minutes). The same lock is tried here
    first, for at most LOCK_WAIT_S, and released at once. Once per store per process: a second sqlite
    library closing its handle while chroma's holds a lock on the same file would release chroma's lock."""
    database = chroma_dir / "chroma.sqlite3"
    with _checked_lock:
        if chroma_dir in _checked_stores or not database.exists():
            return
        try:
            connection = sqlite3.connect(database, timeout=LOCK_WAIT_S, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
            finally:
                connection.close()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise PrepbotError(
                    f"vector store {chroma_dir} is locked by another process (sqlite: {exc} after "
                    f"{LOCK_WAIT_S:g} s); close the program using it or let it finish, then retry"
                ) from None
            raise PrepbotError(f"vector store {chroma_dir} cannot be opened: {_reason(exc)}") from None
        except sqlite3.Error as exc:
            raise PrepbotError(f"vector store {chroma_dir} cannot be opened: {_reason(exc)}") from None
        _checked_stores.add(chroma_dir)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0]}" if text else exc.__class__.__name__
