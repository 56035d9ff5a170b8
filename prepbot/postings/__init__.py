"""Postings: reading posting files into postings and their requirement items (``parse``), and what those are
(``models``), how they are identified (``identity``), which employer they name."""

from prepbot.postings.company import find_company
from prepbot.postings.identity import (
    NEAR_DUPLICATE_JACCARD,
    carry_ids,
    find_duplicates,
    is_near_duplicate,
)
from prepbot.postings.models import (
    CORE_SECTIONS,
    SECTIONS,
    OutlineSection,
    ParseResult,
    Posting,
    Requirement,
    Section,
)
from prepbot.postings.parse import parse_document
from prepbot.text import normalise

__all__ = [
    "CORE_SECTIONS",
    "NEAR_DUPLICATE_JACCARD",
    "SECTIONS",
    "OutlineSection",
    "ParseResult",
    "Posting",
    "Requirement",
    "Section",
    "carry_ids",
    "find_company",
    "find_duplicates",
    "is_near_duplicate",
    "normalise",
    "parse_document",
]
