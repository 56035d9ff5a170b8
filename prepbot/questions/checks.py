"""Checks in code: on each draft the model writes, and on a finished set's citations against the store.

A draft must name a concrete term of its item, avoid stock generic questions, be in the asked language, not
echo the prompt, and be no near-duplicate of an earlier question (embedding cosine). A set's citations must
be this posting's items, quoted exactly.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from prepbot.questions.models import QuestionCore, QuestionSet
from prepbot.text import LANGUAGE_NAMES, Language, detect_language, names_term

if TYPE_CHECKING:
    from prepbot.retrieval.index import RequirementIndex

# Stock questions that fit any posting and test nothing (the evals ban the English ones too).
_GENERIC = re.compile(
    r"do you have (?:any )?experience|describe your experience|tell me about yourself|what is the requirement"
    r"|explain this requirement|你有.{0,10}經驗嗎|你有.{0,10}经验吗|経験はありますか",
    re.IGNORECASE,
)
# Cosine between two question texts (unit-length embeddings) above which they ask the same thing: rephrasings
# of one question score above it, two different questions on one tool well below.
DUPLICATE_COSINE = 0.9
COPY_NGRAM = 6  # words in a row shared with the system prompt that make a draft an echo of it


def draft_problems(draft: QuestionCore, terms: list[str], language: Language) -> list[str]:
    """What makes a draft unfit, one short phrase each; [] when it is fine."""
    problems = []
    if _GENERIC.search(draft.text):
        problems.append("generic question")
    if terms and not any(names_term(draft.text, term) for term in terms):
        problems.append(f"names none of: {', '.join(terms[:5])}")
    written = detect_language(" ".join([draft.text, *draft.rubric]))
    if written != language and not (written.startswith("zh") and language.startswith("zh")):
        problems.append(f"written in {written}, not {language}")
    return problems


def retry_note(problems: list[str], language: Language) -> str:
    """What was wrong with a first draft (the phrases of ``draft_problems`` and the writer's own checks), for
    the prompt of its retry, in words the model can act on."""
    said = []
    for problem in problems:
        if problem.startswith("written in "):
            said.append(f"it was not written in {LANGUAGE_NAMES.get(language, language)}")
        elif problem.startswith("names none of: "):
            said.append(f"it named none of {problem.removeprefix('names none of: ')}")
        elif problem.startswith("near-duplicate"):
            said.append("it repeated an earlier question")
        elif problem == "echoes the prompt":
            said.append("it copied a line of these instructions")
        else:
            said.append(f"it was a {problem}")
    return "; ".join(said)


def ngrams(text: str) -> set[tuple[str, ...]]:
    """The text's runs of COPY_NGRAM words (lower case, letters and digits)."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i : i + COPY_NGRAM]) for i in range(len(words) - COPY_NGRAM + 1)}


def copied_phrase(text: str, prompt_ngrams: set[tuple[str, ...]]) -> bool:
    """Whether the text shares a run of words with the prompt: a small model sometimes answers with a line of
    its prompt (a rule, an example) instead of a question."""
    return not ngrams(text).isdisjoint(prompt_ngrams)


def duplicate_of(vector: np.ndarray, earlier: list[np.ndarray]) -> tuple[int, float] | None:
    """The earlier question (index, cosine) this one nearly repeats, if any; vectors are unit length."""
    if not earlier:
        return None
    cosines = np.stack(earlier) @ vector
    best = int(cosines.argmax())
    return (best, float(cosines[best])) if cosines[best] > DUPLICATE_COSINE else None


def check_citations(question_set: QuestionSet, index: RequirementIndex) -> list[str]:
    """Problems with the set's citations against the store: unknown IDs, items of another posting, quotes
    that differ from the stored text by even a character, questions citing nothing. [] when all hold."""
    cited = [c.id for q in question_set.questions for c in q.citations]
    stored = index.get_requirements(cited)
    problems = []
    for question in question_set.questions:
        if not question.citations:
            problems.append(f"{question.id} cites no requirement")
        for citation in question.citations:
            item = stored.get(citation.id)
            if item is None:
                problems.append(f"{question.id} cites unknown item {citation.id!r}")
            elif item.posting_id != question_set.posting_id:
                problems.append(f"{question.id} cites {citation.id!r} of another posting")
            elif item.text != citation.quote:
                problems.append(f"{question.id} misquotes {citation.id!r}")
    return problems
