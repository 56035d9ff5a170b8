"""Postings and their requirement items: the data model, and turning posting text into it.

A posting ID is a readable slug plus a short content hash (``ikala-senior-data-engineer-3f2a``); a
requirement ID is ``<posting-id>/<section>-<n>`` (``.../requirement-4``), n counting from 1 per section.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Section = Literal["about", "responsibility", "requirement", "nice_to_have", "benefit", "other"]
SECTIONS: tuple[Section, ...] = ("about", "responsibility", "requirement", "nice_to_have", "benefit", "other")
Language = Literal["en", "zh-Hant", "zh-Hans", "ja"]


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
