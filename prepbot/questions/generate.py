"""A question set for the posting a role or ID names: planned, written, cited, checked and saved.

Questions are written grouped by kind, section and difficulty (``plan.writing_order``), so consecutive
prompts share their opening; the set keeps its planned order. Each question's citation is its item's ID and
exact stored text, read back from the index: the model never writes a citation, so it cannot invent one.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from prepbot.config import Settings
from prepbot.errors import PrepbotError
from prepbot.postings import Posting, Requirement
from prepbot.questions.checks import check_citations, check_cv_claims
from prepbot.questions.find import find_posting
from prepbot.questions.kinds import item_kinds
from prepbot.questions.models import Citation, PlannedQuestion, Progress, Question, QuestionSet, SetRequest
from prepbot.questions.plan import PLANNED_SECTIONS, plan_questions, with_cv, writing_order
from prepbot.questions.roles import item_competency
from prepbot.questions.store import save_set
from prepbot.questions.terms import key_terms
from prepbot.questions.writer import PROMPT, QuestionWriter
from prepbot.text import Language

if TYPE_CHECKING:
    from prepbot.llm import LLM
    from prepbot.retrieval.index import RequirementIndex


def generate_set(
    settings: Settings,
    request: SetRequest,
    *,
    role: str | None = None,
    posting_id: str | None = None,
    progress: Progress | None = None,
    no_cache: bool = False,
    llm: LLM | None = None,
    index: RequirementIndex | None = None,
    prompt: str = PROMPT,
    save: bool = True,
) -> QuestionSet:
    """Plan, write, check and (unless ``save`` is False) save a question set for the posting a role or ID names.
    ``llm``, ``index`` and ``prompt`` (a version such as ``question@v1``) default to the settings' own."""
    from prepbot.llm import get_llm
    from prepbot.retrieval.index import RequirementIndex

    index = index or RequirementIndex(settings)
    posting = find_posting(index, role=role, posting_id=posting_id)
    plan, skipped = _plan(settings, index, posting, request, load_model=llm is None)
    llm = llm or get_llm(settings)
    if request.cv_id is not None:
        from prepbot.cv.fit import current_fit_map

        plan = with_cv(plan, current_fit_map(settings, index, llm, posting, request.cv_id, no_cache))
    language: Language = posting.language if request.lang == "auto" else request.lang
    report = progress or (lambda event, amount: None)
    report("total", len(plan))

    writer = QuestionWriter(llm, index.embedder, posting, language, report, no_cache, prompt)
    writer.seed = request.seed * 1000
    written = {position: writer.write(position, plan[position - 1]) for position in writing_order(plan)}
    kept = [(question, plan[p - 1]) for p in range(1, len(plan) + 1) if (question := written[p]) is not None]
    unwritten = [plan[p - 1].item.id for p in range(1, len(plan) + 1) if written[p] is None]
    if not kept:
        raise PrepbotError(f"the model wrote no valid question for any of {len(plan)} items ({writer.last_error})")
    question_set = QuestionSet(
        set_id=f"qs-{secrets.token_hex(4)}",
        posting_id=posting.id,
        role=posting.title,
        backend=writer.llm.backend.name,
        model=writer.llm.backend.model,
        language=language,
        prompt=writer.prompt_ref,
        created_at=datetime.now(timezone.utc),
        cv_id=request.cv_id,
        skipped=[item.id for item in skipped],
        unwritten=unwritten,
        questions=_cited(kept, index),
    )
    problems = check_citations(question_set, index) + check_cv_claims(question_set, index)
    if problems:  # cannot happen unless the store changed under us; never save a set with a bad citation
        raise PrepbotError("; ".join(problems))
    if save:
        save_set(question_set, settings)
    return question_set


def _plan(
    settings: Settings, index: RequirementIndex, posting: Posting, request: SetRequest, load_model: bool
) -> tuple[list[PlannedQuestion], list[Requirement]]:
    """The set's plan and the items it skips; the settings' model loads meanwhile when ``load_model``."""
    from prepbot.llm import load_in_background

    loading = load_in_background(settings) if load_model else None  # while the items are embedded and planned
    try:
        kinds = None
        planned_items = [item for item in posting.requirements if item.section in PLANNED_SECTIONS]
        if request.kind == "mixed":
            kinds = item_kinds(planned_items, index.embedder)
        competencies = {
            item.id: competency
            for item in planned_items
            if (competency := item_competency(item, key_terms(item.text, posting.company)))
        }
        return plan_questions(posting, request, kinds, competencies)
    finally:
        if loading:
            loading.join()


def _cited(kept: list[tuple[Question, PlannedQuestion]], index: RequirementIndex) -> list[Question]:
    """The written questions numbered q1, q2, ... in their planned order, each citing its item as stored."""
    questions = [question.model_copy(update={"id": f"q{n}"}) for n, (question, _) in enumerate(kept, start=1)]
    stored = index.get_requirements([planned.item.id for _, planned in kept])
    for question, (_, planned) in zip(questions, kept):
        item = stored.get(planned.item.id)
        if item is None:
            raise PrepbotError(f"item {planned.item.id} vanished from the index while the set was written")
        question.citations = [Citation(id=item.id, quote=item.text)]
    return questions
