"""Interview question sets drawn from a posting's requirement items.

- Planning is code, not the model's choice: requirements first, then responsibilities, then nice-to-haves,
  one question per item before any item gets a second; when ``n`` is larger than the items, further rounds
  go deeper (one step harder) on the requirement items.
- Each question is one call of the ``question`` prompt on one item. Its citation is that item's ID and its
  exact stored text, read back from the index: the model never writes a citation, so it cannot invent one.
  Its probe line ("why") is made in code since question@v4: the item's named tools, or the skill closest to
  it (``probe_label``); the model's own was a long sentence cut at its bound, for 10 tokens a question.
- Questions are written grouped by kind, section and difficulty (``writing_order``), so consecutive prompts
  share their opening and the local model reads only what is new; the set keeps its planned order.
- Every draft is checked in code: it names a concrete term of its item, avoids stock generic questions, is
  in the asked language, does not echo the prompt, and is no near-duplicate of an earlier question
  (embedding cosine). A draft that fails, or a reply past repair, is regenerated once with sampling; a draft
  that fails again is kept and flagged (a second unusable reply fails the set).
- Posting text is data. Sentences that address the model ("ignore your instructions...", "SYSTEM: ...")
  are dropped from what the prompt sees, and an item that is nothing but such a sentence gets no question.
- Sets are saved in the database, so ``prepbot questions show`` reprints them.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import BaseModel, Field

from prepbot import db
from prepbot.config import Settings
from prepbot.errors import InvalidOutput, PrepbotError, UsageError
from prepbot.postings import Posting, Requirement, Section, normalise
from prepbot.text import LANGUAGE_NAMES, Language, LanguageChoice, detect_language, names_term
from prepbot.prompts import load_prompt

if TYPE_CHECKING:
    from prepbot.retrieval.embedders import Embedder
    from prepbot.retrieval.index import PostingSummary, RequirementIndex
    from prepbot.llm import LLM

# The small models write "why" as a long sentence whatever they are told; the bound cuts it (see _tidy).
WHY_MAX_CHARS = 60
TEXT_MAX_CHARS = 300
# For constrained decoding (the local model; servers that take a JSON-schema pattern): the question ends at its
# first question mark, within 240 characters. The small models otherwise string two or three questions
# together until the bound cuts them: a quarter of the default model's drafts spent 90-120 tokens where one
# question takes 50-65. Only the schema carries it: pydantic does not check it, so a reply from a server that
# ignores patterns is still valid (and cut at its last whole question, see _whole_question).
QUESTION_MAX_CHARS, FOLLOW_UP_MAX_CHARS = 240, 150  # before the question mark


def _one_question(most: int) -> str:
    return rf'^[^?？"\\\n\r\t]{{4,{most}}}[?？]$'


QUESTION_PATTERN = _one_question(QUESTION_MAX_CHARS)
FOLLOW_UP_PATTERN = _one_question(FOLLOW_UP_MAX_CHARS)  # the same for the follow-up: one question
RubricPoint = Annotated[str, Field(max_length=80)]
FollowUp = Annotated[str, Field(max_length=160, json_schema_extra={"pattern": FOLLOW_UP_PATTERN})]


# The output of the `question` prompt. Docstring and descriptions go to the model inside the JSON schema.
# The bounds are part of the schema too: constrained decoding then cannot loop inside one field (the 0.5B
# model otherwise repeats its "why" until max_tokens), and other backends' replies are held to them. They are
# tight because every generated token costs about 0.1 s on the default model: one follow-up, no "why" since
# question@v4 (the question's probe line is then made in code, see ``probe_label``).
class QuestionCore(BaseModel):
    """One interview question with what a strong answer covers."""

    text: str = Field(max_length=TEXT_MAX_CHARS, description="The question, asked directly to the candidate.",
                      json_schema_extra={"pattern": QUESTION_PATTERN})  # fmt: skip
    # The prompts ask for exactly 3 points; the schema holds constrained decoding to 3 (the default model wrote
    # 4-5 near-repeats on some items, 10-15 tokens each), while a reply of up to 5 from another backend is valid.
    rubric: list[RubricPoint] = Field(
        min_length=3, max_length=5, description="Points a strong answer covers, a few words each.",
        json_schema_extra={"maxItems": 3},
    )  # fmt: skip
    follow_ups: list[FollowUp] = Field(min_length=1, max_length=1, description="Short follow-up questions.")


class QuestionDraft(QuestionCore):
    """One interview question with what a strong answer covers, and the skill it probes (question@v1-v3)."""

    why: str = Field(max_length=WHY_MAX_CHARS, description="A few words: the skill the question probes.")


Kind = Literal["technical", "behavioral", "system-design"]
KindChoice = Literal["technical", "behavioral", "system-design", "mixed"]
Difficulty = Literal["easy", "medium", "hard"]
DifficultyChoice = Literal["easy", "medium", "hard", "mixed"]
Progress = Callable[[str, int], None]  # ("total", n) once, then ("token", 1) and ("question", 1) as they come

PROMPT = "question"
PLANNED_SECTIONS: tuple[Section, ...] = ("requirement", "responsibility", "nice_to_have")
DEEPER = {"easy": "medium", "medium": "hard", "hard": "hard"}
MAX_QUESTIONS = 50
# Cosine between two question texts above which they ask the same thing (USE embeddings: rephrasings of one
# question score 0.9+, two questions on one tool about 0.6-0.8).
DUPLICATE_COSINE = 0.9
# A title matches a role by meaning when the cosine reaches this (USE: "數據工程師" vs the seed data engineer
# title 0.70, "engineer" vs it 0.53, unrelated roles 0.2-0.45); candidates within the margin of the best tie.
TITLE_MATCH_MIN = 0.55
TITLE_MATCH_MARGIN = 0.08
RETRY_TEMPERATURE = 0.7


class Citation(BaseModel):
    id: str
    quote: str  # the item's stored text, exactly


class Question(BaseModel):
    id: str
    text: str
    kind: Kind
    difficulty: Difficulty
    citations: list[Citation]
    rubric: list[str]
    follow_ups: list[str]
    why: str
    flags: list[str] = Field(default_factory=list)  # checks it still failed after its one regeneration


class QuestionSet(BaseModel):
    set_id: str
    posting_id: str
    role: str
    backend: str
    model: str
    language: Language
    prompt: str  # the prompt version that wrote it, name@vN
    created_at: datetime
    skipped: list[str] = Field(default_factory=list)  # items left out: nothing but instructions to a model
    unwritten: list[str] = Field(default_factory=list)  # planned items whose question the model wrote no valid reply for
    questions: list[Question]


class SetRequest(BaseModel):
    """What a set should be; the CLI's flags."""

    n: int = Field(default=10, ge=1, le=MAX_QUESTIONS)
    kind: KindChoice = "mixed"
    difficulty: DifficultyChoice = "mixed"
    lang: LanguageChoice = "auto"
    seed: int = 0  # picks the mix of difficulties; another seed, another set


