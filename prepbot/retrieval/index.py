"""The requirement index: postings and their items in chromadb, searched by dense + BM25 fused by rank.

Two collections hold everything, so an embedded store and a chroma server (``PREPBOT_CHROMA_URL``) behave
the same: ``<collection>`` has one record per requirement item, ``<collection>-postings`` one per posting
(its title embedded, for role matching). A posting record is written after its items, so a posting that is
listed is always complete; items left without a posting record by a crash are swept on the next write.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.postings import CORE_SECTIONS, SECTIONS, OutlineSection, Posting, Requirement
from prepbot.retrieval.connect import PAGE, connect, get_all, items_schema, pages, reason
from prepbot.retrieval.embedders import Embedder, PrepbotEmbeddingFunction, get_embedder
from prepbot.retrieval.ranker import answer_features, ranker_for
from prepbot.retrieval.ranking import (
    ANSWER_MATCH_MAX_ITEMS,
    answer_scores,
    answer_sentences,
    is_answer_like,
    rrf_fuse,
    unit,
)
from prepbot.retrieval.sparse import SparseDoc, SparseIndex
from prepbot.text import Language

EMBED_BATCH = 256
INFO_KEY = "info"  # an item's fields other than posting_id and section, as JSON
GENERATION_KEY = "prepbot_generation"  # in the postings collection's metadata, on a chroma server
SERVER_STEP_CHECK_S = 1.0  # how often a search on a chroma server asks whether another client wrote


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
        self.client = connect(settings)
        self.embedder: Embedder = get_embedder(
            settings.embedder, base_url=settings.base_url, api_key=settings.resolved_api_key()
        )
        function = PrepbotEmbeddingFunction(settings.embedder)
        try:
            self.items = self.client.get_or_create_collection(
                settings.collection, schema=items_schema(function, INFO_KEY)
            )
            self.postings = self.client.get_or_create_collection(
                f"{settings.collection}-postings",
                embedding_function=function,
                configuration={"hnsw": {"space": "cosine"}},
            )
        except Exception as exc:  # chroma raises many types for a corrupt or foreign store
            raise PrepbotError(f"vector store {self.location} cannot be opened: {reason(exc)}") from None
        self.sparse = SparseIndex(sparse_dir(settings))
        self._seen_generation = 0.0
        self.keep_sparse_in_step()

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.chroma_dir)

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
        if not postings:
            return
        embed = embed or self.embedder.embed
        items = [(posting, item) for posting in postings for item in posting.requirements]
        with self.sparse.writing():
            self._add_postings(postings, items, on_items, embed)

    def _add_postings(self, postings: list[Posting], items: list, on_items: Any, embed: Any) -> None:
        try:
            # the sparse index first: a write cut short leaves items without a posting record in both, and
            # sweep_orphans finds them by the sparse index's postings
            self.sparse.add([_sparse_doc(posting, item) for posting, item in items])
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
            self._stamp_generation()
        except Exception as exc:
            for posting in postings:
                self._delete_items(posting.id)
            if isinstance(exc, PrepbotError):
                raise
            raise PrepbotError(f"could not write to the vector store {self.location}: {reason(exc)}") from None

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
        """The two keys searches filter by, and the rest in one unindexed JSON value: chroma writes each
        metadata key of each item to its own index, and eight keys cost it half its write time (1,160 against
        680 items/s; docs/decisions.md)."""
        info = {
            "n": item.n,
            "group": item.group,
            "detail": item.detail,
            "language": posting.language,
            "title": posting.title,
            "company": posting.company,
        }
        return {"posting_id": posting.id, "section": item.section, INFO_KEY: json.dumps(info, ensure_ascii=False)}

    def remove_posting(self, posting_id: str) -> bool:
        with self.sparse.writing():
            existed = bool(self.postings.get(ids=[posting_id], include=[])["ids"])
            self.postings.delete(ids=[posting_id])
            self._delete_items(posting_id)
            self._stamp_generation()
        return existed

    def remove_items(self, posting_id: str, keep: set[str]) -> None:
        """Delete a posting's items other than ``keep`` (those an edit of the posting no longer has)."""
        with self.sparse.writing():
            got = self.items.get(where={"posting_id": posting_id}, include=[])
            stale = [item_id for item_id in got["ids"] if item_id not in keep]
            if stale:
                self.items.delete(ids=stale)
                self.sparse.remove_ids(posting_id, stale)
                self._stamp_generation()

    def _delete_items(self, posting_id: str) -> None:
        """Call inside ``self.sparse.writing()``."""
        self.items.delete(where={"posting_id": posting_id})
        self.sparse.remove_postings([posting_id])

    def sweep_orphans(self) -> int:
        """Items whose posting record never got written (a crash mid-ingest), found by the sparse index's
        postings (written first: see add_postings) instead of reading every item's metadata."""
        with self.sparse.writing():
            known = set(get_all(self.postings, include=[])["ids"])
            orphans = self.sparse.posting_ids() - known
            for posting_id in orphans:
                self._delete_items(posting_id)
            if orphans:
                self._stamp_generation()
        return len(orphans)

    # --- the sparse index in step with the store -------------------------------------------------------

    def _stamp_generation(self) -> None:
        """Call inside ``self.sparse.writing()`` after a write: the store and the sparse index record the same
        new generation, so that another machine's client of a shared chroma server sees the store changed."""
        generation = f"{time.time():.6f}-{uuid.uuid4().hex[:8]}"
        self.sparse.set_generation(generation)
        if self.settings.chroma_url:
            metadata = {**(self.postings.metadata or {}), GENERATION_KEY: generation}
            self.postings.modify(metadata=metadata)

    def keep_sparse_in_step(self, force: bool = False) -> bool:
        """Rebuild the sparse index from the store when the two differ: another item count (a store written
        before the sparse index existed, or its directory lost) or, on a chroma server, another generation (a
        write by another machine's client). Returns whether it rebuilt."""
        if not force and self._in_step():
            return False
        with self.sparse.writing():
            if not force and self._in_step():
                return False
            self.sparse.clear()
            total = self.items.count()
            for offset in range(0, total, PAGE):
                got = self.items.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
                self.sparse.add(
                    [
                        SparseDoc(rid, meta["posting_id"], SECTIONS.index(meta["section"]), _searched(doc, meta))
                        for rid, doc, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
                    ],
                    replace=False,
                )
            self.sparse.set_generation(self._store_generation() or self.sparse.generation)
        return True

    def _in_step(self) -> bool:
        if self.sparse.count != self.items.count():
            return False
        if not self.settings.chroma_url:
            return True
        return self._store_generation() in (None, self.sparse.generation)

    def _store_generation(self) -> str | None:
        if not self.settings.chroma_url:
            return None
        collection = self.client.get_collection(self.postings.name)
        return (collection.metadata or {}).get(GENERATION_KEY)

    def _check_server_step(self) -> None:
        """On a chroma server, at most every SERVER_STEP_CHECK_S: did another client write?"""
        if self.settings.chroma_url and time.monotonic() - self._seen_generation > SERVER_STEP_CHECK_S:
            self.keep_sparse_in_step()
            self._seen_generation = time.monotonic()

    # --- reading ----------------------------------------------------------------------------------------

    def list_postings(self, where: dict[str, Any] | None = None) -> list[PostingSummary]:
        got = get_all(self.postings, where=where, include=["metadatas"])
        summaries = [self._summary(pid, meta) for pid, meta in zip(got["ids"], got["metadatas"] or [])]
        return sorted(summaries, key=lambda s: (s.ingested_at, s.id))

    def posting_pages(self) -> Iterator[list[PostingSummary]]:
        """The posting records PAGE at a time, in no order: what a large ingest reads without holding it all."""
        for got in pages(self.postings, include=["metadatas"]):
            yield [self._summary(pid, meta) for pid, meta in zip(got["ids"], got["metadatas"] or [])]

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
        got = self._filtered(None, posting_id, None)(["documents", "metadatas"])
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
        info = item_info(meta)
        return Requirement(
            id=requirement_id,
            posting_id=meta["posting_id"],
            section=meta["section"],
            n=info["n"],
            group=info["group"],
            text=text,
            detail=info["detail"],
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
        got = self._filtered(None, posting_id, None)(["embeddings"])
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
        self._check_server_step()
        where = _where(posting_id=posting_id, section=section)
        code = SECTIONS.index(section) if section in SECTIONS else (-1 if section else None)
        size = self.sparse.size(posting_id=posting_id, section=code)
        if not size:
            return []
        depth = min(size, max(k * 4, 20))
        if is_answer_like(query) and size <= ANSWER_MATCH_MAX_ITEMS:
            return self._match_answer(query, self._filtered(where, posting_id, code), k)
        vector = self.embedder.embed([query])
        if posting_id is None:
            got = self.items.query(
                query_embeddings=vector, n_results=depth, where=where, include=["documents", "metadatas"]
            )
            dense, documents, metadatas = got["ids"][0], got["documents"][0], got["metadatas"][0]
        else:  # a posting's few vectors compared here, exactly: chroma's filtered query costs more than reading them
            got = self._filtered(where, posting_id, code)(["documents", "metadatas", "embeddings"])
            order = np.argsort(
                -(unit(np.asarray(got["embeddings"], dtype=np.float32)) @ unit(vector)[0]), kind="stable"
            )
            dense = [got["ids"][i] for i in order[:depth]]
            documents, metadatas = [got["documents"][i] for i in order], [got["metadatas"][i] for i in order]
        by_id = {rid: (doc, meta) for rid, doc, meta in zip(dense, documents, metadatas)}
        lexical = self.sparse.search(query, depth, posting_id=posting_id, section=code)
        fused = rrf_fuse([dense, lexical])
        ranked = sorted(fused.items(), key=lambda pair: -pair[1])[:k]
        missing = [rid for rid, _ in ranked if rid not in by_id]
        if missing:
            more = self.items.get(ids=missing, include=["documents", "metadatas"])
            by_id.update(
                {rid: (doc, meta) for rid, doc, meta in zip(more["ids"], more["documents"], more["metadatas"])}
            )
        ranked = [(rid, score) for rid, score in ranked if rid in by_id]
        return [_hit(rid, *by_id[rid], score) for rid, score in ranked]

    def _filtered(self, where: dict[str, Any] | None, posting_id: str | None, code: int | None) -> Callable:
        """A reader of the filtered items (``include`` -> chroma's get result): within a posting, by the IDs the
        sparse index holds for it (a look-up by key, where a `where` filter scans metadata)."""
        if posting_id is not None:
            ids = self.sparse.ids_of(posting_id, code)
            if not ids:
                return lambda include: {"ids": [], **{key: [] for key in include}}
            return lambda include: self.items.get(ids=ids, include=include)
        return lambda include: self.items.get(where=where, include=include)

    def _match_answer(self, query: str, read: Callable, k: int) -> list[SearchHit]:
        """The items an answer (several sentences) is about, by the ranker fitted for this embedder
        (``ranker.py``); without one, each item scored by its two best-matching sentences of the answer, the
        whole answer and the share of its words the answer uses, duties and requirements before the rest."""
        ids, docs, metas, features = self._answer_features(query, read)
        ranker = ranker_for(self.settings.embedder, self.settings.home)
        if ranker is not None:
            scores = ranker.scores(features)
            order = sorted(range(len(ids)), key=lambda i: -scores[i])
        else:
            scores = answer_scores(features)
            order = sorted(range(len(ids)), key=lambda i: (metas[i]["section"] not in CORE_SECTIONS, -scores[i]))
        return [_hit(ids[i], docs[i], metas[i], float(scores[i])) for i in order[:k]]

    def answer_features(self, query: str, posting_id: str) -> tuple[list[SearchHit], dict[str, np.ndarray]]:
        """Every item of a posting (as hits, in store order) and the ranker's features of each for an answer:
        what a ranker is fitted on."""
        ids, docs, metas, features = self._answer_features(query, self._filtered(None, posting_id, None))
        return [_hit(i, d, m, 0.0) for i, d, m in zip(ids, docs, metas)], features

    def _answer_features(self, query: str, read: Callable) -> tuple[list, list, list, dict[str, np.ndarray]]:
        got = read(["documents", "metadatas", "embeddings"])
        ids, docs, metas = got["ids"], got["documents"] or [], got["metadatas"] or []
        vectors = unit(np.asarray(got["embeddings"], dtype=np.float32).reshape(len(ids), -1))
        texts = [_searched(d, m) for d, m in zip(docs, metas)]
        queries = unit(np.asarray(self.embedder.embed([query, *answer_sentences(query)]), dtype=np.float32))
        sections = [m["section"] for m in metas]
        return ids, docs, metas, answer_features(queries[0], queries[1:], vectors, texts, sections, query)

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


def _sparse_doc(posting: Posting, item: Requirement) -> SparseDoc:
    return SparseDoc(item.id, posting.id, SECTIONS.index(item.section), embedded_text(item).replace("\n", " "))


def sparse_dir(settings: Settings) -> Path:
    """The sparse index of a store: beside an embedded store in its home; for a chroma server, in this home
    under a name made of the server's address (each client keeps its own, in step by generation)."""
    if not settings.chroma_url:
        return settings.home / "sparse" / settings.collection
    where = hashlib.sha256(settings.chroma_url.encode()).hexdigest()[:12]
    return settings.home / "sparse" / f"server-{where}" / settings.collection


def _searched(document: str, meta: dict[str, Any]) -> str:
    detail = item_info(meta)["detail"]
    return f"{document} {detail}" if detail else document


def item_info(meta: dict[str, Any]) -> dict[str, Any]:
    """An item's stored fields besides posting and section: from its JSON value, or (a store written before
    it) from keys of their own."""
    if INFO_KEY in meta:
        return json.loads(meta[INFO_KEY])
    return {key: _unmeta(meta.get(key)) for key in ("n", "group", "detail", "language", "title", "company")}


def _hit(item_id: str, document: str, meta: dict[str, Any], score: float) -> SearchHit:
    info = item_info(meta)
    return SearchHit(
        id=item_id,
        posting_id=meta["posting_id"],
        section=meta["section"],
        group=info["group"],
        text=document,
        title=info["title"],
        score=round(score, 6),
    )


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
