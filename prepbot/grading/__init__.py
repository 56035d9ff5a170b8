"""Grading one answer against the posting item its question tests: ``grade_answer(...)``.

- ``grade``: two calls in one conversation. ``grade`` asks for the score alone (a few tokens), so the score is
  known as soon as the answer is read; ``feedback`` then continues the same conversation and streams the
  rubric verdicts, strengths, gaps, a sketch of a stronger answer and a follow-up question (``feedback``).
  ``prewarm`` evaluates the grade prompt up to the answer while the candidate is still typing it.
- ``checks``: grade@v3 asks the score and then yes/no checks of the answer (does it address the question,
  does it say how, does it state something false), one token each, sharing the prefix up to the answer;
  each reply is read from the model's probabilities. ``relevance``: the embedder's cosines of the answer with
  the question, its item and the posting's other items. ``combination``: the score as a linear model of
  those signals, fitted on labelled answers (``choose``, held out by posting) and kept as data.
- ``calibration``: the model writes a digit (temperature 0); its probabilities over 1-5 give an expected
  grade, and where a grader (prompt version x backend x model) has been calibrated on the grading eval, the
  score is that expected grade stretched away from the middle. The calibrations are data
  (``calibration.json``, and the user's own, written by ``record``). ``model_score`` keeps the digit.
- ``answers``: an answer too short to show anything (empty, or fewer than three words) scores 1 without a
  model call; everything the candidate or the posting wrote is data between tags, and an answer that asks
  for a grade gets none for it (see the adversarial eval).
- ``citations``: chosen in code, read back from the store: a grade can cite only an existing item, exactly.
- ``models``: the schemas; ``stream``: the streamed replies, score first.
"""

from __future__ import annotations

from prepbot.grading.answers import MAX_ANSWER_CHARS, MIN_ANSWER_WORDS, check_answer, too_short
from prepbot.grading.calibration import (
    Calibration,
    calibrated_score,
    calibrations,
    expected_score,
    record,
    score_stretch,
    stretch_for,
)
from prepbot.grading.checks import Reading, read_answer, yes_probability
from prepbot.grading.citations import MAX_TOUCHED, TOUCH_MIN_COSINE, cite, tested_item, touched_items
from prepbot.grading.combination import Choice, Combination, choose
from prepbot.grading.feedback import FEEDBACK_PROMPT, as_question, feedback_variables, whole_sentences
from prepbot.grading.grade import ANSWER_MARK, PROMPT, SCORE_TOP_LOGPROBS, grade_answer, prewarm, score_variables
from prepbot.grading.models import (
    BETTER_ANSWER_MAX,
    FOLLOW_UP_MAX,
    SHORT_MAX,
    Grade,
    GradeBody,
    GradeCitation,
    GradeDraft,
    GradeFeedback,
    GradeListener,
    GradeScore,
    QuotedFeedback,
    RubricMark,
    Score,
)

__all__ = [
    "ANSWER_MARK",
    "BETTER_ANSWER_MAX",
    "FEEDBACK_PROMPT",
    "FOLLOW_UP_MAX",
    "MAX_ANSWER_CHARS",
    "MAX_TOUCHED",
    "MIN_ANSWER_WORDS",
    "PROMPT",
    "SCORE_TOP_LOGPROBS",
    "SHORT_MAX",
    "TOUCH_MIN_COSINE",
    "Calibration",
    "Choice",
    "Combination",
    "Grade",
    "GradeBody",
    "GradeCitation",
    "GradeDraft",
    "GradeFeedback",
    "GradeListener",
    "GradeScore",
    "QuotedFeedback",
    "Reading",
    "RubricMark",
    "Score",
    "as_question",
    "calibrated_score",
    "calibrations",
    "check_answer",
    "choose",
    "cite",
    "expected_score",
    "feedback_variables",
    "grade_answer",
    "prewarm",
    "read_answer",
    "record",
    "score_stretch",
    "score_variables",
    "stretch_for",
    "tested_item",
    "too_short",
    "touched_items",
    "whole_sentences",
    "yes_probability",
]
