"""A CV's text as claims: one line each, of the kind its section says (a role with its dates, an achievement
under that role, a skill line, a degree...), numbered within its kind for stable IDs.

Sections come from their headings' words in English, Chinese and Japanese (``SECTION_WORDS``); a line with a
date range inside the experience section is a role, and the lines under it are its achievements. Lines
before the first section are the name, the contact lines (never stored) and a profile.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from prepbot.cv.models import CV, Claim, ClaimKind
from prepbot.postings.identity import slug
from prepbot.postings.lines import Entry, entries
from prepbot.text import CJK, detect_language, normalise

ID_HASH_CHARS = 6
MAX_CLAIMS = 400  # a CV has 20-100 lines; past this it is not a CV
CLAIM_MAX_CHARS = 600
HEADING_MAX_CHARS = 40
NAME_MAX_CHARS = 60

SectionKind = str  # a ClaimKind or "experience"
# Checked in this order, so that 教育经历 is education and 项目经历 a project before 经历 makes experience.
SECTION_WORDS: tuple[tuple[SectionKind, tuple[str, ...]], ...] = (
    ("education", ("education", "academic", "degree", "教育", "学历", "學歷", "学歴", "学位")),
    ("project", ("project", "portfolio", "open source", "项目", "項目", "專案", "プロジェクト", "開発実績", "作品")),
    ("certification", ("certif", "licen", "award", "honor", "证书", "證書", "證照", "资格", "資格", "免許", "受賞", "获奖", "獲獎")),
    ("skill", ("skill", "programming", "technolog", "tech stack", "tools", "competenc", "expertise", "技能", "技術", "技术", "专长", "專長", "スキル", "知識")),
    ("language", ("language", "语言", "語言", "語学", "言語")),
    ("summary", ("summary", "profile", "about me", "objective", "introduction", "简介", "簡介", "自我评价", "自我評價", "自我介绍", "自我介紹", "自己pr", "職務要約", "概要", "个人优势", "個人優勢", "求职意向", "求職意向")),
    ("experience", ("experience", "employment", "work history", "career", "经历", "經歷", "工作经验", "工作經驗", "職歴", "経歴", "職務内容", "業務経験")),
)  # fmt: skip

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_YEAR = rf"(?:{_MONTH}\s*)?(?:19|20)\d{{2}}(?:\s*[./年-]\s*\d{{1,2}}\s*月?)?"
_NOW = r"(?:present|now|current|today|至今|现在|現在|今|在職中|現職|迄今)"
DATE_RANGE = re.compile(rf"{_YEAR}\s*(?:-|–|—|~|～|〜|to|至|到|－)\s*(?:{_YEAR}|{_NOW})", re.IGNORECASE)
# A heading that names the document, not a section ("# 職務経歴書", "Resume").
DOCUMENT_TITLES = {
    "resume",
    "résumé",
    "curriculum vitae",
    "cv",
    "職務経歴書",
    "履歴書",
    "简历",
    "簡歷",
    "个人简历",
    "個人簡歷",
    "履歷",
    "履歷表",
}
NAME_LABELS = {"name", "full name", "氏名", "名前", "姓名"}
_DATE_ONLY = re.compile(r"[\d\s年月日./-]+(?:現在|现在|時点)?|as of .{1,30}", re.IGNORECASE)
_NAME_SPLIT = re.compile(r"\s*[|｜·•/／]\s*")
_FIELD = re.compile(r"^([^:：]{1,20})[:：]\s*(.+)$")
_CONTACT = re.compile(r"@|https?://|www\.|linkedin|github\.com|\+?\d[\d\s().-]{7,}\d")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def parse_cv(text: str, source: str) -> CV:
    """The CV in ``text`` (read from ``source``) as claims with stable IDs."""
    name, found = split_claims(text)
    name = name or _file_name(source)
    fingerprint = hashlib.sha256("\n".join(f"{kind}\t{normalise(t)}" for kind, t, _ in found).encode()).hexdigest()
    cv_id = f"cv-{slug(None, name)}-{fingerprint[:ID_HASH_CHARS]}"
    counts: dict[str, int] = {}
    claims = []
    for kind, claim_text, context in found[:MAX_CLAIMS]:
        counts[kind] = counts.get(kind, 0) + 1
        claims.append(
            Claim(
                id=f"{cv_id}/{kind}-{counts[kind]}",
                cv_id=cv_id,
                kind=kind,
                n=counts[kind],
                text=claim_text,
                context=context,
            )
        )
    return CV(
        id=cv_id,
        name=name,
        language=detect_language(text),
        source=source,
        fingerprint=fingerprint,
        claims=claims,
    )


def section_kind(heading: str) -> SectionKind | None:
    """The kind of CV section a heading opens, from its words; None for a heading that names none."""
    text = unicodedata.normalize("NFKC", heading).lower()
    for kind, words in SECTION_WORDS:
        if any(word in text for word in words):
            return kind
    return None


def split_claims(text: str) -> tuple[str | None, list[tuple[ClaimKind, str, str | None]]]:
    """The candidate's name (None where the CV does not start with one) and the claims: (kind, text, the role
    or project line it sits under)."""
    name: str | None = None
    section: SectionKind | None = None  # None: before the first section
    context: str | None = None
    out: list[tuple[ClaimKind, str, str | None]] = []
    after_role = False  # the last claim was a role line: a short line next is its title or company
    for entry in entries(text):
        line = entry.text.strip()[:CLAIM_MAX_CHARS]
        if entry.kind == "blank" or not line:
            continue
        if entry.kind == "heading" and _normal(line) in DOCUMENT_TITLES:
            continue
        opened = _opens_section(entry)
        if opened:
            section, context = opened, None
            if entry.value and entry.value.strip():  # "Skills: Python, Go"
                out.append((_kind_in(section), f"{line}: {entry.value.strip()}", None))
            continue
        if section is None:
            named = _named(entry, line)
            if name is None and named:
                name = named
            elif name is None and not out and _looks_like_name(line):
                name = _NAME_SPLIT.split(line)[0]
            elif not _CONTACT.search(f"{line} {entry.value or ''}") and not _DATE_ONLY.fullmatch(line) and not named:
                out.append(("summary", line, None))
            continue
        if entry.kind == "heading" and entry.value:
            line = f"{line}: {entry.value.strip()}"
        if section in ("experience", "project") and _opens_entry(entry, line):
            out.append(("role" if section == "experience" else "project", line, None))
            context, after_role = (f"{context} / {line}" if after_role and context else line), True
            continue
        if after_role and entry.kind == "text" and _bare_heading(line):  # 機械学習エンジニア under its company
            out.append(("role" if section == "experience" else "project", line, None))
            context = f"{context} / {line}"
            continue
        after_role = False
        if section in ("experience", "project"):
            if entry.kind == "heading":
                continue  # 【担当業務】 and other labels inside a role
            out.append(("achievement", line, context))
        else:
            out.append((_kind_in(section), line, None))
    return name, out


def _opens_section(entry: Entry) -> SectionKind | None:
    if len(entry.text) > HEADING_MAX_CHARS:
        return None
    if entry.kind == "heading" or (entry.kind == "text" and _bare_heading(entry.text)):
        return section_kind(entry.text)
    return None


def _bare_heading(line: str) -> bool:
    """A line alone that may be a heading ("SUMMARY", "Work Experience", "技能"): short, no sentence, no digit."""
    if any(ch.isdigit() for ch in line) or line.rstrip().endswith(("。", ".", "，", ",")):
        return False
    return len(_LATIN_WORD.findall(line)) <= 4 and len(CJK.findall(line)) <= 12


def _kind_in(section: SectionKind) -> ClaimKind:
    return section if section in ("summary", "skill", "education", "certification", "language") else "other"  # type: ignore[return-value]


def _opens_entry(entry: Entry, line: str) -> bool:
    """A role (in experience) or a project line: it gives dates, or it is a sub-heading of its own."""
    if DATE_RANGE.search(line) and len(line) <= 160:
        return True
    return entry.kind == "heading" and entry.style in ("atx", "setext", "emphasis")


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().strip("■□●◆【】[]#*").strip().lower()


def _named(entry: Entry, line: str) -> str | None:
    """The name a "Name: ..." line (氏名：山本 彩花) gives."""
    if entry.kind == "heading" and entry.value and _normal(line) in NAME_LABELS:
        return entry.value.strip()
    found = _FIELD.match(line)
    return found.group(2).strip() if found and _normal(found.group(1)) in NAME_LABELS else None


def _looks_like_name(line: str) -> bool:
    return len(line) <= NAME_MAX_CHARS and not any(ch.isdigit() for ch in line) and not _CONTACT.search(line)


def _file_name(source: str) -> str:
    stem = re.split(r"[\\/]", source)[-1].rsplit(".", 1)[0]
    return stem or "cv"
