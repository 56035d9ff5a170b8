"""Writing and checking a question set for the evals: the run's own LLM and prompt variant, the code checks of
a set and the LLM judge, shared by the questions suite (its JSONL and its labelled form) and the adversarial one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from pydantic import BaseModel, ConfigDict, Field

from prepbot.errors import PrepbotError
from prepbot.evals import metrics
from prepbot.evals.results import Value
from prepbot.evals.stores import EvalStore
from prepbot.evals.suite import Metric, SuiteContext, judge_errors
from prepbot.postings import normalise
from prepbot.text import Language, detect_language, names_term

if TYPE_CHECKING:
    from prepbot.llm import LLM, Generation
    from prepbot.postings import Posting
    from prepbot.questions import QuestionSet


class _SetRun(NamedTuple):
    question_set: QuestionSet
    generations: list[Generation]  # the question prompt's calls (regenerations included), for usage metrics


class _RecordingLLM:
    """An LLM that keeps the generations it returns (one case's usage) and asks for the run's variant where
    the caller names the bare prompt (``question`` -> ``question@v1``)."""

    def __init__(self, llm: LLM, prompts: dict[str, str]):
        self._llm, self._prompts = llm, prompts
        self.settings, self.backend = llm.settings, llm.backend
        self.generations: list[Generation] = []

    def generate(self, prompt_ref: str, variables: dict[str, Any], **kwargs: Any) -> Generation:
        generation = self._llm.generate(self._prompts.get(prompt_ref, prompt_ref), variables, **kwargs)
        self.generations.append(generation)
        return generation


def generate_question_set(context: SuiteContext, posting_id: str, n: int, index: Any = None) -> _SetRun:
    """A set of ``n`` questions for a posting of the eval store (or of ``index``), written by ``generate_set``
    with the run's backend, prompt variant and ``--no-cache``; not saved among the user's sets."""
    from prepbot import questions

    variant = context.prompt(questions.PROMPT)
    recorder = _RecordingLLM(context.llm(), {questions.PROMPT: variant})
    question_set = questions.generate_set(
        context.settings,
        questions.SetRequest(n=n),
        posting_id=posting_id,
        no_cache=context.no_cache,
        llm=cast("LLM", recorder),  # records what the real LLM it wraps generated
        index=index or context.store().index,
        prompt=variant,
        save=False,
    )
    return _SetRun(question_set, recorder.generations)


def prompt_ngrams(context: SuiteContext, ref: str) -> set[tuple[str, ...]]:
    """The word runs of the system text of the prompt version that wrote a set (what a question must not copy)."""
    from prepbot.prompts import load_prompt
    from prepbot.questions.checks import ngrams

    try:
        return ngrams(load_prompt(ref, context.settings).system.render())
    except PrepbotError:
        return set()


def similarity_matrix(texts: list[str], embed: Any) -> list[list[float]]:
    """Pairwise similarity of question texts: 1.0 for the same normalised text, else the embeddings' cosine."""
    if not texts:
        return []
    vectors = embed(texts)
    keys = [normalise(text) for text in texts]
    return [
        [1.0 if keys[i] == keys[j] else float(vectors[i] @ vectors[j]) for j in range(len(texts))]
        for i in range(len(texts))
    ]


class _Checked(NamedTuple):
    values: dict[str, Value]
    questions: list[dict[str, Any]]  # per question: what a reader needs to see why a case failed
    cited: list[str]


def check_set(
    question_set: QuestionSet,
    posting: Posting,
    *,
    language: Language,
    banned_phrases: Sequence[str] = (),
    never_cite_sections: Sequence[str] = (),
    duplicate_cosine: float,
    embed: Any,
    prompt_ngrams: set[tuple[str, ...]] | None = None,
) -> _Checked:
    """Deterministic per-set values: citation validity against the posting's stored items, language, rubric
    size, key terms named, banned phrases, off-limits sections, near-duplicates, generator flags; echoes of
    the item or the prompt, cut questions, bare-category rubric points, the script of every field."""
    from prepbot.questions import key_terms

    items = {item.id: item for item in posting.requirements}
    texts = {item_id: item.text for item_id, item in items.items()}
    rows, cited = [], []
    valid, in_language, rubric_ok, named, banned, allowed, flagged = [], [], [], [], [], [], []
    quality: list[dict[str, Any]] = []
    for question in question_set.questions:
        ids = [citation.id for citation in question.citations]
        cited += ids
        ok = metrics.citation_validity([(c.id, c.quote) for c in question.citations], texts)
        valid.append(ok if ok is not None else 0.0)  # a question citing nothing is not grounded
        written = detect_language(question.text)
        in_language.append(float(written == language))
        rubric_ok.append(float(3 <= len(question.rubric) <= 5))
        first = items.get(ids[0]) if ids else None
        terms = key_terms(first.text, posting.company) if first else []
        names = any(names_term(question.text, term) for term in terms) if terms else None
        named.append(None if names is None else float(names))
        phrases = [p for p in banned_phrases if p.casefold() in question.text.casefold()]
        banned.append(float(bool(phrases)))
        sections = [items[i].section for i in ids if i in items]
        allowed.append(float(not any(section in never_cite_sections for section in sections)))
        flagged.append(float(bool(question.flags)))
        quality.append(_quality(question, first.text if first else "", language, prompt_ngrams))
        rows.append(
            {
                "id": question.id,
                "text": question.text,
                "cites": ids,
                "sections": sections,
                "language": written,
                "rubric": len(question.rubric),
                "terms": terms[:5],
                "names_term": names,
                "banned": phrases,
                "flags": question.flags,
                "rubric_points": question.rubric,
                "exemplar": question.exemplar,
                **quality[-1],
            }
        )
    similarity = similarity_matrix([q.text for q in question_set.questions], embed)
    values: dict[str, Value] = {
        "citation_validity": metrics.mean(valid),
        "language_match": metrics.mean(in_language),
        "rubric_ok": metrics.mean(rubric_ok),
        "key_term_rate": metrics.mean(named),
        "banned_phrase_rate": metrics.mean(banned),
        "allowed_sections": metrics.mean(allowed),
        "flagged_rate": metrics.mean(flagged),
        "duplicate_rate": metrics.duplicate_rate(similarity, duplicate_cosine),
        "echo_rate": metrics.mean(float(q["echo"]) for q in quality),
        "cut_rate": metrics.mean(float(q["cut"]) for q in quality),
        "generic_rubric_rate": metrics.mean(p for q in quality for p in q["point_generic"]),
        "prompt_text_rate": metrics.mean(float(q["copies_prompt"]) for q in quality) if prompt_ngrams else None,
        "script_match": metrics.mean(float(q["in_script"]) for q in quality),
    }
    return _Checked(values, rows, cited)


def _quality(
    question: Any, item: str, language: Language, prompt_ngrams: set[tuple[str, ...]] | None
) -> dict[str, Any]:
    """The checks a question must pass whatever its case: no echo of its item or of the prompt, not cut off,
    rubric points that say something, every field in the set's language and script."""
    from prepbot.questions.checks import copied_phrase, echoes_item, generic_points, is_cut

    generic = generic_points(question.rubric)
    fields = " ".join([question.text, *question.rubric, *question.follow_ups])
    return {
        "echo": bool(item) and echoes_item(question.text, item),
        "cut": is_cut(question.text) or not question.text.rstrip().endswith(("?", "？")),
        "generic_points": generic,
        "point_generic": [float(point in generic) for point in question.rubric],
        "copies_prompt": bool(prompt_ngrams) and copied_phrase(question.text, prompt_ngrams or set()),
        "in_script": detect_language(fields) == language,
    }


def judge_set(context: SuiteContext, question_set: QuestionSet, posting: Posting) -> tuple[dict[str, Value], list[Any]]:
    """LLM-as-judge relevance and specificity (1-5) per question, averaged over the set; a reply the judge
    could not give leaves that question out (and is counted)."""
    texts = {item.id: item.text for item in posting.requirements}
    relevance, specificity, verdicts, errors = [], [], [], 0
    for question in question_set.questions:
        cited = question.citations[0].id if question.citations else None
        variables = {"role": posting.title, "requirement": texts.get(cited or "", ""), "question": question.text}
        try:
            generation = context.judge(variables)
        except PrepbotError as exc:
            errors += 1
            verdicts.append({"error": str(exc)})
            continue
        verdict = generation.output
        if not isinstance(verdict, BaseModel) or not {"relevance", "specificity"} <= set(type(verdict).model_fields):
            raise PrepbotError(f"judge prompt {generation.prompt} must output relevance and specificity")
        scores = verdict.model_dump()
        relevance.append(float(scores["relevance"]))
        specificity.append(float(scores["specificity"]))
        verdicts.append(verdict.model_dump(mode="json"))
    values: dict[str, Value] = {
        "judge_relevance": metrics.mean(relevance),
        "judge_specificity": metrics.mean(specificity),
        "judge_errors": float(errors),
    }
    return values, verdicts


class QuestionsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int | None = Field(default=None, ge=1, le=50)  # questions per set instead of each case's (CI: fewer)
    judge: bool = True  # LLM-as-judge scores (one judge call per question)
    duplicate_cosine: float = Field(default=0.9, gt=0, le=1)  # near-duplicate above this cosine (USE embeddings)


def _posting(context: SuiteContext, file: str, title_contains: str | None) -> tuple[EvalStore, Posting]:
    store = context.store()
    summary = store.posting(file, title_contains)
    posting = store.index.get_posting(summary.id)
    if posting is None:
        raise PrepbotError(f"posting {summary.id} vanished from the eval store")
    return store, posting


QUALITY_METRICS = (
    Metric("echo_rate", "questions repeating a long run of their item's words", higher_is_better=False),
    Metric("cut_rate", "questions cut off mid-sentence (or not ending as a question)", higher_is_better=False),
    Metric("generic_rubric_rate", "rubric points that are a bare category word", higher_is_better=False),
    Metric("prompt_text_rate", "questions copying a run of the prompt's own words", higher_is_better=False),
    Metric("script_match", "questions whose text, rubric and follow-up are all in the set's language and script"),
)


QUESTION_CHECKS = (
    Metric(
        "json_valid",
        "planned questions written: a reply valid against the schema (after one repair, or on"
        " the sampled retry); a set the model wrote nothing valid for counts 0",
    ),
    Metric("citation_validity", "questions whose citations are this posting's items, quoted exactly"),
    Metric("language_match", "questions written in the posting's language (zh-Hant and zh-Hans differ)"),
)


JUDGE_METRICS = (
    Metric("judge_relevance", "LLM judge: how directly a question tests its item, 1-5", gated=False),
    Metric("judge_specificity", "LLM judge: how concrete and discriminating a question is, 1-5", gated=False),
    judge_errors("questions"),
)
