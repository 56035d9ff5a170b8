"""Postings and their requirement items: the data model, and turning posting text into it.

A posting ID is a readable slug plus a short content hash (``ikala-senior-data-engineer-3f2a``); a
requirement ID is ``<posting-id>/<section>-<n>`` (``.../requirement-4``), n counting from 1 per section.

Parsing is plain pattern work on lines, in English, Chinese and Japanese:

- A file holds several postings when two or more non-section headings of one Markdown level each head a
  block with section headings of its own (the seed file's ``## **title**`` blocks); otherwise it is one posting.
- A posting's sections are opened by headings (``【X】``, ``### X``, ``**X**``, ``X:`` on its own line, or a
  bare line that is nothing but a heading phrase), classified by keyword. An unknown heading opens an
  ``other`` section; an unknown deeper ``#`` heading only groups the items under it.
- Items are list entries (bullets, ``1.``, ``1)``, ``１．``, ``(1)``) and prose paragraphs. A line ending in a
  colon that introduces items is their ``group``, not an item. A one-paragraph "flattened" posting is unfolded
  first: inline ``【X】`` headings and in-order inline numbering (``1. ... 2. ...``) become lines.
- Prose before the first heading introduces the posting and is filed under ``about``; a flattened about
  paragraph stays one item (the fingerprint joins a section's items, so how prose is cut does not matter).
- Posting text is data only: nothing in it steers the parser beyond the patterns above.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice, pairwise
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from prepbot.readers import Document

Section = Literal["about", "responsibility", "requirement", "nice_to_have", "benefit", "other"]
SECTIONS: tuple[Section, ...] = ("about", "responsibility", "requirement", "nice_to_have", "benefit", "other")
Language = Literal["en", "zh-Hant", "zh-Hans", "ja"]

NEAR_DUPLICATE_JACCARD = 0.9  # share of normalised items two postings must have in common to be one posting
SLUG_MAX_CHARS = 50
CJK_SLUG_CHARS = 12


class Requirement(BaseModel):
    """One item of a posting (a requirement, a responsibility, a plus...): the unit prepbot cites."""

    id: str
    posting_id: str
    section: Section
    n: int
    group: str | None = None  # the sub-heading an item sits under, e.g. TSMC's "Digital Transformation"
    text: str


class Posting(BaseModel):
    id: str
    title: str
    company: str | None = None
    language: Language
    source: str  # the file it came from (absolute path), plus "#<k>" when a file holds several postings
    fingerprint: str  # hash of the normalised item set: equal for the same posting formatted differently
    requirements: list[Requirement] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.requirements:
            counts[item.section] = counts.get(item.section, 0) + 1
        return counts

    def items(self, section: Section) -> list[Requirement]:
        return [item for item in self.requirements if item.section == section]

    def item_keys(self) -> frozenset[str]:
        """The normalised item texts, for comparing postings regardless of formatting and order. The about
        prose counts as one key, as in the fingerprint: how it is cut into items depends on the formatting
        (the seed's flattened copy has one paragraph where the original has two)."""
        keys = {normalise(item.text) for item in self.requirements if item.section != "about"}
        about = normalise(" ".join(item.text for item in self.items("about")))
        if about:
            keys.add(about)
        return frozenset(keys)


class ParseResult(BaseModel):
    postings: list[Posting] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # one line each, naming the source


def parse_document(doc: Document) -> ParseResult:
    """Split a document into postings, each into classified, numbered items with stable IDs."""
    lines = [_unescape_line_break(line) for line in doc.text.splitlines()]
    blocks, preamble = _split_postings(lines)
    result = ParseResult()
    if any(line.strip() and not _ATX.match(line) for line in preamble):
        result.warnings.append(f"text before the first posting heading in {doc.source} was not indexed")
    for k, block in enumerate(blocks, 1):
        source = f"{doc.source}#{k}" if len(blocks) > 1 else doc.source
        title = doc.title if len(blocks) == 1 else None
        posting = _parse_posting(block, source, title, doc.company, result.warnings)
        if posting is not None:
            result.postings.append(posting)
    return result


def is_near_duplicate(a: Posting, b: Posting, threshold: float = NEAR_DUPLICATE_JACCARD) -> bool:
    """The same posting: equal fingerprints, or item sets whose Jaccard similarity reaches the threshold."""
    if a.fingerprint == b.fingerprint:
        return True
    keys_a, keys_b = a.item_keys(), b.item_keys()
    if not keys_a or not keys_b:
        return False
    return len(keys_a & keys_b) / len(keys_a | keys_b) >= threshold


def find_duplicates(postings: Iterable[Posting]) -> list[tuple[Posting, Posting]]:
    """(kept, duplicate) pairs: each posting that repeats an earlier one, paired with the first it repeats."""
    kept: list[Posting] = []
    pairs: list[tuple[Posting, Posting]] = []
    for posting in postings:
        original = next((k for k in kept if is_near_duplicate(posting, k)), None)
        if original is None:
            kept.append(posting)
        else:
            pairs.append((original, posting))
    return pairs


_NOT_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Text reduced to what survives reformatting: NFKC, case-folded, punctuation and symbols dropped."""
    return _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


# --- splitting a file into postings ---------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)[\s#]*$")


def _unescape_line_break(line: str) -> str:
    # A trailing backslash is a Markdown hard line break (the seed has one on a line of its own).
    stripped = line.rstrip()
    return stripped[:-1] if stripped.endswith("\\") else line


def _split_postings(lines: list[str]) -> tuple[list[list[str]], list[str]]:
    """The postings' line blocks, and the lines before the first one (a document title, front matter)."""
    titles = [(i, len(m[1])) for i, line in enumerate(lines) if (m := _ATX.match(line)) and not _classify(m[2])]
    for depth in sorted({d for _, d in titles}):
        starts = [i for i, d in titles if d == depth]
        blocks = [lines[a:b] for a, b in pairwise([*starts, len(lines)])]
        if len(list(islice(filter(_has_sections, blocks), 2))) == 2:
            return blocks, lines[: starts[0]]
    return [lines], []


def _has_sections(lines: list[str]) -> bool:
    return any(isinstance(e, _Heading) and e.section for e in _entries(lines))


def _parse_posting(
    lines: list[str], source: str, title: str | None, company: str | None, warnings: list[str]
) -> Posting | None:
    heading_title, body = _take_title_headings(lines)
    title = title or heading_title
    if title is None:
        title, body = _take_title_line(body)
    title = title or Path(source.split("#", 1)[0]).stem
    items, recognised = _items(_entries(body))
    if not items:
        warnings.append(f"no text items in {source}; no posting indexed")
        return None
    if not recognised:
        items = [_Item("other", item.group, item.text) for item in items]
        warnings.append(f"no recognisable sections in {source}; indexed {len(items)} paragraphs as 'other'")
    fingerprint = _fingerprint(items)
    about = [item.text for item in items if item.section == "about"]
    company = company or find_company("\n".join(lines), about)
    posting_id = f"{_slug(company, title)}-{fingerprint[:4]}"
    numbers: Counter[str] = Counter()
    requirements = []
    for item in items:
        numbers[item.section] += 1
        n = numbers[item.section]
        requirements.append(
            Requirement(
                id=f"{posting_id}/{item.section}-{n}",
                posting_id=posting_id,
                section=item.section,
                n=n,
                group=item.group,
                text=item.text,
            )
        )
    return Posting(
        id=posting_id,
        title=title,
        company=company,
        language=detect_language(" ".join([title, *(item.text for item in items)])),
        source=source,
        fingerprint=fingerprint,
        requirements=requirements,
    )


def _take_title_headings(lines: list[str]) -> tuple[str | None, list[str]]:
    """The title from the # or bold headings that open a block (the last, most specific one), and the rest.
    After the first, a heading as deep as the block's section headings is a section of its own, not a title:
    an intro heading the keywords do not know ("## 職缺說明" beside "## 工作內容") must not replace "# Title"."""
    section_depth = min((len(m[1]) for line in lines if (m := _ATX.match(line)) and _classify(m[2])), default=None)
    title, rest = None, lines
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        heading = _heading(line)
        if heading is None or heading.section is not None or not (_ATX.match(line) or _BOLD_LINE.match(line)):
            break
        if title is not None and heading.depth and section_depth and heading.depth >= section_depth:
            break
        title, rest = heading.text, lines[i + 1 :]
    return title, rest


def _take_title_line(lines: list[str]) -> tuple[str | None, list[str]]:
    """A first line short enough to be a title, when no heading gives one."""
    for i, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        looks_like_a_title = len(text) <= 80 and text[-1] not in _TERMINAL + ":："
        if looks_like_a_title and not _marker(line) and not _classify(text, bare=True):
            return _clean(text), lines[i + 1 :]
        break
    return None, lines


# --- headings and their sections -------------------------------------------------------------------------

# Checked in this order, so the more specific wins: "Preferred qualifications" is a plus, not a requirement,
# and "About you" describes the candidate. English keywords match at a word start ("benefit" -> "Benefits").
_SECTION_KEYWORDS: dict[Section, tuple[str, ...]] = {
    "nice_to_have": (
        "nice to have", "nice-to-have", "plus", "bonus", "preferred", "desirable", "desired", "good to have",
        "加分", "尚可", "優先", "优先", "歓迎",
    ),
    "benefit": (
        "benefit", "perk", "what we offer", "we offer", "compensation", "salary", "why join",
        "福利", "待遇", "薪資", "薪资", "薪酬", "給与", "年収", "休日",
    ),
    "requirement": (
        "requirement", "qualification", "must have", "must-have", "who you are", "about you",
        "what we're looking for", "what we are looking for", "what you need", "what you'll need",
        "what you will need", "what you bring", "what you'll bring", "skills",
        "要求", "資格", "资格", "必須", "必要", "求める",
    ),
    "about": (
        "about", "what to expect", "who we are", "overview", "introduction", "our company",
        "關於", "关于", "会社概要", "会社紹介", "公司介紹", "公司介绍", "公司簡介", "公司简介", "企業概要",
        "募集背景", "團隊介紹", "团队介绍", "職缺說明", "职缺说明", "ポジション概要",
    ),
    "responsibility": (
        "responsibilit", "what you will be doing", "what you'll be doing", "what you will do", "what you'll do",
        "what you do", "duties", "the role", "your role", "your mission", "day to day",
        "工作內容", "工作内容", "職責", "职责", "業務内容", "仕事内容", "職務內容", "职务内容", "職務内容",
        "工作說明", "工作说明", "担当業務",
    ),
}  # fmt: skip
_SECTION_PATTERNS = [
    (section, re.compile("|".join(rf"\b{re.escape(k)}\w*" if k.isascii() else re.escape(k) for k in keywords)))
    for section, keywords in _SECTION_KEYWORDS.items()
]
# Words that may stand beside a keyword in a bare heading line ("Key Responsibilities", "Required skills").
_HEADING_FILLER = frozenset(
    "job key the our your you we and minimum basic required preferred desired additional technical core main "
    "position role".split()
)
_HEADING_MAX_WORDS = 8
_HEADING_MAX_CHARS = 50
_BARE_HEADING_MAX_CJK_LEFTOVER = 4  # "任職" in 任職要求, "スキル" in 必須スキル

_LENTICULAR = re.compile(r"【([^【】\n]{1,40})】")
# "Requirements: 1. ..." inside a paragraph: a phrase after a sentence end, a colon, then a list number.
_INLINE_COLON_HEADING = re.compile(
    r"(?:^|(?<=[.。;；!！?？]))\s*([^.。;；!！?？:：\n]{1,50}?)\s*[:：]\s*(?=\d{1,2}[.．)、]|[(（]\d{1,2}[)）])"
)
_LENTICULAR_LINE = re.compile(r"^\s*【([^【】\n]{1,40})】\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)((?:(?!\*\*|__).)+?)(?:\*\*|__)\s*[:：]?\s*$")
_COLON_LINE = re.compile(r"^\s*(.{1,50}?)\s*[:：]\s*$")
_CJK_ORDINAL = re.compile(r"^\s*[一二三四五六七八九十]+\s*[、.．]\s*")  # 一、岗位职责
_TERMINAL = ".。!！?？;；"


@dataclass
class _Heading:
    section: Section | None  # None: not a known section
    text: str
    depth: int | None  # the Markdown level of a # heading; None for the other forms


def _classify(heading: str, *, bare: bool = False) -> Section | None:
    """The section a heading names, if any. A bare line (no colon or markup) must be nothing but a heading
    phrase, so that an item such as "Strong communication skills" is not taken for one."""
    text = _heading_text(heading).lower().replace("’", "'")
    if len(text) > _HEADING_MAX_CHARS or len(text.split()) > _HEADING_MAX_WORDS:
        return None
    for section, pattern in _SECTION_PATTERNS:
        if pattern.search(text):
            if bare and not _only_heading_words(pattern.sub(" ", text)):
                return None
            return section
    return None


def _only_heading_words(leftover: str) -> bool:
    filler_only = all(word in _HEADING_FILLER for word in re.findall(r"[a-z']+", leftover))
    return filler_only and len(_CJK.findall(leftover)) <= _BARE_HEADING_MAX_CJK_LEFTOVER


def _heading_text(text: str) -> str:
    """A heading or title without its markup: bold, 【】, a trailing colon, a 一、 ordinal."""
    text = _CJK_ORDINAL.sub("", text.replace("**", "").replace("__", ""))
    text = text.strip().strip("【】").strip().rstrip(":：").strip()
    return " ".join(text.split())


def _heading(line: str) -> _Heading | None:
    """The heading a whole line is, if it is one."""
    if match := _ATX.match(line):
        return _Heading(_classify(match[2]), _heading_text(match[2]), len(match[1]))
    if match := _LENTICULAR_LINE.match(line) or _BOLD_LINE.match(line):
        return _Heading(_classify(match[1]), _heading_text(match[1]), None)
    if _marker(line):
        return None
    explicit = _COLON_LINE.match(line) or _CJK_ORDINAL.match(line)
    section = _classify(line, bare=not explicit)
    if section is None:
        return None
    return _Heading(section, _heading_text(line), None)


# --- lines and items -----------------------------------------------------------------------------------

_PAREN_MARKER = re.compile(r"^(\s*)[(（]\d{1,2}[)）]\s*")
_NUMBER_MARKER = re.compile(r"^(\s*)(?:\d{1,2}(?:[.．、)）])(?!\d)|[①-⑳])\s*")
_BULLET_MARKER = re.compile(r"^(\s*)(?:[-*+]\s+|[•・●▪◦■◆▶➤✓✔]\s*)")
# Inline list numbers start a line, or follow a space or a CJK sentence end; "3.8+" is not one.
_INLINE_NUMBER = re.compile(r"(?:^|(?<=[\s。；;：:]))(\d{1,2})[.．)](?!\d)")
_INLINE_PAREN = re.compile(r"[(（](\d{1,2})[)）]")  # in order from (1), so "f(1)" alone never cuts
_CJK = re.compile(r"[\u3040-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")  # not ・, a separator


@dataclass
class _Line:
    text: str  # without its list marker, whitespace collapsed
    level: tuple[int, int]  # (indent, rank): a "(1)" sub-item ranks below a "1." item at the same indent
    marker: bool  # a list entry rather than prose
    after_break: bool  # a blank line or a heading comes before it


@dataclass
class _Item:
    section: Section
    group: str | None
    text: str


def _marker(line: str) -> re.Match[str] | None:
    return _PAREN_MARKER.match(line) or _NUMBER_MARKER.match(line) or _BULLET_MARKER.match(line)


def _clean(text: str) -> str:
    """Item text as stored and cited: bold markup dropped, whitespace collapsed."""
    return " ".join(text.replace("**", "").split())


def _entries(lines: list[str]) -> list[_Heading | _Line]:
    entries: list[_Heading | _Line] = []
    after_break = True
    for raw in lines:
        for line in _unflatten(raw):
            heading = _heading(line) if line.strip() else None
            if heading is not None:
                entries.append(heading)
            elif line.strip():
                entries.append(_line(line, after_break))
            after_break = heading is not None or not line.strip()
    return entries


def _line(line: str, after_break: bool) -> _Line:
    marker = _marker(line)
    indent = len(re.match(r"\s*", line)[0].expandtabs(4))  # type: ignore[index]
    if marker is None:
        return _Line(_clean(line), (indent, 0), False, after_break)
    rank = 1 if marker.re is _PAREN_MARKER else 0
    return _Line(_clean(line[marker.end() :]), (indent, rank), True, after_break)


def _unflatten(line: str) -> list[str]:
    """One physical line as the lines it stands for: a posting pasted as one paragraph has its headings
    and numbered items inline."""
    if not line.strip():
        return [line]
    lines = []
    for piece in _split_at_inline_headings(line):
        for numbered in _split_sequence(piece, _INLINE_NUMBER):
            lines.extend(_split_sequence(numbered, _INLINE_PAREN))
    return lines


def _split_at_inline_headings(line: str) -> list[str]:
    found = [*_LENTICULAR.finditer(line), *_INLINE_COLON_HEADING.finditer(line)]
    cuts: list[int] = []
    for start, end in sorted(m.span() for m in found if _classify(m[1])):
        if not cuts or start >= cuts[-1]:  # 【要求】：1. ... matches both forms
            cuts += [start, end]
    if not cuts:
        return [line]
    return [piece for a, b in pairwise([0, *cuts, len(line)]) if (piece := line[a:b].strip())]


def _split_sequence(text: str, numbers: re.Pattern[str]) -> list[str]:
    """Cut a line before inline "1." "2." "3." ... (or "(1)" "(2)" ...) when they appear in order."""
    cuts, expected = [], 1
    for match in numbers.finditer(text):
        if int(match[1]) == expected:
            cuts.append(match.start())
            expected += 1
    if len(cuts) < 2:
        return [text]
    return [piece for a, b in pairwise([0, *cuts, len(text)]) if (piece := text[a:b].strip())]


def _items(entries: list[_Heading | _Line]) -> tuple[list[_Item], bool]:
    """The items in order with their sections and groups, and whether any heading named a known section."""
    items: list[_Item] = []
    section: Section = "about"  # prose before the first heading introduces the posting
    recognised = False
    depth: int | None = None  # Markdown level of the heading that opened the section
    group: str | None = None
    group_level: tuple[int, int] | None = None  # level of the group's first item; a shallower one ends it
    previous: _Line | None = None  # the line an unmarked line may continue
    for i, entry in enumerate(entries):
        if isinstance(entry, _Heading):
            previous = None
            if entry.section is None and entry.depth and depth and entry.depth > depth:
                group, group_level = entry.text, None
                continue
            section, depth = entry.section or "other", entry.depth
            recognised = recognised or entry.section is not None
            group, group_level = (None if entry.section else entry.text), None
            continue
        if not entry.text:
            continue
        if group_level is not None and entry.level < group_level:
            group, group_level = None, None
        following = entries[i + 1] if i + 1 < len(entries) else None
        if entry.text[-1] in ":：" and isinstance(following, _Line) and following.level >= entry.level:
            group, group_level, previous = _heading_text(entry.text), None, None
            continue
        if previous is not None and _continues(previous, entry):
            items[-1].text += " " + entry.text
        else:
            if group is not None and group_level is None:
                group_level = entry.level
            items.append(_Item(section, group, entry.text))
        previous = entry
    return items, recognised


def _continues(previous: _Line, line: _Line) -> bool:
    """Whether an unmarked line is the wrapped rest of the line before it rather than a new item.
    Lists without markers (one item a line) are common in pasted postings, so only clear cases join."""
    if line.marker or line.after_break:
        return False
    return (
        line.level[0] > previous.level[0]
        or ("a" <= line.text[0] <= "z")
        or (len(previous.text) >= 60 and previous.text[-1] not in _TERMINAL)
    )


# --- identity: fingerprint and slug -------------------------------------------------------------------


def _fingerprint(items: list[_Item]) -> str:
    # Each section's items are joined before normalising, so a paragraph cut into two items and the
    # same text as one item (the seed's flattened copy) hash alike.
    parts = []
    for section in SECTIONS:
        text = normalise(" ".join(item.text for item in items if item.section == section))
        if text:
            parts.append(f"{section}\t{text}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _slug(company: str | None, title: str) -> str:
    """Lowercase ASCII words of company and title, cut at a word boundary (``ikala-senior-data-engineer``)."""
    company_words = _slug_words(company) if company else []
    title_words = _slug_words(title)
    if title_words[: len(company_words)] == company_words:
        company_words = []  # the title already starts with the company
    slug = ""
    for word in company_words + title_words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > SLUG_MAX_CHARS:
            break
        slug = candidate
    return slug or (company_words + title_words + ["posting"])[0][:SLUG_MAX_CHARS]


def _slug_words(name: str) -> list[str]:
    """A bilingual name ("資深數據工程師 Senior Data Engineer") gives its Latin words. A name that is mostly
    CJK keeps its CJK runs too, up to 12 characters, so a Chinese or Japanese title still reads as itself."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    latin = re.findall(r"[a-z0-9]+", ascii_name)
    if sum(map(len, latin)) >= len(_CJK.findall(name)):
        return latin
    words, budget = [], CJK_SLUG_CHARS
    for run in re.findall(rf"{_CJK.pattern}+|[A-Za-z0-9]+", unicodedata.normalize("NFKC", name)):
        if _CJK.match(run):
            run, budget = run[:budget], budget - len(run[:budget])
        if run:
            words.append(run.lower())
    return words


# --- language and company ------------------------------------------------------------------------------

# Common characters whose Traditional and Simplified forms differ (Traditional first in each pair).
_HANT_HANS = """
資资 數数 經经 與与 發发 個个 們们 來来 時时 會会 對对 學学 說说 為为 國国 這这 過过 還还 進进 開开
關关 實实 現现 點点 題题 問问 體体 機机 電电 處处 應应 變变 從从 動动 當当 頭头 長长 義义 見见 認认 語语 讀读 寫写
術术 業业 務务 專专 區区 產产 質质 統统 計计 設设 網网 絡络 庫库 據据 構构 測测 試试 維维 護护 權权 參参 協协 調调
溝沟 團团 隊队 負负 責责 職职 驗验 優优 勢势 強强 極极 環环 際际 創创 華华 車车 書书 習习 價价 買买 賣卖 標标 層层
級级 線线 練练 運运 營营 報报 導导 規规 劃划 達达 將将 後后 聯联 隨随 斷断 織织 條条 檔档 聽听 觀观 視视 歡欢 親亲
愛爱 記记 億亿 萬万 東东 門门 間间 讓让 談谈 話话 識识 論论 證证 請请 課课 評评 議议 購购 費费 員员 圖图 場场 備备
傳传 儲储 內内 氣气 無无 熱热 獎奖 畫画 確确 碼码 礎础 種种 穩稳 積积 簡简 節节 紀纪 約约 組组 結结 給给 綜综 編编
總总 績绩 續续 腦脑 興兴 舉举 藝艺 號号 補补 複复 覺觉 訊讯 訓训 許许 詞词 該该 詳详 講讲 謝谢 豐丰 財财 貢贡 貴贵
軍军 軟软 輕轻 載载 輔辅 輸输 轉转 辦办 遠远 適适 選选 邊边 醫医 銷销 錄录 錯错 鍵键 鏈链 閱阅 險险 雖虽 雙双 離离
難难 雲云 響响 頁页 項项 順顺 須须 預预 領领 頻频 額额 顧顾 顯显 風风 飛飞 館馆 驅驱 麼么 齊齐 龍龙 師师 決决
""".split()
_TRADITIONAL = frozenset(pair[0] for pair in _HANT_HANS)
_SIMPLIFIED = frozenset(pair[1] for pair in _HANT_HANS)
_KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]")  # not ・ or ー, which Chinese text borrows
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
# Japanese prose is a third or more kana, Chinese has none; a Chinese posting quoting a Japanese line (an
# injected instruction, a product name) stays well below this share of its whole text.
_JAPANESE_KANA_SHARE = 0.15


def detect_language(text: str) -> Language:
    """en when Latin words outnumber CJK characters (English bodies under Chinese titles); ja when kana is
    a noticeable share of the CJK text; otherwise Traditional or Simplified Chinese by the characters that
    differ, ties going to Traditional (prepbot's seed postings and Big5 files come from Taiwan)."""
    kana = len(_KANA.findall(text))
    han = len(_HAN.findall(text))
    if kana + han < len(_LATIN_WORD.findall(text)) or kana + han == 0:
        return "en"
    if kana >= _JAPANESE_KANA_SHARE * (kana + han):
        return "ja"
    simplified = sum(ch in _SIMPLIFIED for ch in text)
    traditional = sum(ch in _TRADITIONAL for ch in text)
    return "zh-Hans" if simplified > traditional else "zh-Hant"


# A company name as written in English: words with a capital letter ("iKala", "ACME Corp", "Harbor & Finch").
_NAME = r"([a-z0-9]*[A-Z][\w&.-]*(?:[ \t]+(?:&[ \t]+)?[A-Z][\w&.-]*){0,3})"
_COMPANY_PATTERNS = [
    re.compile(r"(?:公司|公司名稱|公司名称|企業名|会社名)\s*[:：]\s*([^\s，,。；;、]+)"),
    # 株式会社 then katakana, kanji or Latin, up to the particle or punctuation that ends the name; a name
    # before 株式会社 is katakana or Latin only, or it would swallow the kanji words in front of it
    re.compile(r"(株式会社[\u30a1-\u30fa\u30fc\u4e00-\u9fffA-Za-z0-9・&]+)"),
    re.compile(r"([\u30a1-\u30fa\u30fcA-Za-z0-9・&]+株式会社)"),
    re.compile(rf"\b[Hh]ere at {_NAME}"),
    re.compile(rf"\b[Aa]t {_NAME},? we\b"),
    re.compile(rf"\b{_NAME} is hiring\b"),
    re.compile(rf"^\W*About {_NAME}\W*$", re.MULTILINE),
]
# An about paragraph that opens by saying what a named business is or does ("Northwind Ledger builds ...",
# "雲杉數位是一家..."): there the subject is the employer. Only the opening words count, and only in about
# prose, where a requirement line such as "Python is a must" cannot be. 一家/一間 are the measure words for a
# business; a pronoun subject (我們是一家..., "We are a ...") names nobody.
_INTRODUCTION_PATTERNS = [
    re.compile(
        rf"^{_NAME} (?:is|was|builds|develops|makes|provides|offers|operates|runs|sells|serves|helps|powers)\b"
    ),
    re.compile(r"^(?![我本這这該该此])([\u4e00-\u9fffA-Za-z0-9&·・]{2,20}?)是一[家間间]"),
]
_POSSESSIVE = re.compile(r"\b([A-Z]{2,}|[a-z]+[A-Z]\w*)['’]s\b")
# Words with capitals that follow "About", "at" or "'s" without being companies.
_NOT_COMPANIES = frozenset(
    "Us You The This Our Your We Role Team Company Job It AI ML API LLM NLP GPU CPU IT HR QA US UK EU CEO CTO "
    "SaaS".split()
)


def find_company(text: str, about: Iterable[str] = ()) -> str | None:
    """The company a posting names about itself ("Here at iKala", "TSMC's", "公司：X", "株式会社X", an about
    paragraph opening "X is ..."), or None: a company is never guessed. A possessive counts only for a name
    the text repeats."""
    searches = [(pattern, text) for pattern in _COMPANY_PATTERNS]
    searches += [(pattern, paragraph) for pattern in _INTRODUCTION_PATTERNS for paragraph in about]
    for pattern, searched in searches:
        for match in pattern.finditer(searched):
            name = match[1].rstrip(".-")
            if name and name.split()[0] not in _NOT_COMPANIES:
                return name
    for match in _POSSESSIVE.finditer(text):
        name = match[1]
        if name not in _NOT_COMPANIES and len(re.findall(rf"\b{re.escape(name)}\b", text)) >= 2:
            return name
    return None
