"""The shapes of CVs and fit maps: a CV's claims (one line each, with a stable ID), and the verdict on each
posting item with the claims that are its evidence."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from prepbot.postings import Requirement
from prepbot.text import Language

ClaimKind = Literal[
    "summary", "role", "achievement", "project", "skill", "education", "certification", "language", "other"
]
Verdict = Literal["covered", "partly", "not_shown"]
FIT_SECTIONS = ("requirement", "responsibility", "nice_to_have")  # must-haves first


class Claim(BaseModel):
    """One line of a CV: a role with its dates, an achievement, a skill line, a degree..."""

    id: str  # <cv id>/<kind>-<n>
    cv_id: str
    kind: ClaimKind
    n: int = Field(ge=1)  # its place among the CV's claims of its kind
    text: str  # exactly as stored and quoted
    context: str | None = None  # the role or project line it sits under


class CV(BaseModel):
    id: str
    name: str  # the candidate's name as the CV gives it, or the file's name
    language: Language
    source: str
    fingerprint: str
    claims: list[Claim]
    added_at: float | None = None

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for claim in self.claims:
            counts[claim.kind] = counts.get(claim.kind, 0) + 1
        return counts


class CVSummary(BaseModel):
    id: str
    name: str
    language: Language
    source: str
    fingerprint: str
    counts: dict[str, int]
    added_at: float


class Evidence(BaseModel):
    """A claim quoted as evidence: its ID and its exact stored text."""

    claim_id: str
    quote: str
    context: str | None = None


class Interviewed(BaseModel):
    """The best graded answer on this item in a saved mock interview."""

    session_id: str
    score: int


class FitItem(BaseModel):
    requirement: Requirement
    verdict: Verdict
    evidence: list[Evidence] = Field(default_factory=list)
    reason: str
    p_shown: float | None = None  # the model's probability that some candidate line shows the item
    p_whole: float | None = None  # given the best line, that it shows the whole item (not only a part)
    interviewed: Interviewed | None = None  # closed in an interview: an answer on it scored 4 or more


class FitMap(BaseModel):
    posting_id: str
    posting_title: str
    cv_id: str
    cv_name: str
    items: list[FitItem]
    coverage: dict[str, float]  # per section: covered 1, partly 0.5, not shown 0, averaged
    latency_s: float = 0.0
    model: str | None = None
    # What the map was made from, so that a saved map is used only while both still hold: the posting's
    # fingerprint (an edited posting keeps its ID) and the method (prompt version, thresholds, rules).
    posting_fingerprint: str = ""
    method: str = ""

    def for_item(self, requirement_id: str) -> FitItem | None:
        return next((item for item in self.items if item.requirement.id == requirement_id), None)
