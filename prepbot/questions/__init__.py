"""Interview question sets drawn from a posting's requirement items.

- ``models``: the schemas (what the ``question`` prompt writes, a set, a request).
- ``plan``: which items get questions, of what kind and difficulty, in what order: code, not the model.
- ``kinds``: an item's natural kind of question, and what a question on it probes, by embedding anchors.
- ``safety``: posting text is data; sentences that address a model are dropped from what the prompt sees.
- ``terms``: the concrete names in an item a specific question would use.
- ``writer``: one question per call of the ``question`` prompt, checked in code (``checks``) and regenerated
  once with sampling when it fails.
- ``generate``: a whole set: planned, written, cited from the store (the model never writes a citation),
  checked and saved.
- ``find``: the posting a role names. ``store``: saved sets (all the package's SQL). ``exports``: sets as files.
"""

from __future__ import annotations

from prepbot.questions.checks import (
    DUPLICATE_COSINE,
    check_citations,
    copied_phrase,
    draft_problems,
    duplicate_of,
    retry_note,
)
from prepbot.questions.find import find_posting, match_role
from prepbot.questions.generate import generate_set
from prepbot.questions.kinds import KIND_ANCHORS, item_kinds, probe_label
from prepbot.questions.models import (
    MAX_QUESTIONS,
    Citation,
    Difficulty,
    DifficultyChoice,
    Kind,
    KindChoice,
    PlannedQuestion,
    Progress,
    Question,
    QuestionCore,
    QuestionDraft,
    QuestionSet,
    SetRequest,
    SetSummary,
)
from prepbot.questions.plan import DEEPER, PLANNED_SECTIONS, plan_questions, with_cv, writing_order
from prepbot.questions.safety import prompt_text
from prepbot.questions.store import list_sets, load_set, save_set
from prepbot.questions.terms import key_terms, term_phrases
from prepbot.questions.writer import PROMPT, RETRY_TEMPERATURE, QuestionWriter, prompt_variables

__all__ = [
    "DEEPER",
    "DUPLICATE_COSINE",
    "KIND_ANCHORS",
    "MAX_QUESTIONS",
    "PLANNED_SECTIONS",
    "PROMPT",
    "RETRY_TEMPERATURE",
    "Citation",
    "Difficulty",
    "DifficultyChoice",
    "Kind",
    "KindChoice",
    "PlannedQuestion",
    "Progress",
    "Question",
    "QuestionCore",
    "QuestionDraft",
    "QuestionSet",
    "QuestionWriter",
    "SetRequest",
    "SetSummary",
    "check_citations",
    "copied_phrase",
    "draft_problems",
    "duplicate_of",
    "find_posting",
    "generate_set",
    "item_kinds",
    "key_terms",
    "list_sets",
    "load_set",
    "match_role",
    "plan_questions",
    "probe_label",
    "prompt_text",
    "prompt_variables",
    "retry_note",
    "save_set",
    "term_phrases",
    "with_cv",
    "writing_order",
]