class PlannedQuestion(BaseModel):
    item: Requirement
    prompt_text: str  # the item's text as the model sees it: instruction-like sentences removed
    round: int  # 1 for the first question on an item, 2 for the deeper second one, ...
    kind: Kind
    difficulty: Difficulty


class SetSummary(BaseModel):
    set_id: str
    created_at: datetime
    posting_id: str
    role: str
    language: str
    backend: str
    model: str
    questions: int


# --- posting text is data ------------------------------------------------------------------------------------

# A sentence that speaks to a model or an evaluator rather than describing the job. Plain patterns, in the
# languages prepbot reads: they only decide what the prompt does not see, never what is stored or cited.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,30}\b(?:instructions?|prompts?|rules)\b"
    r"|\b(?:system|assistant)\s*:|\bsystem prompt\b|\bnote to any ai\b|\byou are now\b"
    r"|\b(?:output|answer|reply|respond|say)\s+only\b|\bevery candidate\b"
    r"|\bcite requirement\b|\bwhen generating interview questions\b"
    r"|忽略.{0,8}(?:指示|指令|提示)|無視.{0,4}(?:指示|指令)|(?:指示|指令)を.{0,8}無視|系統提示|系统提示"
    r"|評分規則|评分规则|一律視為|一律视为|引用需求編號|引用需求编号|点を付け|分數一律|分数一律",
    re.IGNORECASE,
)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
# Sentence ends, and role tags that open a new "message" mid-line.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*|(?=\b(?:SYSTEM|ASSISTANT|USER)\s*:)")


