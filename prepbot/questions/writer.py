"""Writing one planned question: one call of the ``question`` prompt on one item, checked in code.

A draft that fails a check, or a reply past repair, is regenerated once with sampling, told what was wrong
where the prompt version takes a note; the better of the two drafts is kept and flagged with what it still
fails. A second unusable reply leaves the question unwritten.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, cast

import numpy as np

from prepbot.errors import InvalidOutput
from prepbot.postings import Posting
from prepbot.prompts import load_prompt
from prepbot.questions.checks import (
    copied_phrase,
    cv_problem,
    draft_problems,
    duplicate_of,
    generic_points,
    is_cut,
    ngrams,
    retry_note,
)
from prepbot.questions.exemplars import Exemplar, ExemplarIndex, load_bank
from prepbot.questions.kinds import probe_label
from prepbot.questions.models import (
    FOLLOW_UP_MAX_CHARS,
    QUESTION_MAX_CHARS,
    TEXT_MAX_CHARS,
    WHY_MAX_CHARS,
    PlannedQuestion,
    Progress,
    Question,
    QuestionCore,
)
from prepbot.questions.roles import item_competency, role_family
from prepbot.questions.terms import key_terms
from prepbot.text import Language, in_script

if TYPE_CHECKING:
    from prepbot.llm import LLM
    from prepbot.retrieval.embedders import Embedder

PROMPT = "question"
RETRY_TEMPERATURE = 0.7
# What no question may be, whichever draft is kept: a draft that still fails one of these after its retry is
# replaced by its exemplar as written (when the exemplar is close enough to the item) or left unwritten.
NEVER_KEPT = ("echoes its item", "echoes the prompt", "cut off")
MIN_RUBRIC_POINTS = 2  # concrete points a rubric keeps after its bare categories are dropped
EXEMPLAR_AS_IS_COSINE = 0.45  # item-to-exemplar cosine from which the exemplar itself may be asked instead
Draft = tuple[QuestionCore, list[str], np.ndarray]  # the draft, the checks it fails, its text's embedding

_SEPARATORS = " ,，、;；:："
_DANGLING = re.compile(
    r"(?:[\s,，、;；:：]+|\b(?:and|or|with|like|such as|including|e\.g\.|etc\.?|the|a|an|of|to|for|in|on|by|from"
    r"|that|which|your|their|its|is|are|was|were|be|as|at)\b)+$",
    re.I,
)


def _whole_question(text: str, most: int = QUESTION_MAX_CHARS) -> str:
    """A question the schema bound cut (the small model strings three questions together and runs into it,
    sometimes drifting into Chinese on the way) ends at its last whole question instead; one whose pattern
    bound forced its question mark ("... CloudSQL, Datapr?") loses its cut word."""
    text = text.strip()
    if len(text) > most and text[-1] in "?？" and not any(mark in text[:-1] for mark in "?？"):
        body = text[:-1].rstrip(_SEPARATORS)
        # at its last clause when that keeps more than half of it ("..., and how would you ... meets the"),
        # else at its last whole word
        clause = max(body.rfind(","), body.rfind("，"), body.rfind("、"))
        cut = clause if clause > len(body) // 2 else max(body.rfind(" "), clause)
        if cut > len(body) // 2:
            body = _DANGLING.sub("", body[:cut])
        return body.rstrip(_SEPARATORS) + text[-1]
    last = max(text.rfind("?"), text.rfind("？"))
    return text[: last + 1] if len(text) >= TEXT_MAX_CHARS - 1 and last > 0 else text


def _tidy(why: str) -> str:
    """A "why" the schema bound cut mid-word ends at its last whole word instead."""
    why = " ".join(why.split())
    if len(why) < WHY_MAX_CHARS - 1 or " " not in why:
        return why
    return why.rsplit(" ", 1)[0].rstrip(",;:") + "…"


def prompt_variables(
    posting: Posting,
    planned: PlannedQuestion,
    language: Language,
    retry_note: str = "",
    example: Exemplar | None = None,
    family: str | None = None,
) -> dict[str, str]:
    """Every input a ``question`` prompt version may take for one planned question (``retry_note`` is new in
    v4; ``Prompt.declared`` keeps a version's own). The role comes first in the user message and is the same
    for the whole set, so the cached prompt prefix extends past the system message."""
    return {
        "role": posting.title,
        "requirement": planned.prompt_text,
        "section": planned.item.section,
        "language": language,
        "kind": planned.kind,
        "difficulty": planned.difficulty,
        "retry_note": retry_note,
        "example": example_text(example) if example else "",  # question@v5 on
        "family": family or "",
        "cv_line": planned.cv_claim.quote if planned.cv_claim else "",  # question@v6 on
        "cv_gap": "yes" if planned.cv_gap else "",
    }


def example_text(example: Exemplar) -> str:
    """An exemplar as the prompt shows it: its question, rubric and follow-up."""
    rubric = "; ".join(example.rubric)
    return f"Question: {example.question}\nRubric: {rubric}\nFollow-up: {example.follow_up}"


class QuestionWriter:
    """Writes one planned question at a time, remembering earlier ones for the duplicate check."""

    def __init__(
        self,
        llm: LLM,
        embedder: Embedder,
        posting: Posting,
        language: Language,
        report: Progress,
        no_cache: bool,
        prompt: str = PROMPT,
    ):
        self.llm, self.embedder, self.posting, self.language = llm, embedder, posting, language
        self.report, self.no_cache, self.prompt = report, no_cache, prompt
        self.seed = 0  # the set request's seed (x1000); a retry samples with seed + position
        self.vectors: list[np.ndarray] = []
        self.prompt_ref = ""
        self.last_error = ""  # why the last question the model could not write failed
        self.spec = load_prompt(prompt, llm.settings)
        self.prompt_ngrams = ngrams(self.spec.system.render())
        self.family = role_family(posting.title)
        # The exemplar bank, where this prompt version adapts exemplars (question@v5 on); one per question,
        # none used twice in a set.
        self.exemplars = (
            ExemplarIndex(load_bank(llm.settings), embedder) if "example" in self.spec.spec.inputs else None
        )
        self.used_exemplars: set[str] = set()
        self.example_cosine = 0.0  # the item's cosine to the exemplar chosen for it
        self.example_competency: str | None = None  # the item's competency when it is not a skill

    def write(self, position: int, planned: PlannedQuestion) -> Question | None:
        """The question for one planned item; None when the model's reply stayed invalid (past repair or cut off)
        on the first try and on a sampled retry: the set goes on without it and names the item as unwritten."""
        terms = key_terms(planned.prompt_text, self.posting.company)
        self.example = self._exemplar(planned, terms)
        try:
            first: Draft | None = self.attempt(planned, terms, temperature=None)
        except InvalidOutput:
            first = None  # a reply past repair: one sampled retry
        if first is None or first[1]:
            # Sampling gives another draft, told what was wrong with the first where the prompt takes a note
            # (question@v4); the better of the two is kept.
            note = retry_note(first[1], self.language) if first else ""
            try:
                retry = self.attempt(
                    planned, terms, temperature=RETRY_TEMPERATURE, seed=self.seed + position, note=note
                )
            except InvalidOutput as exc:
                if first is None:
                    self.last_error = str(exc)
                    self.report("question", 1)
                    return None
            else:
                first = retry if first is None or len(retry[1]) <= len(first[1]) else first
        assert first is not None
        draft, problems, vector = first
        if failed := [p for p in problems if p in NEVER_KEPT]:
            replaced = self._exemplar_as_is(planned, failed)
            if replaced is None:
                self.last_error = f"both drafts failed: {', '.join(failed)}"
                self.report("question", 1)
                return None
            draft, problems, vector = replaced
        self.vectors.append(vector)
        why = getattr(draft, "why", None)  # question@v1-v3 wrote it; since v4 it is made in code
        why = _tidy(why) if why else probe_label(planned.item, planned.kind, terms, self.language, self.embedder)
        self.report("question", 1)
        return Question(
            id=f"q{position}",
            text=in_script(draft.text, self.language),  # trimmed to its last whole question in attempt()
            kind=planned.kind,
            difficulty=planned.difficulty,
            citations=[],
            rubric=[in_script(point.strip(), self.language) for point in draft.rubric],
            follow_ups=[
                in_script(_whole_question(follow_up, FOLLOW_UP_MAX_CHARS), self.language)
                for follow_up in draft.follow_ups
            ],
            why=why,
            flags=problems,
            exemplar=self.example.id if self.example else None,
            cv_claim=planned.cv_claim,
            cv_gap=planned.cv_gap,
        )

    def _exemplar_as_is(self, planned: PlannedQuestion, failed: list[str]) -> Draft | None:
        """The exemplar chosen for the item, asked as written, in place of drafts that failed a check no
        question may fail; None where there is none, it is not close enough to the item (or, for an item that
        is not a skill, of its competency), or it is itself unfit or a near-duplicate."""
        example = self.example
        if example is None:
            return None
        competency = self.example_competency
        close = self.example_cosine >= EXEMPLAR_AS_IS_COSINE or (
            competency is not None and example.competency == competency
        )
        draft = QuestionCore(text=example.question, rubric=list(example.rubric), follow_ups=[example.follow_up])
        vector = self.embedder.embed([draft.text])[0]
        if not close or duplicate_of(vector, self.vectors) or is_cut(draft.text):
            return None
        return draft, [f"exemplar {example.id} asked as written: the drafts {'; '.join(failed)}"], vector

    def _exemplar(self, planned: PlannedQuestion, terms: list[str]) -> Exemplar | None:
        """The bank's closest exemplar for the item in the set's language, not used yet in this set."""
        if self.exemplars is None or planned.cv_claim is not None:
            return None  # a question on the candidate's own CV line takes its shape from that line
        vector = self.embedder.embed([planned.prompt_text])[0]
        competency = planned.competency or item_competency(planned.item, terms)
        found = self.exemplars.closest(
            vector, language=self.language, family=self.family, competency=competency, exclude=self.used_exemplars
        )
        self.example_cosine = self.exemplars.cosine(vector, found[0]) if found else 0.0
        self.example_competency = competency
        if found:
            self.used_exemplars.add(found[0].id)
        return found[0] if found else None

    def attempt(
        self,
        planned: PlannedQuestion,
        terms: list[str],
        temperature: float | None,
        seed: int | None = None,
        note: str = "",
    ) -> Draft:
        # A retry samples with a seed made from the request's seed and the position: the same request gives
        # the same set, so a re-run (an eval, the same `questions` call again) is answered from the cache.
        variables = self.spec.declared(
            prompt_variables(self.posting, planned, self.language, note, self.example, self.family)
        )
        generation = self.llm.generate(
            self.prompt,
            variables,
            temperature=temperature,
            stream=lambda piece: self.report("token", 1),
            no_cache=self.no_cache,
            seed=seed,
        )
        self.prompt_ref = generation.prompt
        draft = cast(QuestionCore, generation.output)
        # checked as it will be asked: a draft the schema bound cut is first trimmed to its last whole question
        draft = draft.model_copy(update={"text": _whole_question(draft.text)})
        # a rubric point that names a bare category is dropped where concrete ones remain: no call for that
        generic = generic_points(draft.rubric)
        if generic and len(draft.rubric) - len(generic) >= MIN_RUBRIC_POINTS:
            draft = draft.model_copy(update={"rubric": [p for p in draft.rubric if p not in generic]})
        problems = draft_problems(draft, terms, self.language, item=planned.prompt_text)
        if copied_phrase(draft.text, self.prompt_ngrams):
            problems.append("echoes the prompt")
        if cv := cv_problem(draft.text, planned.cv_claim.quote if planned.cv_claim else None, planned.cv_gap):
            problems.append(cv)
        vector = self.embedder.embed([draft.text])[0]
        clash = duplicate_of(vector, self.vectors)
        if clash:
            problems.append(f"near-duplicate of q{clash[0] + 1} (cosine {clash[1]:.2f})")
        return draft, problems, vector
