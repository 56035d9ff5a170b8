"""Questions grounded in the exemplar bank: the bank itself, role families, items that are not skills, and
the checks every draft passes (no echo of its item, never cut off, concrete rubric points, the set's script)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from prepbot.postings import Requirement
from prepbot.questions.checks import echoes_item, generic_points, is_cut
from prepbot.questions.exemplars import ROLE_FAMILIES, Exemplar, ExemplarIndex, load_bank
from prepbot.questions.roles import item_competency, role_family
from prepbot.text import detect_language, in_script

BANK = load_bank()


def test_the_shipped_bank_covers_every_language_family_and_non_skill_competency():
    assert len(BANK) >= 250
    assert len({e.id for e in BANK}) == len(BANK)
    by_language = Counter(e.lang for e in BANK)
    assert all(by_language[lang] >= 60 for lang in ("en", "zh-Hans", "zh-Hant", "ja")), by_language
    for lang in ("en", "zh-Hans", "zh-Hant", "ja"):
        mine = [e for e in BANK if e.lang == lang]
        families = Counter(f for e in mine for f in e.role_families)
        assert all(families[f] >= 5 for f in ROLE_FAMILIES), (lang, families)
        competencies = {e.competency for e in mine}
        assert {"education_background", "years_experience", "language_skill", "industry_experience"} <= competencies


def test_the_bank_holds_itself_to_the_rules_it_teaches():
    for exemplar in BANK:
        assert exemplar.question.rstrip().endswith(("?", "？")), exemplar.id
        assert not is_cut(exemplar.question), exemplar.id
        assert not generic_points(list(exemplar.rubric)), (exemplar.id, exemplar.rubric)
        written = detect_language(exemplar.question + " " + " ".join(exemplar.rubric))
        assert written == exemplar.lang, (exemplar.id, written)


def make(id: str, lang: str, competency: str, families: tuple[str, ...]) -> Exemplar:
    return Exemplar(
        id=id,
        lang=lang,  # type: ignore[arg-type]
        competency=competency,
        kind="technical",
        level="medium",
        role_families=families,  # type: ignore[arg-type]
        skill=id,
        question=f"{id}?",
        rubric=("a step", "a metric", "a trade-off"),
        follow_up="Why?",
    )


class AxisEmbedder:
    """Each text's vector is the axis named by its first word: closeness is exact and known."""

    spec = "axes"
    axes = ["kafka", "pricing", "degree", "figma"]

    def embed(self, texts):
        out = np.zeros((len(texts), len(self.axes)), dtype=np.float32)
        for row, text in enumerate(texts):
            word = text.split()[0].strip(".?").lower()
            out[row, self.axes.index(word) if word in self.axes else 0] = 1.0
        return out


def test_closest_prefers_the_language_then_family_and_competency_and_never_repeats():
    bank = (
        make("kafka", "en", "technical_tool", ("engineering",)),
        make("pricing", "en", "sales_discovery", ("sales",)),
        make("degree", "en", "education_background", ("engineering", "data")),
        make("figma", "ja", "design_critique", ("design",)),
    )
    index = ExemplarIndex(bank, AxisEmbedder())
    kafka = AxisEmbedder().embed(["kafka"])[0]
    assert [e.id for e in index.closest(kafka, language="en", family="engineering")] == ["kafka"]
    assert [e.id for e in index.closest(kafka, language="en", family=None, exclude={"kafka"})] != ["kafka"]
    # an item a rule calls a degree gets the degree exemplar, however its words embed
    assert index.closest(kafka, language="en", family=None, competency="education_background")[0].id == "degree"
    assert [e.id for e in index.closest(kafka, language="ja", family=None)] == ["figma"]  # the set's language
    assert index.closest(kafka, language="zh-Hans", family=None) == []


@pytest.mark.parametrize(
    ("title", "family"),
    [
        ("Senior Product Manager, AI Platform", "product"),
        ("AI 產品經理", "product"),
        ("資深數據工程師 Senior Data Engineer", "data"),
        ("Sales Engineer", "sales"),
        ("Senior Interaction Designer", "design"),
        ("バックエンドエンジニア", "engineering"),
        ("Customer Success Lead", "support"),
        ("供应链管理总监", "operations"),
        ("Research Fellow", "research"),
        ("Chief Happiness Officer", None),
    ],
)
def test_role_family_from_the_title(title, family):
    assert role_family(title) == family


def item(text: str, section: str = "requirement") -> Requirement:
    return Requirement(id="p/requirement-1", posting_id="p", section=section, n=1, text=text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "section", "terms", "competency"),
    [
        ("Bachelor's degree in Computer Science or a related field", "requirement", [], "education_background"),
        ("本科及以上学历", "requirement", [], "education_background"),
        ("5+ years of experience", "requirement", [], "years_experience"),
        ("3+ years writing Go services", "requirement", ["Go"], None),
        ("Business-level English (reading, writing, speaking)", "requirement", [], "language_skill"),
        ("英語力（ビジネスレベルでの読み書きおよび会話ができること）", "requirement", [], "language_skill"),
        ("Experience in the semiconductor industry is a plus", "nice_to_have", [], "industry_experience"),
        ("Willing to relocate to Hsinchu", "requirement", [], "not_asked"),
        ("A high degree of IT literacy", "requirement", [], None),
        ("Ability to manage multiple projects simultaneously", "requirement", [], None),
    ],
)
def test_items_that_are_not_skills_by_rule(text, section, terms, competency):
    assert item_competency(item(text, section), terms) == competency


