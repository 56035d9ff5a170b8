"""Job titles: whether a heading names a job, and the title without what job boards wrap around it
("【徵才-台中】", "[台北][50K 以上]", "- 内容运营招聘", "(45-55k)", a company name in front)."""

from __future__ import annotations

import re

from prepbot.postings.lexicon import COMPANY_MARKERS, HIRING_WORDS, TITLE_FIELDS, has_role_word, role_hits
from prepbot.postings.sections import words_kind
from prepbot.text import CJK

TITLE_MAX_CHARS = 100
_LEADING_TAGS = re.compile(r"^\s*(?:[【\[［(（][^】\]］)）]{0,30}[】\]］)）]\s*)+")
_PAY = re.compile(
    r"[(（\[]\s*[^()（）\[\]]{0,20}?\d[\d,.]*\s*(?:k|K|萬|万|千|円|元|\$|USD|NTD|TWD|RMB|/月|/年|以上)"
    r"[^()（）\[\]]{0,20}[)）\]]"
)
_SEPARATORS = re.compile(r"\s+[-–—|｜/]\s+|\s*[|｜]\s*|(?<=\S)_(?=\S)|\s+-(?=\S)|(?<=\S)-\s+")
_HEADCOUNT = re.compile(r"\s*[(（][^()（）]{0,12}\d+\s*(?:名|人|位|positions?|openings?)[^()（）]{0,6}[)）]")


def is_title_like(text: str) -> bool:
    """A heading that names a job: a role noun, and no word that names a section."""
    return (
        bool(text)
        and len(text) <= TITLE_MAX_CHARS
        and has_role_word(text)
        and words_kind(text, bare=True) is None
        and not TITLE_FIELDS.match(text)
    )


def is_title_field(text: str) -> bool:
    return bool(TITLE_FIELDS.match(text.strip())) and len(text) <= 20


def clean_title(text: str) -> str:
    """The job's title from a heading as boards write it."""
    title = " ".join(text.split())
    title = _LEADING_TAGS.sub("", title).strip() or title
    title = _PAY.sub("", title).strip() or title
    title = HIRING_WORDS.sub(" ", title)
    title = " ".join(title.split()).strip(" -–—|:：_,，")
    segments = [s.strip(" -–—|:：_") for s in _SEPARATORS.split(title) if s.strip(" -–—|:：_")]
    if len(segments) > 1:
        with_role = [s for s in segments if has_role_word(s)]
        plain = [s for s in with_role if not COMPANY_MARKERS.search(s)] or with_role
        if with_role and (len(with_role) < len(segments) or len(plain) < len(with_role)):
            title = max(plain, key=lambda s: (role_hits(s), -len(s)))
    words = title.split()
    if len(words) > 1 and CJK.search(title):
        # "邁思擘國際股份有限公司徵 後端開發工程師": a company (or a Latin brand before a CJK role) in front
        for i, word in enumerate(words[:-1]):
            if has_role_word(" ".join(words[i + 1 :])) and COMPANY_MARKERS.search(word):
                title = " ".join(words[i + 1 :])
    title = re.sub(r"[(（][^()（）]*(?:團隊|团队|team)[^()（）]*[)）]", "", title, flags=re.IGNORECASE)
    title = _HEADCOUNT.sub("", title)
    return " ".join(title.split()).strip(" -–—|:：_,，") or " ".join(text.split())


_AS_ROLE = re.compile(
    r"\b(?:as an?|as our|seeking an?|looking for an?|hiring an?|hire an?|join us as an?)\s+"
    r"((?:[A-Z][\w/&+-]*\s+){0,5}[A-Z][\w/&+-]*)"
)


def title_from_prose(text: str) -> str | None:
    """ "... to join our team as an Analytics Engineer" -> "Analytics Engineer"."""
    for match in _AS_ROLE.finditer(text):
        candidate = match[1].strip(" .")
        if has_role_word(candidate):
            return candidate
    return None
