"""The employer a posting names about itself, or None: a company is never guessed."""

from __future__ import annotations

import re
from collections.abc import Iterable

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
    re.compile(rf"^{_NAME} (?:is|was|builds|develops|makes|provides|offers|operates|runs|sells|serves|helps|powers)\b"),
    re.compile(r"^(?![我本這这該该此])([\u4e00-\u9fffA-Za-z0-9&·・]{2,20}?)是一[家間间]"),
]
_POSSESSIVE = re.compile(r"\b([A-Z]{2,}|[a-z]+[A-Z]\w*)['’]s\b")
# Words with capitals that follow "About", "at" or "'s" without being companies.
_NOT_COMPANIES = frozenset(
    [
        "Us",
        "You",
        "The",
        "This",
        "Our",
        "Your",
        "We",
        "Role",
        "Team",
        "Company",
        "Job",
        "It",
        "AI",
        "ML",
        "API",
        "LLM",
        "NLP",
        "GPU",
        "CPU",
        "IT",
        "HR",
        "QA",
        "US",
        "UK",
        "EU",
        "CEO",
        "CTO",
        "SaaS",
    ]
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
