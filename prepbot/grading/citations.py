"""A grade's citations are chosen in code, never by the model.

The item the question tests (given, or found by retrieval with the question) and the items the answer itself
touches (retrieval with the answer text, kept only above a similarity floor). Each is read back from the
store, so a grade can cite only an existing item with its exact text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from prepbot.errors import PrepbotError
from prepbot.grading.answers import too_short
from prepbot.grading.models import GradeCitation
from prepbot.postings import CORE_SECTIONS

if TYPE_CHECKING:
    from prepbot.postings import Requirement
    from prepbot.retrieval.index import RequirementIndex

# Cosine (multilingual embeddings) between the answer and an item at or above which the answer touches that item: a
# specific answer scores well above it against the items it is about, unrelated items below.
TOUCH_MIN_COSINE = 0.3
MAX_TOUCHED = 3


def tested_item(index: RequirementIndex, posting_id: str, question: str, requirement_id: str | None) -> Requirement:
    """The item the question tests: the one named, checked against the store, or the best match for it."""
    if requirement_id:
        item = index.get_requirements([requirement_id]).get(requirement_id)
        if item is None or item.posting_id != posting_id:
            raise PrepbotError(
                f"no requirement {requirement_id!r} in posting {posting_id}; `prepbot postings show` lists them"
            )
        return item
    hits = index.search(question, posting_id=posting_id, k=1)
    if not hits:
        raise PrepbotError(f"posting {posting_id} has no requirement items to grade against")
    return index.get_requirements([hits[0].id])[hits[0].id]


def touched_items(index: RequirementIndex, posting_id: str, answer: str, exclude: str | None) -> list[Requirement]:
    """The posting's duties, requirements and pluses the answer is about: retrieved with the answer text, above
    a similarity floor (the ranker may put an intro or benefit line among the hits: those are not requirements)."""
    if too_short(answer):
        return []
    found = index.search(answer, posting_id=posting_id, k=MAX_TOUCHED + 3)
    hits = [hit for hit in found if hit.id != exclude and hit.section in CORE_SECTIONS][: MAX_TOUCHED + 1]
    if not hits:
        return []
    vectors = index.embedder.embed([answer, *(hit.text for hit in hits)])
    cosines = vectors[1:] @ vectors[0] / (np.linalg.norm(vectors[1:], axis=1) * np.linalg.norm(vectors[0]) + 1e-9)
    chosen = [hit.id for hit, cosine in zip(hits, cosines) if cosine >= TOUCH_MIN_COSINE][:MAX_TOUCHED]
    stored = index.get_requirements(chosen)
    return [stored[rid] for rid in chosen if rid in stored]


def cite(tested: Requirement | None, touched: list[Requirement]) -> list[GradeCitation]:
    cited = [GradeCitation(id=tested.id, quote=tested.text, relation="tested")] if tested else []
    return cited + [GradeCitation(id=item.id, quote=item.text, relation="touched") for item in touched]