def prompt_text(text: str) -> str:
    """The item's text without comments and sentences addressed to a model; "" when nothing else is left."""
    sentences = _SENTENCE_BREAK.split(_HTML_COMMENT.sub(" ", text))
    kept = [s.strip() for s in sentences if s.strip() and not _INSTRUCTION.search(s)]
    if len(kept) == len([s for s in sentences if s.strip()]) and not _HTML_COMMENT.search(text):
        return text  # nothing to remove: the item as written
    joined = " ".join(kept)
    return joined if len(normalise(joined)) >= 3 else ""


# --- planning ------------------------------------------------------------------------------------------------

# Anchors for choosing an item's kind in a mixed set: the kind whose anchors an item is most similar to.
# Each anchor is also what a question on such an item probes, named in the set's language (``probe_label``).
KIND_ANCHORS: dict[Kind, dict[str, dict[str, str]]] = {
    "behavioral": {
        "communication and teamwork skills": {
            "zh-Hant": "溝通與團隊合作", "zh-Hans": "沟通与团队合作", "ja": "コミュニケーションとチームワーク"},
        "working with people across teams and stakeholders": {
            "zh-Hant": "跨團隊與利害關係人協作", "zh-Hans": "跨团队与利益相关方协作", "ja": "部門横断・関係者との協働"},
        "attitude, learning and motivation": {
            "zh-Hant": "態度、學習與動機", "zh-Hans": "态度、学习与动机", "ja": "姿勢・学習意欲・モチベーション"},
        "leading and mentoring people": {
            "zh-Hant": "領導與指導他人", "zh-Hans": "领导与指导他人", "ja": "リーダーシップと育成"},
    },
    "system-design": {
        "design the architecture of a scalable system": {
            "zh-Hant": "可擴展系統的架構設計", "zh-Hans": "可扩展系统的架构设计", "ja": "スケーラブルなシステムの設計"},
        "build data pipeline and infrastructure architecture": {
            "zh-Hant": "資料管線與基礎架構", "zh-Hans": "数据管道与基础架构", "ja": "データパイプラインと基盤の設計"},
        "scalability and reliability of distributed systems": {
            "zh-Hant": "分散式系統的擴展性與可靠性", "zh-Hans": "分布式系统的扩展性与可靠性", "ja": "分散システムの拡張性と信頼性"},
    },
    "technical": {
        "experience with programming languages, frameworks and tools": {
            "zh-Hant": "程式語言、框架與工具的實務", "zh-Hans": "编程语言、框架与工具的实践",
            "ja": "プログラミング言語・フレームワーク・ツールの実務"},
        "knowledge of databases and algorithms": {
            "zh-Hant": "資料庫與演算法知識", "zh-Hans": "数据库与算法知识", "ja": "データベースとアルゴリズムの知識"},
        "hands-on skills with a specific technology": {
            "zh-Hant": "特定技術的實作能力", "zh-Hans": "特定技术的实操能力", "ja": "特定技術の実践スキル"},
    },
}  # fmt: skip


ANCHOR_KEYS = [f"{kind}/{anchor}" for kind, anchors in KIND_ANCHORS.items() for anchor in anchors]
_anchor_vectors: dict[str, np.ndarray] = {}  # per embedder spec: embedded once, not once per question


def _anchor_scores(items: list[Requirement], embedder: Embedder) -> np.ndarray:
    """Each item's similarity to every anchor of ANCHOR_KEYS (items x anchors)."""
    anchors = _anchor_vectors.get(embedder.spec)
    if anchors is None:
        anchors = _anchor_vectors[embedder.spec] = embedder.embed([key.split("/", 1)[1] for key in ANCHOR_KEYS])
    return embedder.embed([item.text for item in items]) @ anchors.T


def item_kinds(items: list[Requirement], embedder: Embedder) -> dict[str, Kind]:
    """Each item's natural kind of question, by embedding similarity to the kind anchors (any language)."""
    if not items:
        return {}
    best = _anchor_scores(items, embedder).argmax(axis=1)
    return {item.id: ANCHOR_KEYS[int(b)].split("/", 1)[0] for item, b in zip(items, best)}  # type: ignore[misc]


def term_phrases(text: str, terms: list[str]) -> list[str]:
    """The terms as the text writes them together: "Apache" and "Flink" side by side make "Apache Flink"."""
    phrases: list[str] = []
    end = -2
    for match in _TERM.finditer(text):
        term = re.sub(r"['’]s$", "", match[0]).rstrip(".")
        if term not in terms:
            end = -2
            continue
        if phrases and text[end : match.start()] == " ":
            phrases[-1] += " " + term
        elif term not in phrases:
            phrases.append(term)
        end = match.start() + len(term)
    return phrases


