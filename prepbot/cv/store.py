"""CVs in the same chroma store as the postings, in collections of their own: ``<collection>-cv-claims``
(one record per claim, embedded like posting items) and ``<collection>-cvs`` (one per CV, written after its
claims, so that a listed CV is complete). Nothing leaves the machine: the embedder is the posting index's."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from prepbot.cv.models import CV, Claim, CVSummary
from prepbot.errors import PrepbotError
from prepbot.retrieval.ranking import unit

if TYPE_CHECKING:
    from prepbot.retrieval.index import RequirementIndex


def _meta(value: Any) -> Any:
    return "" if value is None else value


class CVStore:
    def __init__(self, index: RequirementIndex):
        self.index = index
        collection = index.settings.collection
        space = {"hnsw": {"space": "cosine"}}
        try:
            self.claims = index.client.get_or_create_collection(f"{collection}-cv-claims", configuration=space)
            self.cvs = index.client.get_or_create_collection(f"{collection}-cvs", configuration=space)
        except Exception as exc:
            raise PrepbotError(f"vector store {index.location} cannot be opened: {exc}") from None

    # --- writing ----------------------------------------------------------------------------------------

    def add(self, cv: CV) -> bool:
        """Store ``cv`` and its claims; False when a CV with the same ID (the same claims) is stored already."""
        if self.cvs.get(ids=[cv.id], include=[])["ids"]:
            return False
        if not cv.claims:
            raise PrepbotError(f"{cv.source}: no CV lines found (roles, achievements, skills, education)")
        try:
            self.claims.upsert(
                ids=[claim.id for claim in cv.claims],
                documents=[claim.text for claim in cv.claims],
                embeddings=self.index.embedder.embed([claim.text for claim in cv.claims]),
                metadatas=[
                    {"cv_id": cv.id, "kind": c.kind, "n": c.n, "order": i, "context": _meta(c.context)}
                    for i, c in enumerate(cv.claims)
                ],
            )
            self.cvs.upsert(
                ids=[cv.id],
                documents=[cv.name],
                embeddings=self.index.embedder.embed([cv.name]),
                metadatas=[
                    {
                        "name": cv.name,
                        "language": cv.language,
                        "source": cv.source,
                        "fingerprint": cv.fingerprint,
                        "counts": json.dumps(cv.counts()),
                        "added_at": time.time(),
                    }
                ],
            )
        except Exception as exc:
            self.claims.delete(where={"cv_id": cv.id})
            raise PrepbotError(f"could not write to the vector store {self.index.location}: {exc}") from None
        return True

    def remove(self, cv_id: str) -> bool:
        existed = bool(self.cvs.get(ids=[cv_id], include=[])["ids"])
        self.cvs.delete(ids=[cv_id])
        self.claims.delete(where={"cv_id": cv_id})
        return existed

    # --- reading ----------------------------------------------------------------------------------------

    def all(self) -> list[CVSummary]:
        got = self.cvs.get(include=["metadatas"])
        summaries = [_summary(cid, meta) for cid, meta in zip(got["ids"], got["metadatas"] or [])]
        return sorted(summaries, key=lambda s: (s.added_at, s.id))

    def summary(self, cv_id: str) -> CVSummary | None:
        got = self.cvs.get(ids=[cv_id], include=["metadatas"])
        return _summary(got["ids"][0], got["metadatas"][0]) if got["ids"] else None

    def resolve(self, cv_id: str | None) -> CVSummary:
        """The CV ``cv_id`` names, or the newest CV where it names none; a one-line error where there is none."""
        if cv_id is None:
            stored = self.all()
            if not stored:
                raise PrepbotError("no CV stored; add one with `prepbot cv add PATH`")
            return stored[-1]
        found = self.summary(cv_id)
        if found is None:
            raise PrepbotError(f"no CV {cv_id!r}; `prepbot cv list` shows the IDs")
        return found

    def get(self, cv_id: str) -> CV | None:
        summary = self.summary(cv_id)
        if summary is None:
            return None
        claims, _ = self.claims_with_vectors(cv_id, vectors=False)
        return CV(
            id=summary.id,
            name=summary.name,
            language=summary.language,
            source=summary.source,
            fingerprint=summary.fingerprint,
            claims=claims,
            added_at=summary.added_at,
        )

    def claims_with_vectors(self, cv_id: str, vectors: bool = True) -> tuple[list[Claim], np.ndarray]:
        """A CV's claims in their order in the CV, and their vectors (unit length) when asked."""
        include = ["documents", "metadatas", *(["embeddings"] if vectors else [])]
        got = self.claims.get(where={"cv_id": cv_id}, include=include)
        claims = [_claim(cid, doc, meta) for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])]
        order = sorted(range(len(claims)), key=lambda i: _position(got["metadatas"][i]))
        claims = [claims[i] for i in order]
        if not vectors or not claims:
            return claims, np.zeros((0, 0), dtype=np.float32)
        return claims, unit(np.asarray(got["embeddings"], dtype=np.float32)[order])

    def get_claims(self, claim_ids: list[str]) -> dict[str, Claim]:
        """The stored claims for these IDs (unknown IDs absent): the ground truth for quoting a CV."""
        if not claim_ids:
            return {}
        got = self.claims.get(ids=list(dict.fromkeys(claim_ids)), include=["documents", "metadatas"])
        return {cid: _claim(cid, doc, meta) for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])}


def _claim(claim_id: str, text: str, meta: dict[str, Any]) -> Claim:
    return Claim(
        id=claim_id, cv_id=meta["cv_id"], kind=meta["kind"], n=meta["n"], text=text, context=meta["context"] or None
    )


def _position(meta: dict[str, Any]) -> int:
    return int(meta["order"])


def _summary(cv_id: str, meta: dict[str, Any]) -> CVSummary:
    return CVSummary(
        id=cv_id,
        name=meta["name"],
        language=meta["language"],
        source=meta["source"],
        fingerprint=meta["fingerprint"],
        counts=json.loads(meta["counts"]),
        added_at=meta["added_at"],
    )
