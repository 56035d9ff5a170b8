"""The rules for reading real postings, each on a small example of our own: posting boundaries, headings in
every form and their kinds (by words, by parent, by meaning), items, optional items, prose, titles."""

from __future__ import annotations

import re

import numpy as np
import pytest

from prepbot.postings import parse_document
from prepbot.postings.parse import Corrections, heading_key
from prepbot.postings.readers import Document, html_to_text
from prepbot.postings.sections import SectionClassifier, words_kind
from prepbot.postings.titles import clean_title, is_title_like


def parse(text: str, classifier=False, **fields):
    return parse_document(Document(source="/p/test.md", text=text, **fields), classifier=classifier)


def texts(posting, section):
    return [item.text for item in posting.requirements if item.section == section]


# --- boundaries ------------------------------------------------------------------------------------------


def test_unknown_headings_are_sections_not_postings():
    text = (
        "# Kubernetes Engineer\n\n## The appeal of this job\n- You learn a lot\n\n## Work location\n- Tokyo\n\n"
        "## Q&A\n- Q. Remote?\n  - A. Partly\n\n## Requirements\n- Go\n"
    )
    result = parse(text)
    [posting] = result.postings
    assert posting.title == "Kubernetes Engineer"
    assert texts(posting, "requirement") == ["Go"]


def test_several_job_headings_with_their_own_sections_are_several_postings():
    text = (
        "# Careers at Initech\n\nWe make staplers.\n\n"
        "## Backend Engineer\n### Requirements\n- Go\n### You will\n- Build APIs\n\n"
        "## Product Designer\n### Requirements\n- Figma\n\n## How to apply\nMail us.\n"
    )
    postings = parse(text).postings
    assert [p.title for p in postings] == ["Backend Engineer", "Product Designer"]
    assert texts(postings[0], "requirement") == ["Go"] and texts(postings[0], "responsibility") == ["Build APIs"]
    assert texts(postings[1], "requirement") == ["Figma"]
    assert all("We make staplers." in texts(p, "about") for p in postings)  # the page's intro is kept for each
    assert texts(postings[1], "process") == ["Mail us."]  # a closing non-job heading stays in the last posting


def test_bold_job_lines_in_a_hiring_comment_are_postings():
    text = (
        "**We are hiring in Taipei**\n\n**后端开发工程师**\n1、负责服务开发；\n2、参与设计；\n岗位要求\n1、熟悉Java；\n\n"
        "**前端开发工程师**\n1、负责页面开发；\n任职资格：\n1、熟悉React；\n2、本科以上学历；\n"
    )
    postings = parse(text).postings
    assert [p.title for p in postings] == ["后端开发工程师", "前端开发工程师"]
    assert texts(postings[0], "requirement") == ["熟悉Java；"]
    assert texts(postings[1], "requirement") == ["熟悉React；", "本科以上学历；"]


def test_one_job_heading_never_splits_a_file():
    [posting] = parse("# Data Engineer\n\n## Data Engineer tools\n- dbt\n\n## Requirements\n- SQL\n").postings
    assert texts(posting, "requirement") == ["SQL"]


# --- heading forms and kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading",
    [
        "Requirements\n============",
        "Requirements\n------------",
        "**🚀 _Requirements_**",
        "✨ **_Requirements_**",
        "_Requirements_",
        "●Requirements",
        "■ 必須スキル",
        "【必備條件】",
        "一、任职要求",
        "What you'll bring:",
        "岗位要求",
    ],
)
def test_heading_forms_open_a_section(heading):
    [posting] = parse(f"# Engineer\n\nWe build things.\n\n{heading}\n- Go\n- SQL\n\n● Benefits\n- Tea\n").postings
    assert texts(posting, "requirement") == ["Go", "SQL"]


@pytest.mark.parametrize(
    ("heading", "kind"),
    [
        ("About the role", "about"),
        ("What about your team?", "about"),
        ("About you", "requirement"),
        ("Preferred qualifications", "nice_to_have"),
        ("Extra credit for any of the following", "nice_to_have"),
        ("この仕事の魅力", "benefit"),
        ("仕事の進め方", "other"),
        ("必要業務経験", "requirement"),
        ("歓迎（WANT）", "nice_to_have"),
        ("給与（大卒）", "benefit"),
        ("工作地點", "other"),
        ("工作待遇", "benefit"),
        ("How to apply", "process"),
    ],
)
def test_heading_words(heading, kind):
    assert words_kind(heading) == kind