def probe_label(item: Requirement, kind: Kind, terms: list[str], language: str, embedder: Embedder) -> str:
    """What a question on the item probes, a few words in the set's language: the item's named tools (up to
    three), or for an item naming none (a soft skill, a degree) the closest anchor of the question's kind."""
    if terms:
        return ", ".join(term_phrases(item.text, terms)[:3])
    scores = _anchor_scores([item], embedder)[0]
    own = [i for i, key in enumerate(ANCHOR_KEYS) if key.startswith(f"{kind}/")]
    anchor = ANCHOR_KEYS[max(own, key=lambda i: scores[i])].split("/", 1)[1]
    return KIND_ANCHORS[kind][anchor].get(language, anchor)


def plan_questions(
    posting: Posting, request: SetRequest, kinds: dict[str, Kind] | None = None
) -> tuple[list[PlannedQuestion], list[Requirement]]:
    """The set's questions in order, and the items left out because they only address a model."""
    candidates = [item for section in PLANNED_SECTIONS for item in posting.items(section)]
    texts = {item.id: prompt_text(item.text) for item in candidates}
    items = [item for item in candidates if texts[item.id]]
    skipped = [item for item in candidates if not texts[item.id]]
    if not items:
        raise PrepbotError(
            f"posting {posting.id} has no requirement, responsibility or nice-to-have items to ask about"
        )
    deeper = [item for item in items if item.section == "requirement"] or items
    order = list(items)
    while len(order) < request.n:
        order += deeper
    order = order[: request.n]

    first_round = min(len(items), request.n)
    if request.difficulty == "mixed":
        levels: list[Difficulty] = ["easy", "medium", "hard"]
        mix = [levels[i % 3] for i in range(first_round)]
        random.Random(request.seed).shuffle(mix)
    else:
        mix = [request.difficulty] * first_round  # type: ignore[list-item]

    plan: list[PlannedQuestion] = []
    seen: dict[str, PlannedQuestion] = {}
    for position, item in enumerate(order):
        earlier = seen.get(item.id)
        kind: Kind = (kinds or {}).get(item.id, "technical") if request.kind == "mixed" else request.kind  # type: ignore[assignment]
        difficulty = DEEPER[earlier.difficulty] if earlier else mix[position]
        planned = PlannedQuestion(
            item=item, prompt_text=texts[item.id], round=earlier.round + 1 if earlier else 1, kind=kind,
            difficulty=difficulty,
        )  # fmt: skip
        seen[item.id] = planned
        plan.append(planned)
    return plan, skipped


# --- checking a draft ----------------------------------------------------------------------------------------

# Stock questions that fit any posting and test nothing (the evals ban the English ones too).
_GENERIC = re.compile(
    r"do you have (?:any )?experience|describe your experience|tell me about yourself|what is the requirement"
    r"|explain this requirement|你有.{0,10}經驗嗎|你有.{0,10}经验吗|経験はありますか",
    re.IGNORECASE,
)
# Latin terms: words starting with a letter, with the joiners of tool names (scikit-learn, GNU/Linux, C++).
_TERM = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-+#./][A-Za-z0-9+#]+)*\+*")
_DEGREE = re.compile(r"\b(?:degree|bachelor|master|ph\.?d|diploma)|學位|学位|學士|学士|碩士|硕士|博士|學歷|学历|卒業", re.I)
_PARENTHESES = re.compile(r"[(（]([^)）]*)[)）]")
# Words of amounts and asides, not names, however they are written: "( > 100 GB size )", "(5+ years)".
_NOT_TERMS = {"size", "year", "years", "month", "months", "kb", "mb", "gb", "tb", "pb", "etc", "e.g", "i.e", "or",
              "and", "plus", "ex"}  # fmt: skip


