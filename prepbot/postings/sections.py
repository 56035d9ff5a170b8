"""What kind of section a heading opens, and what kind of content a list of lines is.

Two readers, the second only where the first knows nothing:
- **words** (``lexicon.py``): a keyword of a kind in the heading. In English the longest keyword wins; in
  Chinese and Japanese the keyword that ends last (the head noun of the phrase: この仕事の魅力 is about the
  job's appeal, a benefit, not the job). A nice-to-have word anywhere makes a nice-to-have ("Preferred
  qualifications", 歓迎スキル).
- **meaning** (``SectionClassifier``): the multilingual embedder against labelled prototype headings and
  prototype lines in English, Simplified and Traditional Chinese and Japanese; a heading is given the kind
  of its nearest prototypes when they are near enough and clearly nearer than any other kind's.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from prepbot.postings.lexicon import HEADING_FILLER, SECTION_KEYWORDS
from prepbot.postings.models import Section
from prepbot.text import CJK

Embed = Callable[[list[str]], Any]

HEADING_MAX_CHARS = 60
HEADING_MAX_WORDS = 10
BARE_MAX_CJK_LEFTOVER = 4  # "任職" in 任職要求, "スキル" in 必須スキル
# Meaning: the mean cosine of a kind's 3 nearest prototypes must reach this, and beat every other kind's by
# MARGIN; measured on headings of the real postings that the keywords do not cover.
MEANING_MIN = 0.42
MEANING_MARGIN = 0.03
CONTENT_MIN = 0.30
CONTENT_MARGIN = 0.02
CHOICE_MARGIN = 0.05  # a forced choice between a few kinds (a list under no heading): the winner's lead


def _keyword_pattern(keyword: str) -> str:
    """A Latin keyword at a word start; one word may run on ("benefit" -> "Benefits"), a phrase may not
    ("about you" is not in "about your team")."""
    if not keyword.isascii():
        return re.escape(keyword)
    return rf"\b{re.escape(keyword.lower())}" + (r"\w*" if " " not in keyword else r"\b")


_ORDER = {kind: i for i, (kind, _) in enumerate(SECTION_KEYWORDS)}
_PATTERNS = [
    (kind, re.compile("|".join(_keyword_pattern(k) for k in sorted(words, key=len, reverse=True))))
    for kind, words in SECTION_KEYWORDS
]
_ANY_KEYWORD = re.compile("|".join(f"(?:{pattern.pattern})" for _, pattern in _PATTERNS))
_TRAILING_PAREN = re.compile(r"[(（][^()（）]*[)）]\s*$")


def _lexicon_text(heading: str) -> str:
    text = heading.lower().replace("’", "'")
    while True:  # 給与（高卒） -> 給与, 必須（MUST） -> 必須: the head noun stands before a trailing note
        stripped = _TRAILING_PAREN.sub("", text).strip()
        if stripped == text or not stripped:
            break
        text = stripped
    return text


@functools.lru_cache(maxsize=65536)
def words_kind(heading: str, *, bare: bool = False) -> Section | None:
    """The kind a heading's words name, if any. A bare line (no colon or markup) must be nothing but a
    heading phrase, so that an item such as "Strong communication skills" is not taken for one."""
    text = _lexicon_text(heading)
    if not text or len(text) > HEADING_MAX_CHARS or len(text.split()) > HEADING_MAX_WORDS:
        return None
    if not _ANY_KEYWORD.search(text):
        return None
    matches: list[tuple[Section, int, int]] = []
    for kind, pattern in _PATTERNS:
        matches.extend((kind, m.start(), m.end()) for m in pattern.finditer(text))
    if not matches:
        return None
    if bare and not _only_heading_words(text, matches):
        return None
    if any(kind == "nice_to_have" for kind, _, _ in matches):
        return "nice_to_have"
    cjk = len(CJK.findall(text)) >= len(re.findall(r"[a-z]+", text))
    if cjk:
        best = max(matches, key=lambda m: (m[2], m[2] - m[1], -_ORDER[m[0]]))
    else:
        best = max(matches, key=lambda m: (m[2] - m[1], -_ORDER[m[0]]))
    return best[0]


def _only_heading_words(text: str, matches: list[tuple[Section, int, int]]) -> bool:
    keep = [True] * len(text)
    for _, start, end in matches:
        for i in range(start, end):
            keep[i] = False
    leftover = "".join(ch if k else " " for ch, k in zip(text, keep))
    filler_only = all(word in HEADING_FILLER for word in re.findall(r"[a-z']+", leftover))
    return filler_only and len(CJK.findall(leftover)) <= BARE_MAX_CJK_LEFTOVER


# Prototype headings per kind, in the four languages. Written for this classifier; the real postings it is
# measured on are not among them.
PROTOTYPE_HEADINGS: dict[Section, tuple[str, ...]] = {
    "responsibility": (
        "What you will do", "Your responsibilities", "The job", "What your day looks like", "Your tasks",
        "What you'll work on", "Key duties", "In this role you will", "Your impact", "What the job involves",
        "主要工作", "職務說明", "你將負責", "你会做什么", "岗位描述", "你的工作", "日常工作",
        "職務の内容", "担当していただく業務", "具体的な業務", "お任せしたいこと", "主な業務", "ミッション",
    ),
    "requirement": (
        "Requirements", "What we're looking for", "Who you are", "You might be a fit if", "Must have",
        "What you need to succeed", "Minimum qualifications", "We'd love to hear from you if", "Skills needed",
        "You should apply if", "Your profile", "What you bring to the team",
        "應徵條件", "必要條件", "我們希望你", "任职条件", "我们希望你具备", "你需要具备",
        "求める経験", "こんな方を求めています", "必須要件", "応募条件", "必要なスキル",
    ),
    "nice_to_have": (
        "Nice to have", "Bonus points", "Preferred qualifications", "It's a plus if", "Even better if you",
        "Would be great to have", "Extra points for", "Optional skills",
        "加分項目", "有以下經驗者優先", "优先条件", "有以下经验者优先",
        "歓迎要件", "あれば尚可", "尚可スキル", "こんな方は大歓迎",
    ),
    "benefit": (
        "Benefits", "What we offer", "Perks", "Compensation", "Why join us", "What's in it for you",
        "Salary and benefits", "Life at the company",
        "福利制度", "員工福利", "薪資待遇", "福利待遇", "薪资福利", "我们提供",
        "待遇・福利厚生", "給与・賞与", "働く魅力", "社員の特典",
    ),
    "about": (
        "About us", "Who we are", "Our company", "About the team", "Our mission", "What we do",
        "Company overview", "Our story", "Our values",
        "關於我們", "公司介紹", "團隊介紹", "关于我们", "公司简介", "团队介绍",
        "私たちについて", "チーム紹介", "会社紹介", "事業について",
    ),
    "process": (
        "How to apply", "Application process", "Interview process", "Next steps", "Contact us",
        "Hiring process", "Apply now",
        "應徵方式", "面試流程", "聯絡方式", "应聘方式", "面试流程", "联系方式",
        "選考フロー", "選考プロセス", "応募の流れ",
    ),
    "other": (
        "Location", "Working hours", "Contract type", "Tools we use", "Tech stack", "FAQ", "Notes",
        "上班時間", "辦公地址", "技术栈", "常見問題",
        "勤務場所", "就業時間", "契約期間", "技術スタック", "よくある質問",
    ),
}  # fmt: skip

# Prototype lines of each kind's content, for a list or paragraph with no heading that names it.
PROTOTYPE_LINES: dict[Section, tuple[str, ...]] = {
    "responsibility": (
        "Design, build and maintain our data pipelines", "Work with customers to understand their needs",
        "Own the roadmap for the product", "You will lead the migration to the new platform",
        "Write documentation and review code", "Analyse results and report to the management team",
        "負責後端服務的設計與開發", "與產品團隊合作規劃新功能", "负责推荐系统的算法研发与优化", "参与需求分析和方案设计",
        "サーバーの運用と保守を担当していただきます", "新機能の設計と開発", "顧客への提案と導入支援",
    ),
    "requirement": (
        "3+ years of experience with Python", "Strong SQL skills", "Bachelor's degree in computer science",
        "Excellent communication skills", "Experience building web applications", "You have shipped products",
        "熟悉 Java 與 Spring 框架", "三年以上相關工作經驗", "具备良好的沟通能力", "本科及以上学历，计算机相关专业",
        "Linuxの実務経験3年以上", "Goでの開発経験", "日本語ビジネスレベル",
    ),
    "benefit": (
        "Health insurance and paid vacation", "Flexible working hours", "Competitive salary and equity",
        "年終獎金與員工旅遊", "五险一金，带薪年假", "交通費支給、各種社会保険完備",
    ),
    "about": (
        "We are a fast-growing startup building tools for developers", "Our team is based in Taipei",
        "我們是一間專注於金融科技的新創公司", "我们是一家专注于人工智能的公司", "当社はクラウドサービスを提供する企業です",
    ),
    "other": (
        "Location: Tokyo", "Remote: No", "Job ID: 12345", "Full-time, 40 hours per week",
        "工作地點：台北市", "工作地点：北京", "勤務地：東京都",
    ),
}  # fmt: skip


class SectionClassifier:
    """Kinds by meaning, from an embedding function (texts -> unit vectors). Prototypes are embedded once
    per classifier; results are cached by text, since headings repeat across postings."""

    def __init__(self, embed: Embed):
        self._embed = embed
        self._lock = threading.Lock()
        self._headings: tuple[np.ndarray, list[Section]] | None = None
        self._lines: tuple[np.ndarray, list[Section]] | None = None
        self._cache: dict[str, Section | None] = {}

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self._embed(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)

    def _prototypes(self, table: dict[Section, tuple[str, ...]]) -> tuple[np.ndarray, list[Section]]:
        kinds = [kind for kind, texts in table.items() for _ in texts]
        return self._vectors([text for texts in table.values() for text in texts]), kinds

    def heading_kind(self, heading: str) -> Section | None:
        key = "h\t" + heading
        if key in self._cache:
            return self._cache[key]
        with self._lock:
            if self._headings is None:
                self._headings = self._prototypes(PROTOTYPE_HEADINGS)
            matrix, kinds = self._headings
        kind = _nearest(self._vectors([heading])[0], matrix, kinds, MEANING_MIN, MEANING_MARGIN)
        self._cache[key] = kind
        return kind

    def content_kind(self, lines: Sequence[str], among: Sequence[Section] | None = None) -> Section | None:
        """The kind of a block of lines (a list or paragraphs under no telling heading), by the mean of its
        lines' votes; None when no kind is near enough. With ``among``, a choice between those kinds alone:
        the nearest wins by CHOICE_MARGIN, however near it is."""
        lines = [line for line in lines if line.strip()][:12]
        if not lines:
            return None
        with self._lock:
            if self._lines is None:
                self._lines = self._prototypes(PROTOTYPE_LINES)
            matrix, kinds = self._lines
        scores = _kind_scores(self._vectors(lines), matrix, kinds).mean(axis=0)
        if among is not None:
            return _pick(np.where([kind in among for kind in _KINDS], scores, -1.0), -1.0, CHOICE_MARGIN)
        return _pick(scores, CONTENT_MIN, CONTENT_MARGIN)


_KINDS: list[Section] = ["responsibility", "requirement", "nice_to_have", "benefit", "about", "process", "other"]


def _kind_scores(vectors: np.ndarray, matrix: np.ndarray, kinds: list[Section]) -> np.ndarray:
    """Per vector and kind: the mean cosine of the kind's 3 nearest prototypes (-1 for a kind with none)."""
    sims = vectors @ matrix.T
    out = np.full((len(vectors), len(_KINDS)), -1.0, dtype=np.float32)
    for j, kind in enumerate(_KINDS):
        columns = [i for i, k in enumerate(kinds) if k == kind]
        if columns:
            top = np.sort(sims[:, columns], axis=1)[:, -3:]
            out[:, j] = top.mean(axis=1)
    return out


def _pick(scores: np.ndarray, minimum: float, margin: float) -> Section | None:
    order = np.argsort(scores)[::-1]
    best, second = scores[order[0]], scores[order[1]]
    if best < minimum or best - second < margin:
        return None
    return _KINDS[int(order[0])]


def _nearest(vector: np.ndarray, matrix: np.ndarray, kinds: list[Section], minimum: float, margin: float):
    return _pick(_kind_scores(vector[None, :], matrix, kinds)[0], minimum, margin)


_DEFAULT: SectionClassifier | None = None
_DEFAULT_LOCK = threading.Lock()


def default_classifier() -> SectionClassifier | None:
    """A classifier on the default embedder (USE multilingual, shipped offline); None where it cannot load."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            try:
                from prepbot.retrieval.embedders import get_embedder

                _DEFAULT = SectionClassifier(get_embedder("use").embed)
            except Exception:  # no embedder here: the words alone decide
                return None
        return _DEFAULT
