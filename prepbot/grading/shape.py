"""The shape of an answer's text, measured in code: signals for the score's combination.

``digits``: how much of it is numbers (a concrete account has some: sizes, percentages, versions), 0-1.
``enumeration``: the share of its clauses that are bare names, a word or three between commas (a list of
tools with nothing said about them reads so), 0-1. Both work the same in English, Chinese and Japanese.
"""

from __future__ import annotations

import re

from prepbot.text import CJK_CHARS

_SENTENCES = re.compile(r"[.。!?！？;；:：\n]+")
_CLAUSES = re.compile(r"[,，、/]| and | or | und |和|与|與|及|或|や|と")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_CJK = re.compile(f"[{CJK_CHARS}]")
SHORT_WORDS = 3  # a clause of at most this many words (or twice as many CJK characters) is a bare name
NUMBERS_FULL = 3  # this many numbers count as fully concrete


def shape(answer: str) -> dict[str, float]:
    clauses = [c.strip() for s in _SENTENCES.split(answer) for c in _CLAUSES.split(s) if c.strip()]
    short = sum(1 for clause in clauses if _is_bare(clause))
    return {
        "digits": round(min(1.0, len(_NUMBER.findall(answer)) / NUMBERS_FULL), 4),
        "enumeration": round(short / len(clauses), 4) if clauses else 0.0,
    }


def _is_bare(clause: str) -> bool:
    cjk = len(_CJK.findall(clause))
    if cjk:
        return cjk + len(re.findall(r"[A-Za-z0-9]+", clause)) * 2 <= SHORT_WORDS * 2 + 2
    return len(clause.split()) <= SHORT_WORDS