def key_terms(text: str, company: str | None = None) -> list[str]:
    """The concrete names in an item a specific question would use: tools and technologies (capitalised after
    the first word, acronyms, CamelCase, anything in parentheses). An item without any (a soft skill in prose)
    has none, and then only the generic-phrase check applies; so has a degree, whose good question asks about
    the field ("time complexity of a join") without naming the diploma ("Computer Science")."""
    if _DEGREE.search(text):
        return []
    in_parentheses = {term for group in _PARENTHESES.findall(text) for term in _TERM.findall(group)}
    terms: list[str] = []
    for match in _TERM.finditer(text):
        term = re.sub(r"['’]s$", "", match[0]).rstrip(".")
        opens_text = not text[: match.start()].strip()  # capitalised only because it starts the item
        named = term in in_parentheses or any(ch.isupper() for ch in term[1:]) or (term[0].isupper() and not opens_text)
        wanted = term not in terms and term.lower() not in _NOT_TERMS and term.lower() != (company or "").lower()
        if named and len(term) > 1 and wanted:
            terms.append(term)
    return terms


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


COPY_NGRAM = 6  # words in a row shared with the system prompt that make a draft an echo of it


def _ngrams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i : i + COPY_NGRAM]) for i in range(len(words) - COPY_NGRAM + 1)}


def copied_phrase(text: str, prompt_ngrams: set[tuple[str, ...]]) -> bool:
    """A small model sometimes answers with a line of its prompt (a rule, an example) instead of a question:
    with a worked example in the prompt, the 1.5B model returned that example for one item in four."""
    return not _ngrams(text).isdisjoint(prompt_ngrams)




def duplicate_of(vector: np.ndarray, earlier: list[np.ndarray]) -> tuple[int, float] | None:
    """The earlier question (index, cosine) this one nearly repeats, if any; vectors are unit length."""
    if not earlier:
        return None
    cosines = np.stack(earlier) @ vector
    best = int(cosines.argmax())
    return (best, float(cosines[best])) if cosines[best] > DUPLICATE_COSINE else None


# --- finding the posting -------------------------------------------------------------------------------------


def match_role(index: RequirementIndex, role: str) -> list[PostingSummary]:
    """Postings whose title fits a role: titles containing it (case and punctuation ignored) first; failing
    that, titles close in meaning (multilingual embeddings), the best and those within a margin of it."""
    wanted = normalise(role)
    if not wanted:
        raise UsageError("--role is empty")
    contained = [s for s in index.list_postings() if wanted in normalise(s.title)]
    if contained:
        return contained
    scored = [(summary, score) for summary, score in index.match_titles(role) if score >= TITLE_MATCH_MIN]
    if not scored:
        return []
    best = max(score for _, score in scored)
    return [summary for summary, score in scored if score >= best - TITLE_MATCH_MARGIN]


def find_posting(index: RequirementIndex, *, role: str | None = None, posting_id: str | None = None) -> Posting:
    if (role is None) == (posting_id is None):
        raise UsageError("give exactly one of --role TEXT or --posting ID")
    if posting_id is None:
        matches = match_role(index, role or "")
        if not matches:
            raise PrepbotError(f"no indexed posting matches the role {role!r}; `prepbot postings list` shows them")
        if len(matches) > 1:
            listing = "\n".join(f"  {s.id}  {s.title}" for s in matches)
            raise UsageError(f"the role {role!r} matches {len(matches)} postings; choose one with --posting:\n{listing}")
        posting_id = matches[0].id
    posting = index.get_posting(posting_id)
    if posting is None:
        raise PrepbotError(f"no posting {posting_id!r}; `prepbot postings list` shows the IDs")
    return posting


