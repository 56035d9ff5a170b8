"""Statements and sentences: a paragraph's hard-wrapped lines joined into statements, a statement cut into
sentences (and clauses separated by a spaced dash)."""

from __future__ import annotations

import re
from itertools import pairwise

from prepbot.text import CJK

TERMINAL = ".。!！?？;；"
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z0-9\"“(])|(?<=[。！？])\s*(?=\S)")
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|etc|vs|Dr|Mr|Ms|Mrs|St|Inc|Ltd|Co|No|approx|incl)\.$", re.IGNORECASE)
_LOWER_START = re.compile(r"^[a-z(]")
WRAP_MIN_CHARS = 60  # a Latin line at least this long, not ending a sentence, runs on into the next
WRAP_MIN_CJK = 30


def continues(line: str, following: str) -> bool:
    """Whether ``following`` is the hard-wrapped rest of ``line``."""
    if not line or line[-1] in TERMINAL + ":：":
        return False
    if _LOWER_START.match(following):
        return True
    cjk = len(CJK.findall(line))
    return len(line) >= WRAP_MIN_CHARS if cjk < len(line) / 3 else cjk >= WRAP_MIN_CJK and line[-1] not in "、，,"


def join_lines(lines: list[str]) -> list[str]:
    """A paragraph's lines as statements: wrapped lines joined, one statement a line otherwise."""
    out: list[str] = []
    for line in lines:
        if out and continues(out[-1], line):
            out[-1] += ("" if _cjk_join(out[-1], line) else " ") + line
        else:
            out.append(line)
    return out


def _cjk_join(a: str, b: str) -> bool:
    return bool(CJK.match(a[-1:])) and bool(CJK.match(b[:1]))


def is_prose(lines: list[str]) -> bool:
    return any(continues(a, b) for a, b in pairwise(lines))


_DASH_SEPARATOR = re.compile(r"\s+[-–—]{1,2}\s+")


def split_sentences(text: str, dashes: bool = True) -> list[str]:
    """A prose statement's sentences; " - " between two clauses of three words or more also separates."""
    parts = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
    out: list[str] = []
    for part in parts:
        if out and (_ABBREVIATION.search(out[-1]) or len(part) < 3):
            out[-1] += " " + part
        else:
            out.append(part)
    out = out or [text]
    return [clause for sentence in out for clause in dash_clauses(sentence)] if dashes else out


def dash_clauses(sentence: str) -> list[str]:
    clauses = _DASH_SEPARATOR.split(sentence)
    if len(clauses) > 1 and all(len(c.split()) >= 3 for c in clauses):
        return clauses
    return [sentence]