def test_an_unknown_sub_heading_takes_its_parents_kind():
    [posting] = parse("# Engineer\n## Requirements\n### Languages\n- Go\n").postings
    assert [(i.section, i.group) for i in posting.requirements] == [("requirement", "Languages")]
    assert [(s.heading, s.kind, s.how) for s in posting.outline] == [
        ("Requirements", "requirement", "words"),
        ("Languages", "requirement", "parent"),
    ]


def test_an_empty_pseudo_heading_over_others_of_its_rank_is_their_parent():
    # Bold headings carry no depth: "What you'll do" with nothing under it, followed at once by another bold
    # heading, heads the ones after it up to the next such empty heading.
    text = (
        "# Engineer\n\n**What you'll do**\n\n**Day to day**\n- Run the build\n\n**Working with others**\n"
        "- Pair with QA\n\n**Requirements**\n\n**Must have**\n- Go\n\n**Tools we like**\n- Bazel\n\n"
        "**Benefits**\n- Lunch\n"
    )
    [posting] = parse(text).postings
    assert [(s.heading, s.kind, s.how, s.depth) for s in posting.outline if s.heading] == [
        ("What you'll do", "responsibility", "words", 0),
        ("Day to day", "responsibility", "words", 1),
        ("Working with others", "responsibility", "parent", 1),
        ("Requirements", "requirement", "words", 0),
        ("Must have", "requirement", "words", 1),
        ("Tools we like", "requirement", "parent", 1),
        ("Benefits", "benefit", "words", 1),
    ]
    # the same headings in Markdown keep the depths their author gave them: two ATX headings in a row are not
    # a group
    [flat] = parse(re.sub(r"\*\*(.+?)\*\*", r"## \1", text)).postings
    outline = [(s.heading, s.kind, s.how, s.depth) for s in flat.outline]
    assert ("Working with others", "other", "unknown", 0) in outline


def test_a_job_title_line_wins_over_the_pages_own_title():
    # a page titled "Jobs" whose posting names its job on a first line of its own, bare or as a list's item
    [bare] = parse("Research Fellow\n(two years)\n\nResponsibilities:\n- Analyse pigments\n", title="Jobs").postings
    assert bare.title == "Research Fellow"
    [item] = parse("■Technical Product Manager\n■Berkeley, CA\n\n■Requirements\n- SQL\n- Python\n").postings
    assert item.title == "Technical Product Manager"
    assert [i.text for i in item.requirements if i.section == "about"] == ["Berkeley, CA"]
    # a sentence naming the role is no title line
    [prose] = parse("We need a Product Manager for our team.\n\nRequirements:\n- SQL\n", title="Jobs").postings
    assert prose.title != "We need a Product Manager for our team."


class KeyedEmbedder:
    """A fake embedder: each text is the unit vector of the first keyword it holds (a dimension per word)."""

    WORDS = ["do", "need", "plus", "get", "team", "apply", "where"]

    def __call__(self, texts):
        out = np.zeros((len(texts), len(self.WORDS) + 1), dtype=np.float32)
        for row, text in enumerate(texts):
            lower = text.lower()
            hit = next((i for i, w in enumerate(self.WORDS) if w in lower), len(self.WORDS))
            out[row, hit] = 1.0
        return out


def test_a_heading_no_word_names_is_read_by_meaning(monkeypatch):
    from prepbot.postings import sections

    monkeypatch.setattr(
        sections, "PROTOTYPE_HEADINGS", {"requirement": ("What we need", "Skills we need", "We need you")}
    )
    classifier = SectionClassifier(KeyedEmbedder())
    [posting] = parse("# Engineer\n\n### Things we need from you\n- Go\n", classifier=classifier).postings
    assert texts(posting, "requirement") == ["Go"]
    assert posting.outline[0].how == "meaning"


# --- items -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("marker", ["- ", "-", "* ", "+\t", "•", "・", "■", "●", "1.", "1、", "（1）", "①", ". "])
def test_every_common_marker(marker):
    [posting] = parse(f"Requirements:\n{marker}Go\n{marker}SQL\n").postings
    assert texts(posting, "requirement") == ["Go", "SQL"]


def test_nested_bullets_are_their_parents_detail():
    [posting] = parse(
        "Responsibilities:\n- Automate operations\n  - in Go\n  - with Operators\n- Migrate to EKS\n"
    ).postings
    assert texts(posting, "responsibility") == ["Automate operations", "Migrate to EKS"]
    assert posting.requirements[0].detail == "in Go\nwith Operators"