# --- generating ----------------------------------------------------------------------------------------------


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
    from prepbot.retrieval.index import RequirementIndex
    from prepbot.llm import get_llm, load_in_background

    index = index or RequirementIndex(settings)
    posting = find_posting(index, role=role, posting_id=posting_id)
    loading = load_in_background(settings) if llm is None else None  # while the items are embedded and planned
    try:
        kinds = None
        if request.kind == "mixed":
            planned_items = [item for item in posting.requirements if item.section in PLANNED_SECTIONS]
            kinds = item_kinds(planned_items, index.embedder)
        plan, skipped = plan_questions(posting, request, kinds)
    finally:
        if loading:
            loading.join()
    language: Language = posting.language if request.lang == "auto" else request.lang
    report = progress or (lambda event, amount: None)
    report("total", len(plan))

    writer = QuestionWriter(llm or get_llm(settings), index.embedder, posting, language, report, no_cache, prompt)
    writer.seed = request.seed * 1000
    written = {position: writer.write(position, plan[position - 1]) for position in writing_order(plan)}
    kept = [(written[p], plan[p - 1]) for p in range(1, len(plan) + 1) if written[p] is not None]
    unwritten = [plan[p - 1].item.id for p in range(1, len(plan) + 1) if written[p] is None]
    if not kept:
        raise PrepbotError(f"the model wrote no valid question for any of {len(plan)} items ({writer.last_error})")
    questions = [question.model_copy(update={"id": f"q{n}"}) for n, (question, _) in enumerate(kept, start=1)]
    stored = index.get_requirements([planned.item.id for _, planned in kept])
    for question, (_, planned) in zip(questions, kept):
        item = stored.get(planned.item.id)
        if item is None:
            raise PrepbotError(f"item {planned.item.id} vanished from the index while the set was written")
        question.citations = [Citation(id=item.id, quote=item.text)]
    question_set = QuestionSet(
        set_id=f"qs-{secrets.token_hex(4)}", posting_id=posting.id, role=posting.title,
        backend=writer.llm.backend.name, model=writer.llm.backend.model, language=language, prompt=writer.prompt_ref,
        created_at=datetime.now(timezone.utc), skipped=[item.id for item in skipped], unwritten=unwritten,
        questions=questions,
    )  # fmt: skip
    problems = check_citations(question_set, index)
    if problems:  # cannot happen unless the store changed under us; never save a set with a bad citation
        raise PrepbotError("; ".join(problems))
    if save:
        save_set(question_set, settings)
    return question_set




def retry_note(problems: list[str], language: str) -> str:
    """What was wrong with a first draft, for the prompt of its retry, in words the model can act on."""
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


def writing_order(plan: list[PlannedQuestion]) -> list[int]:
    """The order to write the planned questions in (1-based positions): those with the same kind, section and
    difficulty one after another, so that consecutive prompts share their opening and the local model reads
    only the new item (about 1 s saved per question on 2 cores); the set keeps its planned order."""
    groups = [(planned.kind, planned.item.section, planned.difficulty) for planned in plan]
    first_seen = {group: groups.index(group) for group in groups}
    return sorted(range(1, len(plan) + 1), key=lambda p: (first_seen[groups[p - 1]], p))


_SEPARATORS = " ,，、;；:："
_DANGLING = re.compile(r"(?:[\s,，、;；:：]+|\b(?:and|or|with|like|such as|including|e\.g\.|etc\.?)\b)+$", re.I)


def _whole_question(text: str, most: int = QUESTION_MAX_CHARS) -> str:
    """A question the schema bound cut (the small model strings three questions together and runs into it,
    sometimes drifting into Chinese on the way) ends at its last whole question instead; one whose pattern
    bound forced its question mark ("... CloudSQL, Datapr?") loses its cut word."""
    text = text.strip()
    if len(text) > most and text[-1] in "?？" and not any(mark in text[:-1] for mark in "?？"):
        body = text[:-1].rstrip(_SEPARATORS)
        cut = max(body.rfind(" "), body.rfind(","), body.rfind("，"), body.rfind("、"))
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


def prompt_variables(posting: Posting, planned: PlannedQuestion, language: Language,
                     retry_note: str = "") -> dict[str, str]:  # fmt: skip
    """Every input a ``question`` prompt version may take for one planned question (``retry_note`` is new in
    v4; ``Prompt.declared`` keeps a version's own). The role comes first in the user message and is the same
    for the whole set, so the cached prompt prefix extends past the system message."""
    return {
        "role": posting.title, "requirement": planned.prompt_text, "section": planned.item.section,
        "language": language, "kind": planned.kind, "difficulty": planned.difficulty, "retry_note": retry_note,
    }  # fmt: skip


