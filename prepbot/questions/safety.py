"""Posting text is data: sentences that address a model are dropped from what the ``question`` prompt sees.

Plain patterns, in the languages prepbot reads. They only decide what the prompt does not see, never what is
stored or cited: a question still cites its item's exact stored text.
"""

from __future__ import annotations

import re

from prepbot.postings import normalise

# A sentence that speaks to a model or an evaluator rather than describing the job.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,30}\b(?:instructions?|prompts?|rules)\b"
    r"|\b(?:system|assistant)\s*:|\bsystem prompt\b|\bnote to any ai\b|\byou are now\b"
    r"|\b(?:output|answer|reply|respond|say)\s+only\b|\bevery candidate\b"
    r"|\bcite requirement\b|\bwhen generating interview questions\b"
    r"|忽略.{0,8}(?:指示|指令|提示)|無視.{0,4}(?:指示|指令)|(?:指示|指令)を.{0,8}無視|系統提示|系统提示"
    r"|評分規則|评分规则|一律視為|一律视为|引用需求編號|引用需求编号|点を付け|分數一律|分数一律",
    re.IGNORECASE,
)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
# Sentence ends, and role tags that open a new "message" mid-line.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*|(?=\b(?:SYSTEM|ASSISTANT|USER)\s*:)")


def prompt_text(text: str) -> str:
    """The item's text without comments and sentences addressed to a model; "" when nothing else is left."""
    sentences = _SENTENCE_BREAK.split(_HTML_COMMENT.sub(" ", text))
    kept = [s.strip() for s in sentences if s.strip() and not _INSTRUCTION.search(s)]
    if len(kept) == len([s for s in sentences if s.strip()]) and not _HTML_COMMENT.search(text):
        return text  # nothing to remove: the item as written
    joined = " ".join(kept)
    return joined if len(normalise(joined)) >= 3 else ""