def test_a_colon_item_introducing_sub_items_is_their_group():
    [posting] = parse(
        "Responsibilities:\n1. Product:\n(1) Own the roadmap\n(2) Talk to users\n2. Delivery:\n(1) Ship\n"
    ).postings
    assert [(i.text, i.group) for i in posting.requirements] == [
        ("Own the roadmap", "Product"),
        ("Talk to users", "Product"),
        ("Ship", "Delivery"),
    ]


@pytest.mark.parametrize(
    "item",
    [
        "Rust experience is a plus.",
        "Experience selling SaaS (preferred but not required)",
        "Bonus: open-source work",
        "有Kubernetes经验者优先",
        "熟悉 Go 尤佳",
        "英語力（歓迎）",
    ],
)
def test_an_item_marked_optional_is_a_nice_to_have(item):
    [posting] = parse(f"# Engineer\n## Requirements\n- Go\n- {item}\n").postings
    assert texts(posting, "requirement") == ["Go"]
    assert texts(posting, "nice_to_have") == [item]


def test_a_later_optional_sentence_keeps_a_requirement():
    [posting] = parse("## Requirements\n- Bachelor's degree in CS. Master's degree preferred.\n").postings
    assert texts(posting, "requirement") == ["Bachelor's degree in CS. Master's degree preferred."]


def test_one_statement_per_line_lists_and_wrapped_lines():
    [posting] = parse(
        "About you:\n\n    Strong SQL skills.\n    Git expert.\n\nIn your role you will:\n"
        "- Design data pipelines that scale across regions and keep costs low for the whole\n"
        "  company and its customers\n"
    ).postings
    assert texts(posting, "requirement") == ["Strong SQL skills.", "Git expert."]
    assert texts(posting, "responsibility") == [
        "Design data pipelines that scale across regions and keep costs low for the whole company and its customers"
    ]


def test_prose_under_a_duties_heading_is_split_into_statements():
    [posting] = parse(
        "## 工作內容\n\n網頁字型是我們的核心業務之一。您將負責後端機制開發。\n\n## Qualifications\n\n"
        "BS in computer science or equivalent experience - 2+ years working on a developer product\n"
    ).postings
    assert texts(posting, "responsibility") == ["您將負責後端機制開發。"]
    assert texts(posting, "about") == ["網頁字型是我們的核心業務之一。"]
    assert texts(posting, "requirement") == [
        "BS in computer science or equivalent experience",
        "2+ years working on a developer product",
    ]


def test_lead_in_prose_beside_a_list_is_not_an_item_of_it():
    [posting] = parse(
        "## Requirements\nThe ideal candidate combines several skills.\n- Go\n- SQL\n\nYou are curious.\n"
    ).postings
    assert texts(posting, "requirement") == ["Go", "SQL"]


def test_headingless_prose_is_read_by_its_cues_only_where_no_heading_names_the_kind():
    [posting] = parse(
        "We are a shop in Kyoto.\n\nYou will run our payment services in production.\n\n## Requirements\n- Go\n\n"
    ).postings
    assert texts(posting, "responsibility") == ["You will run our payment services in production."]
    assert texts(posting, "requirement") == ["Go"]
    [pitch] = parse("You have shipped Go services for years.\n\n## Requirements\n- Go\n").postings
    assert texts(pitch, "requirement") == ["Go"]  # the pitch is not a requirement beside a Requirements list


def test_a_list_under_no_heading_beside_a_requirements_heading_is_read_as_the_duties_by_meaning():
    from prepbot.postings.sections import default_classifier

    classifier = default_classifier()
    assert classifier is not None
    # A title, its duties as a bare numbered list, then the requirements under a heading: the list's words
    # (负责, 熟悉) cue requirements, which a heading already names; by meaning it is duties, not about.
    text = (
        "**数据平台工程师-杭州**\n"
        "1、独立负责离线数仓模块的建设与维护，具备一定方案设计能力；\n"
        "2、理解业务线和数据方案；\n"
        "3、熟悉常见的数据问题处理方式，支持数据分析需求。\n"
        "岗位要求\n"
        "1、3年以上数据开发经验；\n"
        "2、熟悉 Spark、Flink 等计算框架。\n"
    )
    [posting] = parse(text, classifier=classifier).postings
    assert len(texts(posting, "responsibility")) == 3 and len(texts(posting, "requirement")) == 2
    # a list of perks under no heading stays out of the core kinds
    perks = "# Backend Engineer\n\n- Free lunch every day\n- 25 days of paid holiday\n\n## Requirements\n- Go\n- SQL\n"
    [posting] = parse(perks, classifier=classifier).postings
    assert texts(posting, "responsibility") == [] and texts(posting, "requirement") == ["Go", "SQL"]


