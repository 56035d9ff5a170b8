"""The questions suite's labelled form: a set for each real posting of a labels folder (../shared/postings)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel

from prepbot.errors import PrepbotError
from prepbot.evals import labels
from prepbot.evals.results import CaseResult
from prepbot.evals.suite import (
    LLM_USAGE_METRICS,
    LabelledForm,
    Metric,
    SuiteContext,
    percentile_of,
    usage_values,
)
from prepbot.evals.suites.question_sets import (
    JUDGE_METRICS,
    QUALITY_METRICS,
    QUESTION_CHECKS,
    QuestionsOptions,
    check_set,
    generate_question_set,
    judge_set,
    prompt_ngrams,
)
from prepbot.text import Language

LABEL_LANGUAGES: dict[str, Language] = {"en": "en", "zh-CN": "zh-Hans", "zh-TW": "zh-Hant", "ja": "ja"}
LABELLED_QUESTIONS_N = 5  # questions per posting unless the options say


class LabelledQuestionsCase(BaseModel):
    path: Path
    file: str
    posting: labels.LabelledPosting
    posting_number: int

    @property
    def id(self) -> str:
        return f"{self.file}#{self.posting_number}"


def load_labelled_questions(folder: Path) -> list[LabelledQuestionsCase]:
    return [
        LabelledQuestionsCase(path=folder / entry.file, file=entry.file, posting=posting, posting_number=number)
        for entry in labels.load_labels(folder)
        for number, posting in enumerate(entry.postings, 1)
    ]


def run_labelled_questions(case: BaseModel, context: SuiteContext) -> CaseResult:
    """A set for one labelled real posting, as read by the parser: the code checks (echo, cut, generic rubric,
    prompt text, script) and the judge's relevance; no coverage targets (the labels give none)."""
    assert isinstance(case, LabelledQuestionsCase)
    options = cast(QuestionsOptions, context.options)
    language = LABEL_LANGUAGES.get(case.posting.language, "en")
    slices = {"lang": case.posting.language}
    store = context.labelled_store()
    posting = store.read(case.path).labelled(case.posting)
    if posting is None:
        error = f"the labelled posting {case.posting.title!r} was not found in {case.file}"
        return CaseResult(id=case.id, passed=False, values={"json_valid": 0.0}, error=error, slices=slices)
    n = options.n or LABELLED_QUESTIONS_N
    started = time.monotonic()
    try:
        generated = generate_question_set(context, posting.id, n, index=store.index)
    except PrepbotError as exc:
        return CaseResult(id=case.id, passed=False, values={"json_valid": 0.0}, error=str(exc), slices=slices)
    seconds = time.monotonic() - started  # the set alone: the judge's calls come after
    question_set = generated.question_set
    checked = check_set(
        question_set,
        posting,
        language=language,
        duplicate_cosine=options.duplicate_cosine,
        embed=store.index.embedder.embed,
        prompt_ngrams=prompt_ngrams(context, question_set.prompt),
    )
    values = dict(checked.values)
    values["json_valid"] = len(question_set.questions) / max(
        len(question_set.questions) + len(question_set.unwritten), 1
    )
    verdicts: list[Any] = []
    if options.judge:
        judged, verdicts = judge_set(context, question_set, posting)
        values.update(judged)
    values.update(usage_values(generated.generations))
    values["set_seconds"] = seconds
    for row, verdict in zip(checked.questions, verdicts):
        row["judge"] = verdict
    bad = [k for k in ("echo_rate", "cut_rate", "prompt_text_rate") if values.get(k)]
    passed = not bad and values["script_match"] == 1.0 and values["citation_validity"] == 1.0
    got = {"failed": bad, "prompt": context.prompt("question"), "title": posting.title, "questions": checked.questions}
    return CaseResult(
        id=case.id, passed=passed, values=values, expected={"language": language, "n": n}, got=got, slices=slices
    )


LABELLED_QUESTIONS = LabelledForm(
    description="a question set for each labelled real posting -> echo, cut, generic rubric, prompt text, script, judge",
    load=load_labelled_questions,
    case_model=LabelledQuestionsCase,
    run=run_labelled_questions,
    metrics=(
        *QUESTION_CHECKS,
        *QUALITY_METRICS,
        Metric("duplicate_rate", "questions repeating an earlier one of the set", higher_is_better=False),
        Metric(
            "set_seconds",
            "seconds to write one set (median)",
            higher_is_better=False,
            gated=False,
            aggregate=percentile_of("set_seconds", 50),
        ),
        *JUDGE_METRICS,
        *LLM_USAGE_METRICS,
    ),
    accepts_jsonl=True,
)
