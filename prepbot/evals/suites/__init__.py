"""The suites of ``prepbot eval``, one module each, registered here and only here (importing this package
registers them all; the framework itself imports no suite). evals/README.md describes the datasets.

- ``parsing``: posting files -> postings, against expected fields and counts, or the hand labels of real
  postings.
- ``retrieval``: a query or a graded answer -> the requirement items it is about.
- ``questions``: a question set per posting through ``prepbot.questions.generate_set`` with the run's LLM and
  prompt variant, checked in code (citations against the eval store, requirement coverage and order,
  language, rubric size, key-term naming, near-duplicates, banned phrases), plus LLM-as-judge scores (the
  ``judge`` prompt, 1-5 relevance and specificity per question) on the config's judge backend.
- ``grading``: ``prepbot.grading.grade_answer`` on labelled answers: Spearman, MAE and within-1 accuracy
  against the labels, unscored answers, time to the score, plus LLM-as-judge scores of the feedback (the
  ``judge_feedback`` prompt, 1-5 faithfulness to the answer and usefulness).
- ``fit`` and ``cv_questions``: a CV against a posting (``prepbot.cv.fit``) on hand-labelled verdicts, and
  CV-aware question sets (each question on a requirement proves a CV line or names the gap; a judge says
  whether it asks about the candidate's own experience).
- ``adversarial``: injected postings must still give ordinary questions citing only real items; injected
  requirements and answers must not move the grade past what the content earns.

``generate_set`` and ``grade_answer`` are imported when a case runs, so a missing or broken module fails
those cases, not every ``prepbot eval``.
"""

from prepbot.evals.suites import adversarial, fit, grading, parsing, questions, retrieval
from prepbot.evals.suites.judging import FeedbackJudgement, QuestionJudgement  # the judge prompts' outputs
from prepbot.evals.suites.questions import _RecordingLLM, check_set, similarity_matrix

__all__ = [
    "FeedbackJudgement",
    "QuestionJudgement",
    "_RecordingLLM",
    "adversarial",
    "check_set",
    "fit",
    "grading",
    "parsing",
    "questions",
    "retrieval",
    "similarity_matrix",
]
