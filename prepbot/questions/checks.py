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


# Rubric points that are a bare category, not something an answer says (the grader checks answers against
# them). A point is generic when, its filler words gone, all that is left is one of these.
_CATEGORY_WORDS = {
    "communication", "communications", "leadership", "teamwork", "collaboration", "scalability", "reliability",
    "performance", "security", "system design", "design", "trade off", "trade offs", "tradeoffs", "tradeoff",
    "problem solving", "interpersonal", "interpersonal skills", "soft skills", "experience", "knowledge",
    "technical knowledge", "technical skills", "critical thinking", "creativity", "ownership", "attention to detail",
    "time management", "adaptability", "flexibility", "motivation", "passion", "clarity", "efficiency", "quality",
    "best practices", "stakeholder management", "project management", "analytical skills", "analysis",
    "溝通", "沟通", "領導", "领导", "團隊合作", "团队合作", "協作", "协作", "擴展性", "扩展性", "可擴展性", "可扩展性",
    "系統設計", "系统设计", "權衡", "权衡", "解決問題", "解决问题", "經驗", "经验", "知識", "知识", "效率", "品質", "质量",
    "コミュニケーション", "リーダーシップ", "チームワーク", "協調性", "拡張性", "スケーラビリティ", "システム設計",
    "トレードオフ", "問題解決", "経験", "効率",
}  # fmt: skip
_FILLER = re.compile(
    r"\b(skills?|abilit(?:y|ies)|strong|good|clear|effective|excellent|demonstrates?|shows?|the|of|and|a|an)\b"
    r"|能力|技巧|良好的?|良好|優秀的?|优秀的?|清楚的?|展現|展现|力$|スキル|能力|力",
    re.I,
)
# A question cut at its bound ends on a word that cannot end one ("... the product was not meeting the?").
_CUT_END = re.compile(
    r"(?:\b(?:the|a|an|and|or|of|to|with|for|in|on|by|from|that|which|your|their|its|is|are|was|were|be|as|at)"
    r"|[和與与或及、，,]|[をにがはでと])\s*[?？]$",
    re.I,
)
ECHO_SHARE = 0.6  # share of an item's words a question may repeat in one run before it is an echo of the item
ECHO_MIN_RUN = 5  # ... and never fewer words than this in the run (short items share their tool's name)


def generic_points(rubric: list[str]) -> list[str]:
    """The rubric points that are a bare category ("leadership", "溝通能力") rather than something said."""
    generic = []
    for point in rubric:
        core = " ".join(_FILLER.sub(" ", re.sub(r"[-_/、,，.。:：]", " ", point.lower())).split())
        if not core or core in _CATEGORY_WORDS:
            generic.append(point)
    return generic


def is_cut(text: str) -> bool:
    """Whether a question ends mid-sentence at its length bound."""
    return bool(_CUT_END.search(text.strip()))


def _tokens(text: str) -> list[str]:
    """Words of Latin script and single CJK characters, lower case: the units an echo is counted in."""
    return re.findall(r"[a-z0-9]+|[\u3040-\u30ff\u3400-\u9fff]", text.lower())


def echoes_item(question: str, item: str) -> bool:
    """Whether the question repeats a long run of its item's words ("How would you manage multiple projects
    simultaneously and work effectively in a fast-paced environment?" for that very item)."""
    from difflib import SequenceMatcher

    q, i = _tokens(question), _tokens(item)
    if len(i) < ECHO_MIN_RUN:
        return False
    run = SequenceMatcher(None, q, i, autojunk=False).find_longest_match(0, len(q), 0, len(i)).size
    return run >= max(ECHO_MIN_RUN, ECHO_SHARE * len(i))


def draft_problems(draft: QuestionCore, terms: list[str], language: Language, item: str = "") -> list[str]:
    """What makes a draft unfit, one short phrase each; [] when it is fine."""
    problems = []
    if _GENERIC.search(draft.text):
        problems.append("generic question")
    if item and echoes_item(draft.text, item):
        problems.append("echoes its item")
    if is_cut(draft.text):
        problems.append("cut off")
    if generic := generic_points(draft.rubric):
        problems.append(f"generic rubric point: {generic[0]}")
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
        elif problem == "echoes its item":
            said.append("it repeated the item's sentence instead of asking about a situation")
        elif problem == "does not quote the CV line":
            said.append("it did not begin with what the CV line says")
        elif problem == "does not say the CV is silent":
            said.append("it did not say that the CV does not mention this")
        elif problem == "cut off":
            said.append("it was cut off: write a shorter question")
        elif problem.startswith("generic rubric point: "):
            said.append(f"the rubric point {problem.split(': ', 1)[1]!r} named a category, not what an answer says")
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


def check_cv_claims(question_set: QuestionSet, index: RequirementIndex) -> list[str]:
    """Problems with the CV lines the set quotes: a claim that is not the set's CV's, or not its exact text."""
    quoted = [q.cv_claim.id for q in question_set.questions if q.cv_claim]
    if not quoted:
        return []
    from prepbot.cv.store import CVStore

    stored = CVStore(index).get_claims(quoted)
    problems = []
    for question in question_set.questions:
        claim = question.cv_claim
        if claim is None:
            continue
        found = stored.get(claim.id)
        if found is None or found.cv_id != question_set.cv_id:
            problems.append(f"{question.id} quotes unknown CV line {claim.id!r}")
        elif found.text != claim.quote:
            problems.append(f"{question.id} misquotes CV line {claim.id!r}")
    return problems


# A question that says the CV is silent names it: the CV in the four languages' words for it.
_CV_WORDS = re.compile(r"\b(?:cv|résumé|resume)\b|简历|履历|履歷|職務経歴書|履歴書|経歴", re.IGNORECASE)
_LATIN_UNIT = re.compile(r"[A-Za-z][A-Za-z0-9+#.-]{2,}")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]+")


def _units(text: str) -> set[str]:
    """Latin words of 3+ characters and CJK character pairs: what a question shares with a CV line."""
    units = {word.lower().rstrip(".") for word in _LATIN_UNIT.findall(text)}
    for run in _CJK_RUN.findall(text):
        units.update(run[i : i + 2] for i in range(len(run) - 1))
    return units


def references_cv(text: str, claim: str | None) -> float:
    """1.0 when a question on a CV line shares two words (or CJK character pairs) with it, or a question on a
    gap names the CV; else 0.0."""
    if claim is not None:
        return float(len(_units(text) & _units(claim)) >= 2)
    return float(bool(_CV_WORDS.search(text)))


def cv_problem(text: str, cv_line: str | None, cv_gap: bool) -> str | None:
    """What a CV-aware question fails to do: quote the CV line it is about, or say the CV is silent."""
    if cv_line is not None and not references_cv(text, cv_line):
        return "does not quote the CV line"
    if cv_gap and not references_cv(text, None):
        return "does not say the CV is silent"
    return None