# --- titles ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "title"),
    [
        ("【徵才-台中】網站前端工程師 Web Front-End Developer (45-55k)", "網站前端工程師 Web Front-End Developer"),
        ("[誠徵] Acme - Front end developer", "Front end developer"),
        ("[徵才] 某某國際股份有限公司徵 後端開發工程師", "後端開發工程師"),
        ("【某某電子徵才】Java 資深軟體工程師_台北內湖", "Java 資深軟體工程師"),
        ("掘金运营团队期待你的加入 - 内容运营招聘", "内容运营"),
        ("Kubernetesエンジニア（業務委託1名）", "Kubernetesエンジニア"),
        ("Marketing Lead (full-time or part-time)", "Marketing Lead (full-time or part-time)"),
    ],
)
def test_titles_lose_what_boards_wrap_around_them(heading, title):
    assert clean_title(heading) == title


def test_title_like_headings():
    assert is_title_like("Senior Interaction Designer - User Experience")
    assert not is_title_like("Requirements")
    assert not is_title_like("PostHog exists to increase the number of successful products in the world.")


def test_title_sources():
    [field] = parse("**募集職種**\n- 配送及び営業\n\n**主な仕事内容**\n- 配送\n- 営業\n").postings
    assert field.title == "配送及び営業"
    [prose] = parse(
        "Acme is seeking a person to join us as an Analytics Engineer. Nice.\n\nAbout you:\n- SQL\n"
    ).postings
    assert prose.title == "Analytics Engineer"
    [front] = parse(
        "## We build the future.\n\nText.\n\n**You'll be:**\n- Selling\n", title="Customer Success Lead"
    ).postings
    assert front.title == "Customer Success Lead"


# --- readers -----------------------------------------------------------------------------------------------


def test_html_table_rows_are_labelled_sections():
    text = html_to_text(
        "<table><tr><th>主な仕事内容</th><td>配送業務<br />営業</td></tr><tr><th>給与</th><td>月給20万円</td></tr></table>"
    )
    [posting] = parse("# 営業\n\n" + text).postings
    assert texts(posting, "responsibility") == ["配送業務", "営業"]
    assert texts(posting, "benefit") == ["月給20万円"]


def test_toml_front_matter_and_raw_html_in_a_markdown_file(tmp_path):
    from prepbot.postings.readers import read_documents

    body = "\n".join(["<div>", "<h2>Data Engineer</h2>", "<h3>Requirements</h3>", "<ul>", "<li>SQL</li>", "</ul>"] * 2)
    path = tmp_path / "job.md"
    path.write_text('+++\ntitle = "Careers"\n+++\n' + body + "\n</div>\n", encoding="utf-8")
    [doc] = read_documents(path)
    assert doc.title == "Careers" and "+++" not in doc.text and "## Data Engineer" in doc.text


# --- corrections ---------------------------------------------------------------------------------------------


def test_corrections_win_over_what_was_read():
    text = "# Engineer\n\n## Q&A\n- Do you sponsor visas?\n\n## Requirements\n- Go\n\n## Designer\n## Requirements\n- Figma\n"
    fixed = parse_document(
        Document(source="/p/x.md", text=text),
        classifier=False,
        corrections=Corrections(sections={heading_key("Q&A"): "benefit"}, split_at={heading_key("Designer")}),
    )
    assert [p.title for p in fixed.postings] == ["Engineer", "Designer"]
    assert texts(fixed.postings[0], "benefit") == ["Do you sponsor visas?"]
    assert fixed.postings[0].outline[0].how == "corrected"
    one = parse_document(
        Document(source="/p/x.md", text=text), classifier=False, corrections=Corrections(one_posting=True)
    )
    assert len(one.postings) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Requirements:\n" + "".join(" " * i + "- x\n" for i in range(3000)),  # each line deeper than the last
        ("|" + " " * 5000 + "|\n") * 100,
        "# Title" + " " * 200_000 + "x\n- a\n",
        ("[a](" * 5000) + "\n",
    ],
)
def test_hostile_layouts_parse_in_linear_time(text):
    # a quadratic rule on these takes minutes; the parser reads them in about a second
    parse_document(Document(source="/p/x.md", text=text), classifier=False)
