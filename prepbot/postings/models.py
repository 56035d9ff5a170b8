"""The posting data model: postings, their items, and the outline of sections they were read from."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from prepbot.text import Language, normalise

Section = Literal["about", "responsibility", "requirement", "nice_to_have", "benefit", "process", "other"]
SECTIONS: tuple[Section, ...] = (
    "about",
    "responsibility",
    "requirement",
    "nice_to_have",
    "benefit",
    "process",
    "other",
)
CORE_SECTIONS: tuple[Section, ...] = ("responsibility", "requirement", "nice_to_have")


class Requirement(BaseModel):
    """One item of a posting (a requirement, a responsibility, a plus...): the unit prepbot cites."""

    id: str
    posting_id: str
    section: Section
    n: int
    group: str | None = None  # the heading (or lead-in line) an item sits under
    text: str
    detail: str | None = None  # nested lines under the item, searchable with it, never cited alone


class OutlineSection(BaseModel):
    """One heading of a posting as it was understood: its text, its kind, how deep it sits, its items."""

    heading: str | None  # None: text before the first heading
    kind: Section
    depth: int  # 0 for the posting's own level, 1 for a section, 2 for a sub-section...
    how: str = ""  # why this kind: "words", "meaning", "parent", "items", "marked", "corrected"
    items: list[str] = Field(default_factory=list)  # requirement IDs in document order


class Posting(BaseModel):
    id: str
    title: str
    company: str | None = None
    language: Language
    source: str  # the file it came from (absolute path), plus "#<k>" when a file holds several postings
    fingerprint: str  # hash of the normalised item set: equal for the same posting formatted differently
    requirements: list[Requirement] = Field(default_factory=list)
    outline: list[OutlineSection] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.requirements:
            counts[item.section] = counts.get(item.section, 0) + 1
        return counts

    def items(self, section: Section) -> list[Requirement]:
        return [item for item in self.requirements if item.section == section]

    def item_keys(self) -> frozenset[str]:
        """The normalised item texts, for comparing postings regardless of formatting and order. The about
        prose counts as one key, as in the fingerprint: how it is cut into items depends on the formatting."""
        keys = {normalise(item.text) for item in self.requirements if item.section != "about"}
        about = normalise(" ".join(item.text for item in self.items("about")))
        if about:
            keys.add(about)
        return frozenset(keys)


class ParseResult(BaseModel):
    postings: list[Posting] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # one line each, naming the source
