"""Postings pasted as one long paragraph: their inline headings and numbered items cut onto lines of their own."""

from __future__ import annotations

import re
from itertools import pairwise

from prepbot.postings.sections import words_kind

_LENTICULAR = re.compile(r"【([^【】\n]{1,40})】")
# "Requirements: 1. ..." inside a paragraph: a phrase after a sentence end, a colon, then a list number.
_INLINE_COLON_HEADING = re.compile(
    r"(?:^|(?<=[.。;；!！?？]))[ \t]?([^\s.。;；!！?？:：][^.。;；!！?？:：\n]{0,49}?)[ \t]*[:：][ \t]*"
    r"(?=\d{1,2}[.．)、]|[(（]\d{1,2}[)）])"
)
_INLINE_NUMBER = re.compile(r"(?:^|(?<=[\s。；;：:]))(\d{1,2})[.．)](?!\d)")
_INLINE_PAREN = re.compile(r"[(（](\d{1,2})[)）]")
FLATTENED_MIN_CHARS = 200
_FLAT_CHARS = frozenset("【:：2")
_MAYBE_FLAT = re.compile(r"【|[:：][ \t]*(?:\d{1,2}[.．)、]|[(（]\d)|\S[ \t]?(?:2[.．)]|[(（]2[)）])")


def unflatten_text(text: str) -> str:
    """A posting pasted as one long paragraph has its headings (【X】, "Requirements:") and its numbered items
    inline: such lines are cut where they begin."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) < FLATTENED_MIN_CHARS and not (_FLAT_CHARS.intersection(line) and _MAYBE_FLAT.search(line)):
            out.append(line)
            continue
        for piece in _split_at_inline_headings(line):
            for numbered in _split_sequence(piece, _INLINE_NUMBER):
                out.extend(_split_sequence(numbered, _INLINE_PAREN))
    return "\n".join(out)


def _split_at_inline_headings(line: str) -> list[str]:
    found = [*_LENTICULAR.finditer(line), *_INLINE_COLON_HEADING.finditer(line)]
    cuts: list[int] = []
    for start, end in sorted(m.span() for m in found if words_kind(m[1]) is not None):
        if not cuts or start >= cuts[-1]:
            cuts += [start, end]
    if not cuts:
        return [line]
    pieces = []
    for a, b in pairwise([0, *cuts, len(line)]):
        piece = line[a:b].strip()
        if piece:
            pieces.append(piece if not (a in cuts[::2] and b in cuts[1::2]) else f"【{_strip_heading(piece)}】")
    return pieces


def _strip_heading(piece: str) -> str:
    return piece.strip("【】").strip().rstrip(":：").strip()


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
