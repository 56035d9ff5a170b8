"""suites/parsing"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from prepbot.evals import labels
from prepbot.postings import find_duplicates, parse_document
from prepbot.postings.readers import read_documents
from prepbot.text import Language

if TYPE_CHECKING:
    from prepbot.postings import Posting
from prepbot.evals.results import CaseResult
from prepbot.evals.suite import LabelledForm, Metric, Suite, SuiteContext, register

CountedSection = Literal["responsibility", "requirement", "nice_to_have", "benefit"]


COUNTED_SECTIONS: tuple[CountedSection, ...] = ("responsibility", "requirement", "nice_to_have", "benefit")


class ExpectedPosting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title_contains: str
    language: Language
    company: str | None
    counts: dict[CountedSection, int]

    @field_validator("counts")
    @classmethod
    def _all_four(cls, counts: dict[str, int]) -> dict[str, int]:
        if missing := [s for s in COUNTED_SECTIONS if s not in counts]:
            raise ValueError(f"counts lacks {', '.join(missing)}")
        return counts


class ParsingCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    duplicates: int = Field(default=0, ge=0)
    postings: list[ExpectedPosting] = Field(min_length=1)

    @property
    def id(self) -> str:
        return self.file


def company_matches(expected: str | None, got: str | None) -> bool:
    """None only matches None (the parser must not invent an employer); names match as a case-insensitive
    substring either way, so アオバテック matches 株式会社アオバテック."""
    if expected is None or got is None:
        return expected is None and got is None
    a, b = expected.casefold(), got.casefold()
    return a in b or b in a


def run_parsing(case: ParsingCase, context: SuiteContext) -> CaseResult:
    parsed = [posting for doc in read_documents(context.path(case.file)) for posting in parse_document(doc).postings]
    dropped = {duplicate.source for _, duplicate in find_duplicates(parsed)}
    distinct = [posting for posting in parsed if posting.source not in dropped]
    unmatched = list(distinct)
    found, language, company, counts = [], [], [], []
    for expected in case.postings:
        posting = next((p for p in unmatched if expected.title_contains in p.title), None)
        if posting is not None:
            unmatched.remove(posting)
        got_counts = posting.counts() if posting else {}
        found.append(float(posting is not None))
        language.append(float(posting is not None and posting.language == expected.language))
        company.append(float(posting is not None and company_matches(expected.company, posting.company)))
        counts.append(
            float(posting is not None and all(got_counts.get(s, 0) == expected.counts[s] for s in COUNTED_SECTIONS))
        )
    dedup = float(len(dropped) == case.duplicates and len(distinct) == len(case.postings))
    everything = float(dedup == 1.0 and all(v == 1.0 for v in found + language + company + counts))
    return CaseResult(
        id=case.id,
        passed=everything == 1.0,
        values={
            "parse_accuracy": everything,
            "title_match": found,
            "count_accuracy": counts,
            "language_match": language,
            "company_match": company,
            "dedup_accuracy": dedup,
        },
        expected=case.model_dump(mode="json", exclude={"file"}),
        got={
            "duplicates": len(dropped),
            "postings": [
                {
                    "title": p.title,
                    "language": p.language,
                    "company": p.company,
                    "counts": {s: p.counts().get(s, 0) for s in COUNTED_SECTIONS},
                }
                for p in distinct
            ],
        },
        slices={"language": case.postings[0].language},
    )


class LabelledFileCase(BaseModel):
    """One labelled posting file: where it is and its labels."""

    path: Path  # the posting file on disk
    entry: labels.LabelledFile

    @property
    def id(self) -> str:
        return self.entry.file

    @property
    def language(self) -> str:
        return self.entry.postings[0].language  # every labelled file so far holds one language


def load_labelled_files(folder: Path) -> list[LabelledFileCase]:
    return [LabelledFileCase(path=folder / entry.file, entry=entry) for entry in labels.load_labels(folder)]


def core_counts(posting: Posting) -> dict[str, int]:
    return {kind: sum(item.section == kind for item in posting.requirements) for kind in labels.CORE_KINDS}


def run_labelled_parsing(case: LabelledFileCase, context: SuiteContext) -> CaseResult:
    read = context.labelled_store().read(case.path)
    parsed = [labels.ParsedPosting(title=p.title, counts=core_counts(p)) for p in read.postings]
    score = labels.score_file(case.entry, parsed)
    found = [s for s in score.postings if s.match is not None]
    return CaseResult(
        id=case.id,
        passed=score.boundaries_ok and all(s.passed for s in score.postings),
        values={
            "posting_pass": [float(s.passed) for s in score.postings],
            "title_found": [float(s.match is not None) for s in score.postings],
            # of the postings found only: how well their items are read, apart from finding them
            "counts_in_range": [float(bool(s.counts_ok)) for s in found],
            **{
                f"{kind}_in_range": [float(s.in_range[kind]) for s in found if s.in_range] for kind in labels.CORE_KINDS
            },
            "boundaries_ok": float(score.boundaries_ok),
        },
        expected={
            "postings": score.labelled,
            "labelled": [s.model_dump(mode="json", include={"label", "ranges"}) for s in score.postings],
        },
        got={
            "postings": [p.model_dump() for p in parsed],
            "failed": [
                s.model_dump(mode="json", include={"label", "title", "counts", "ranges", "why"})
                for s in score.postings
                if not s.passed
            ],
            **({"ingest_errors": read.errors} if read.errors else {}),
        },
        slices={"language": case.language},
    )


LABELLED_PARSING = LabelledForm(
    description="real posting files -> postings, scored against hand labels as their check.py does: titles "
    "found, items per core kind within the labelled ranges, no extra postings",
    load=load_labelled_files,
    case_model=LabelledFileCase,
    run=run_labelled_parsing,
    metrics=(
        Metric(
            "posting_pass",
            "labelled postings read right: found by title, each core kind's item count in its "
            "labelled range, no extra postings in the file (check.py's pass)",
        ),
        Metric(
            "title_found",
            "labelled postings matched by a parsed title (bigram Jaccard >= 0.3; no title: the file's only posting)",
        ),
        Metric(
            "counts_in_range",
            "found postings whose responsibility, requirement and nice_to_have counts are all in range",
        ),
        Metric("responsibility_in_range", "found postings whose responsibility count is in range"),
        Metric("requirement_in_range", "found postings whose requirement count is in range"),
        Metric("nice_to_have_in_range", "found postings whose nice_to_have count is in range"),
        Metric(
            "boundaries_ok",
            "files read into exactly their labelled postings: each found, by a posting of its own, none extra",
        ),
    ),
)


register(
    Suite(
        name="parsing",
        description="posting files -> postings: titles, language, company, items per section, deduplication",
        dataset="evals/parsing.jsonl",
        case_model=ParsingCase,
        run=run_parsing,
        metrics=(
            Metric("parse_accuracy", "files parsed entirely right (every posting, field and count; dedup)"),
            Metric("title_match", "expected postings found by title"),
            Metric("count_accuracy", "postings with all four section counts exact"),
            Metric("language_match", "postings with the expected language"),
            Metric("company_match", "postings with the expected company (or rightly none)"),
            Metric("dedup_accuracy", "files yielding the expected number of postings and dropped copies"),
        ),
        labelled=LABELLED_PARSING,
    )
)
