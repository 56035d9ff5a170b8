"""Planning a set is code, not the model's choice.

Requirements first, then responsibilities, then nice-to-haves, one question per item before any item gets a
second; when ``n`` is larger than the items, further rounds go deeper (one step harder) on the requirement
items. An item that is nothing but sentences addressed to a model gets no question.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from prepbot.errors import PrepbotError
from prepbot.postings import Posting, Requirement, Section
from prepbot.questions.models import Citation, Difficulty, Kind, PlannedQuestion, SetRequest
from prepbot.questions.safety import prompt_text

if TYPE_CHECKING:
    from prepbot.cv.models import FitMap

PLANNED_SECTIONS: tuple[Section, ...] = ("requirement", "responsibility", "nice_to_have")
DEEPER: dict[Difficulty, Difficulty] = {"easy": "medium", "medium": "hard", "hard": "hard"}


def plan_questions(
    posting: Posting,
    request: SetRequest,
    kinds: dict[str, Kind] | None = None,
    competencies: dict[str, str] | None = None,
) -> tuple[list[PlannedQuestion], list[Requirement]]:
    """The set's questions in order, and the items left out: those that only address a model, and those
    ``competencies`` (roles.item_competency) says are not asked about (a location, a work permit)."""
    competencies = competencies or {}
    candidates = [item for section in PLANNED_SECTIONS for item in posting.items(section)]
    texts = {item.id: prompt_text(item.text) for item in candidates}
    asked = {item.id: bool(texts[item.id]) and competencies.get(item.id) != "not_asked" for item in candidates}
    items = [item for item in candidates if asked[item.id]]
    skipped = [item for item in candidates if not asked[item.id]]
    if not items:
        raise PrepbotError(
            f"posting {posting.id} has no requirement, responsibility or nice-to-have items to ask about"
        )
    deeper = [item for item in items if item.section == "requirement"] or items
    order = list(items)
    while len(order) < request.n:
        order += deeper
    order = order[: request.n]
    mix = _difficulties(request, min(len(items), request.n))

    plan: list[PlannedQuestion] = []
    seen: dict[str, PlannedQuestion] = {}
    for position, item in enumerate(order):
        earlier = seen.get(item.id)
        kind = (kinds or {}).get(item.id, "technical") if request.kind == "mixed" else request.kind
        if competencies.get(item.id) and request.kind == "mixed":
            kind = "behavioral"  # a degree, years, a language: the candidate's own background
        planned = PlannedQuestion(
            item=item,
            prompt_text=texts[item.id],
            round=earlier.round + 1 if earlier else 1,
            kind=kind,
            difficulty=DEEPER[earlier.difficulty] if earlier else mix[position],
            competency=competencies.get(item.id),
        )
        seen[item.id] = planned
        plan.append(planned)
    return plan, skipped


def _difficulties(request: SetRequest, first_round: int) -> list[Difficulty]:
    """The difficulty of each question of the first round: the one asked for, or an even mix the seed shuffles."""
    if request.difficulty != "mixed":
        return [request.difficulty] * first_round
    levels: list[Difficulty] = ["easy", "medium", "hard"]
    mix = [levels[i % 3] for i in range(first_round)]
    random.Random(request.seed).shuffle(mix)
    return mix


def writing_order(plan: list[PlannedQuestion]) -> list[int]:
    """The order to write the planned questions in (1-based positions): those with the same kind, section and
    difficulty one after another, so that consecutive prompts share their opening and the local model reads
    only the new item; the set keeps its planned order."""
    groups = [(planned.kind, planned.item.section, planned.difficulty) for planned in plan]
    first_seen = {group: groups.index(group) for group in groups}
    return sorted(range(1, len(plan) + 1), key=lambda p: (first_seen[groups[p - 1]], p))


def with_cv(plan: list[PlannedQuestion], fit_map: FitMap) -> list[PlannedQuestion]:
    """The plan read against a CV's fit map: a first-round question on an item the CV shows asks the candidate
    to prove that CV line (a past case: behavioral); one on a requirement the CV does not show says so."""
    planned_cv = []
    for planned in plan:
        found = fit_map.for_item(planned.item.id)
        if planned.round > 1 or found is None:
            planned_cv.append(planned)
        elif found.evidence and found.verdict in ("covered", "partly"):
            claim = Citation(id=found.evidence[0].claim_id, quote=found.evidence[0].quote)
            planned_cv.append(planned.model_copy(update={"cv_claim": claim, "kind": "behavioral"}))
        elif found.verdict == "not_shown" and planned.item.section == "requirement":
            planned_cv.append(planned.model_copy(update={"cv_gap": True}))
        else:
            planned_cv.append(planned)
    return planned_cv
