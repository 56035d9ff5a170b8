"""How near an answer is to what it was asked, by the embedder: signals for the score's combination.

``sim_question`` is the cosine of the answer with the question, ``sim_item`` with the item tested, and
``item_margin`` that less the answer's best cosine with the posting's other items (negative where the answer
is nearer another requirement than the one asked about: a drifting answer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prepbot.retrieval.index import RequirementIndex


def relevance(index: RequirementIndex, posting_id: str, tested_id: str, question: str, answer: str) -> dict[str, float]:
    ids, vectors = index.item_vectors(posting_id)
    answer_vector, question_vector = index.embedder.embed([answer, question])
    signals = {"sim_question": round(float(answer_vector @ question_vector), 4)}
    if tested_id in ids and len(vectors):
        cosines = vectors @ answer_vector
        own = float(cosines[ids.index(tested_id)])
        others = [float(c) for rid, c in zip(ids, cosines) if rid != tested_id]
        signals["sim_item"] = round(own, 4)
        signals["item_margin"] = round(own - max(others), 4) if others else 0.0
    return signals