def test_checks_on_drafts():
    assert echoes_item(
        "How would you manage multiple projects simultaneously and work effectively in a fast-paced environment?",
        "Ability to manage multiple projects simultaneously and work effectively in a fast-paced environment.",
    )
    assert not echoes_item("How would you keep Kafka consumer lag low during a spike?", "Experience with Kafka.")
    assert is_cut("... but the team was struggling to meet the deadline and the product was not meeting the?")
    assert not is_cut("How would you size the Kafka partitions for 10x traffic?")
    assert generic_points(["leadership", "communication skills", "溝通能力", "checks consumer lag per partition"]) == [
        "leadership",
        "communication skills",
        "溝通能力",
    ]


def test_a_set_keeps_its_script():
    assert in_script("如何设计一个数据管道，保证软件质量？", "zh-Hant") == "如何設計一個數據管道，保證軟體質量？"
    assert in_script("如何設計資料管線？", "zh-Hans") == "如何设计资料管线？"
    assert in_script("How would you design it?", "zh-Hant") == "How would you design it?"
    assert in_script("データ基盤を設計する", "ja") == "データ基盤を設計する"


def test_question_v5_adapts_one_exemplar_of_the_sets_language_per_question(fake_llm, fake_chat):
    from prepbot.config import get_settings
    from prepbot.questions import SetRequest, generate_set
    from prepbot.retrieval.index import RequirementIndex
    from tests.test_questions import CHINESE, DATA_DRAFTS, draft, make_posting

    pm = make_posting(
        "pm-dddd",
        "AI Product Manager",
        "en",
        [
            ("requirement", "Ability to manage multiple projects simultaneously in a fast-paced environment."),
            ("requirement", "Bachelor's degree in Computer Science or a related field"),
            ("nice_to_have", "Experience in the semiconductor industry is a plus"),
        ],
    )
    RequirementIndex(get_settings()).add_postings([pm, CHINESE])
    fake_chat.enqueue(
        draft("Tell me about a time two launches competed for one team; how did you decide what slipped?"),
        draft("How has your computer science training changed a product decision you made?"),
        draft("What would you learn first about chip design cycles, and what from your past work transfers?"),
    )
    result = generate_set(get_settings(), SetRequest(n=3), posting_id=pm.id, prompt="question@v5")
    users = [call["messages"][-1].text for call in fake_chat.calls]
    assert all("<example>" in u and "Role: AI Product Manager (product)" in u for u in users)
    used = [q.exemplar for q in result.questions]
    assert all(used) and len(set(used)) == 3  # one exemplar each, none twice in a set
    bank = {e.id: e for e in BANK}
    assert all(bank[e].lang == "en" for e in used)
    competencies = {q.citations[0].quote: bank[q.exemplar].competency for q in result.questions}
    assert competencies["Bachelor's degree in Computer Science or a related field"] == "education_background"
    assert competencies["Experience in the semiconductor industry is a plus"] == "industry_experience"
    kinds = {q.citations[0].quote: q.kind for q in result.questions}
    assert kinds["Bachelor's degree in Computer Science or a related field"] == "behavioral"

    # a Traditional-Chinese set gets Traditional exemplars, and Simplified characters in a draft are converted
    fake_chat.enqueue(draft("如何设计 PostgreSQL 与 Redis 的缓存一致性？"), DATA_DRAFTS[0])
    chinese = generate_set(get_settings(), SetRequest(n=1), posting_id=CHINESE.id, prompt="question@v5")
    assert bank[chinese.questions[0].exemplar].lang == "zh-Hant"
    assert chinese.questions[0].text == "如何設計 PostgreSQL 與 Redis 的快取一致性？"


def test_an_echo_that_survives_its_retry_is_replaced_by_a_close_exemplar_or_left_unwritten(fake_llm, fake_chat):
    from prepbot.config import get_settings
    from prepbot.questions import SetRequest, generate_set
    from prepbot.retrieval.index import RequirementIndex
    from tests.test_questions import draft, make_posting

    juggling = "Ability to manage multiple projects simultaneously and work effectively in a fast-paced environment."
    degree = "Bachelor's degree in Computer Science or a related field"
    pm = make_posting("pm-eeee", "AI Product Manager", "en", [("requirement", juggling), ("requirement", degree)])
    RequirementIndex(get_settings()).add_postings([pm])
    echo_one = draft(
        "How would you manage multiple projects simultaneously and work effectively in a fast-paced environment?"
    )
    echo_two = draft("Do you hold a Bachelor's degree in Computer Science or a related field?")
    fake_chat.enqueue(echo_one, echo_one, echo_two, echo_two)
    result = generate_set(get_settings(), SetRequest(n=2), posting_id=pm.id)
    assert len(fake_chat.calls) == 4  # each item: a draft and its retry, both echoes
    # the degree item is asked what the bank asks of degrees, as the bank wrote it, and says so in its flags
    (asked,) = result.questions
    bank = {e.id: e for e in BANK}
    assert asked.citations[0].quote == degree and asked.exemplar is not None
    assert asked.text == bank[asked.exemplar].question and bank[asked.exemplar].competency == "education_background"
    assert asked.flags == [f"exemplar {asked.exemplar} asked as written: the drafts echoes its item"]
    # no exemplar is close to the juggling item: it is left unwritten, not asked as an echo
    assert result.unwritten == [f"{pm.id}/requirement-1"]