class QuestionWriter:
    """Writes one planned question at a time, remembering earlier ones for the duplicate check."""

    def __init__(self, llm: LLM, embedder: Embedder, posting: Posting, language: Language, report: Progress,
                 no_cache: bool, prompt: str = PROMPT):
        self.llm, self.embedder, self.posting, self.language = llm, embedder, posting, language
        self.report, self.no_cache, self.prompt = report, no_cache, prompt
        self.seed = 0  # the set request's seed (x1000); a retry samples with seed + position
        self.vectors: list[np.ndarray] = []
        self.prompt_ref = ""
        self.last_error = ""  # why the last question the model could not write failed
        self.spec = load_prompt(prompt, llm.settings)
        self.prompt_ngrams = _ngrams(self.spec.system.render())

    def write(self, position: int, planned: PlannedQuestion) -> Question | None:
        """The question for one planned item; None when the model's reply stayed invalid (past repair or cut off)
        on the first try and on a sampled retry: the set goes on without it and names the item as unwritten."""
        terms = key_terms(planned.prompt_text, self.posting.company)
        try:
            first = self.attempt(planned, terms, temperature=None)
        except InvalidOutput:
            first = None  # a reply past repair: one sampled retry
        if first is None or first[1]:
            # Sampling gives another draft, told what was wrong with the first where the prompt takes a note
            # (question@v4); the better of the two is kept.
            note = retry_note(first[1], self.language) if first else ""
            try:
                retry = self.attempt(planned, terms, temperature=RETRY_TEMPERATURE, seed=self.seed + position, note=note)
            except InvalidOutput as exc:
                if first is None:
                    self.last_error = str(exc)
                    self.report("question", 1)
                    return None
            else:
                first = retry if first is None or len(retry[1]) <= len(first[1]) else first
        assert first is not None
        draft, problems, vector = first
        self.vectors.append(vector)
        why = getattr(draft, "why", None)  # question@v1-v3 wrote it; since v4 it is made in code
        why = _tidy(why) if why else probe_label(planned.item, planned.kind, terms, self.language, self.embedder)
        self.report("question", 1)
        return Question(
            id=f"q{position}", text=_whole_question(draft.text), kind=planned.kind, difficulty=planned.difficulty,
            citations=[], rubric=[point.strip() for point in draft.rubric],
            follow_ups=[_whole_question(follow_up, FOLLOW_UP_MAX_CHARS) for follow_up in draft.follow_ups], why=why,
            flags=problems,
        )  # fmt: skip

    def attempt(
        self, planned: PlannedQuestion, terms: list[str], temperature: float | None, seed: int | None = None,
        note: str = "",
    ) -> tuple[QuestionCore, list[str], np.ndarray]:
        # A retry samples with a seed made from the request's seed and the position: the same request gives
        # the same set, so a re-run (an eval, the same `questions` call again) is answered from the cache.
        variables = self.spec.declared(prompt_variables(self.posting, planned, self.language, note))
        generation = self.llm.generate(
            self.prompt, variables, temperature=temperature,
            stream=lambda piece: self.report("token", 1), no_cache=self.no_cache, seed=seed,
        )  # fmt: skip
        self.prompt_ref = generation.prompt
        draft: QuestionCore = generation.output  # type: ignore[assignment]
        problems = draft_problems(draft, terms, self.language)
        if copied_phrase(draft.text, self.prompt_ngrams):
            problems.append("echoes the prompt")
        vector = self.embedder.embed([draft.text])[0]
        clash = duplicate_of(vector, self.vectors)
        if clash:
            problems.append(f"near-duplicate of q{clash[0] + 1} (cosine {clash[1]:.2f})")
        return draft, problems, vector


# --- citations -----------------------------------------------------------------------------------------------


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


# --- saved sets ----------------------------------------------------------------------------------------------


def save_set(question_set: QuestionSet, settings: Settings) -> None:
    with closing(db.connect(settings)) as conn:
        conn.execute(
            "INSERT INTO question_sets (id, created_at, posting_id, role, language, backend, model, questions, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                question_set.set_id, question_set.created_at.isoformat(), question_set.posting_id, question_set.role,
                question_set.language, question_set.backend, question_set.model, len(question_set.questions),
                question_set.model_dump_json(),
            ),
        )  # fmt: skip


def load_set(set_id: str, settings: Settings) -> QuestionSet:
    with closing(db.connect(settings)) as conn:
        row = conn.execute("SELECT body FROM question_sets WHERE id = ?", (set_id,)).fetchone()
    if row is None:
        raise PrepbotError(f"no question set {set_id!r}; `prepbot questions list` shows them")
    return QuestionSet.model_validate_json(row["body"])


def list_sets(settings: Settings, posting_id: str | None = None) -> list[SetSummary]:
    """Saved sets, newest first."""
    query = "SELECT id, created_at, posting_id, role, language, backend, model, questions FROM question_sets"
    params: tuple[str, ...] = ()
    if posting_id:
        query, params = query + " WHERE posting_id = ?", (posting_id,)
    with closing(db.connect(settings)) as conn:
        rows = conn.execute(query + " ORDER BY created_at DESC, rowid DESC", params).fetchall()
    return [SetSummary(set_id=row["id"], **{k: row[k] for k in row.keys() if k != "id"}) for row in rows]
