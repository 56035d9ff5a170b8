"""Hand labels of real job postings (``labels-*.json`` beside the posting files, as in ``../shared/postings``):
their models, and the scoring rules of that folder's ``check.py``, which the evals on those labels follow
exactly: title matching (``similar``), the per-kind item-count ranges (``expected_ranges``) and what counts as
finding an item by search (``is_hit``).

A labels file is a JSON list with one entry per posting file: ``file`` (a name in the same folder) and its
``postings``, each with a ``title``, a ``language`` (en, zh-CN, zh-TW, ja), its ``sections`` in order (kind,
item counts) and ``answer_sets`` (an item quoted from the file, a question, answers by level). The entries
carry more (sources, notes, formatting quirks) than is read here; it is kept out of the models.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prepbot.errors import PrepbotError

LABEL_FILES = "labels-*.json"
CORE_KINDS = ("responsibility", "requirement", "nice_to_have")  # the kinds whose item counts are checked
TITLE_SIMILARITY = 0.3  # a parsed title matches a labelled one from this bigram Jaccard on
SEARCHED_LEVELS = ("strong", "partial")  # answers that should find their item (weak ones need not)
T = TypeVar("T")
HIT_K = 3  # an answer finds its item when it is among this many hits


class LabelledSection(BaseModel):
    model_config = ConfigDict(extra="ignore")

    heading: str | None = None
    kind: str
    acceptable_kinds: list[str] = Field(default_factory=list)  # other defensible readings; score against all
    item_count: int = Field(default=0, ge=0)  # top-level items
    prose_items: int | None = Field(default=None, ge=0)  # statements a splitter should find in prose
    sub_item_count: int | None = Field(default=None, ge=0)  # nested items: may be read as items or not
    embedded_nice_to_have: list[str] = Field(default_factory=list)  # optional items inside a requirement list
    items_are_subheadings: bool = False  # the items are ### sub-headings (also labelled as their own sections)


class Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    level: str  # strong, partial, weak, drift, keyword_soup, terse_correct, misconception
    grade: int | None = None
    text: str = Field(min_length=1)


class AnswerSet(BaseModel):
    model_config = ConfigDict(extra="ignore")

    item: str = Field(min_length=1)  # verbatim from the file
    question: str
    answers: list[Answer]


class LabelledPosting(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str | None  # None: the posting names no job (then it is its file's only posting)
    company: str | None = None
    language: str  # en, zh-CN, zh-TW, ja
    sections: list[LabelledSection]
    answer_sets: list[AnswerSet] = Field(default_factory=list)


class LabelledFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file: str = Field(min_length=1)  # relative to the labels folder
    format: str | None = None
    postings: list[LabelledPosting] = Field(min_length=1)


def load_labels(folder: Path) -> list[LabelledFile]:
    """Every entry of the folder's labels files (sorted by name, as check.py reads them); a problem is one line
    naming the file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PrepbotError(f"{folder}: no such labels folder")
    paths = sorted(folder.glob(LABEL_FILES))
    if not paths:
        raise PrepbotError(f"{folder}: no {LABEL_FILES} in this folder")
    entries: list[LabelledFile] = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PrepbotError(f"{path}: cannot read the labels ({exc.strerror or exc})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PrepbotError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, list):
            raise PrepbotError(f"{path}: expected a JSON list of labelled files")
        for number, raw in enumerate(data, 1):
            try:
                entries.append(LabelledFile.model_validate(raw))
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(part) for part in error["loc"])
                raise PrepbotError(f"{path}: entry {number}: {where}: {error['msg']}") from None
    files = [entry.file for entry in entries]
    if duplicate := next((f for f in files if files.count(f) > 1), None):
        raise PrepbotError(f"{folder}: {duplicate!r} is labelled twice")
    return entries


def labelled_files(folder: Path) -> list[Path]:
    """The posting files a labels folder names (what to ingest from it: never the labels themselves)."""
    return [Path(folder) / entry.file for entry in load_labels(folder)]


# --- check.py's rules ----------------------------------------------------------------------------------------


def norm(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip().lower()


def similar(a: str | None, b: str | None) -> float:
    """Jaccard similarity of the character bigrams of two texts, whitespace and case ignored."""

    def grams(text: str | None) -> set[str]:
        t = norm(text).replace(" ", "")
        return {t[i : i + 2] for i in range(len(t) - 1)} or {t}

    first, second = grams(a), grams(b)
    return len(first & second) / max(1, len(first | second))


def expected_ranges(posting: LabelledPosting) -> tuple[dict[str, int], dict[str, int]]:
    """The lowest and highest item count per core kind a right reading can give. A section counts towards the
    top of every kind it may be read as (its items and sub-items), and towards the bottom only of the one kind
    it must be (its items, unless they are sub-headings); explicitly optional items inside a requirement list
    may be read as nice-to-haves instead."""
    low = {kind: 0 for kind in CORE_KINDS}
    high = {kind: 0 for kind in CORE_KINDS}
    for section in posting.sections:
        kinds = section.acceptable_kinds or [section.kind]
        n = section.item_count or section.prose_items or 0
        sub = section.sub_item_count or 0
        for kind in kinds:
            if kind in CORE_KINDS:
                high[kind] += n + sub
        if len(kinds) == 1 and kinds[0] in CORE_KINDS and not section.items_are_subheadings:
            low[kinds[0]] += n
        optional = len(section.embedded_nice_to_have)
        if optional and "requirement" in kinds:
            low["requirement"] = max(0, low["requirement"] - optional)
            high["nice_to_have"] += optional
    return low, high


def match_posting(label: LabelledPosting, titles: list[str | None]) -> int | None:
    """The index of the parsed posting (by title, in file order) that a labelled posting is: the most similar
    title if it is similar enough, or the file's only posting for a label without a title. Several labels may
    match the same parsed posting, as in check.py."""
    if label.title is None:
        return 0 if len(titles) == 1 else None
    if not titles:
        return None
    best = max(range(len(titles)), key=lambda i: similar(titles[i] or "", label.title))  # the first of ties
    return best if similar(titles[best] or "", label.title) >= TITLE_SIMILARITY else None


def is_hit(item: str, text: str | None) -> bool:
    """Whether a search hit's text (or its group) is the labelled item: it contains the item, or is a part of
    it at least a quarter as long, or is nearly the same text."""
    t, wanted = norm(text), norm(item)
    return bool(t) and (wanted in t or (t in wanted and len(t) >= 0.25 * len(wanted)) or similar(text, item) > 0.8)


def unique_answers(folder: Path, cases: list[T]) -> list[T]:
    """The cases made of a folder's answers, refused when two share an ID (two answers of one level in a set)."""
    ids = [str(getattr(case, "id", "")) for case in cases]
    if duplicate := next((i for i in ids if ids.count(i) > 1), None):
        raise PrepbotError(f"{folder}: answer {duplicate!r} appears twice (two answers of one level in a set)")
    return cases


def answers_to_search(posting: LabelledPosting) -> list[tuple[int, AnswerSet, Answer]]:
    """(answer set number from 1, set, answer) for every strong and partial answer of a posting."""
    return [
        (number, answer_set, answer)
        for number, answer_set in enumerate(posting.answer_sets, 1)
        for answer in answer_set.answers
        if answer.level in SEARCHED_LEVELS
    ]


# --- scoring a file's reading ----------------------------------------------------------------------------------


class ParsedPosting(BaseModel):
    """What the scoring needs of a parsed posting: its title and its item count per core kind."""

    title: str | None
    counts: dict[str, int]


class PostingScore(BaseModel):
    """One labelled posting against the postings parsed from its file."""

    label: str | None  # the labelled title
    match: int | None  # the parsed posting it is (an index into the file's), None: not found
    title: str | None = None  # that posting's title
    counts: dict[str, int] | None = None  # its items per core kind
    ranges: dict[str, tuple[int, int]]  # per core kind, lowest and highest right count
    in_range: dict[str, bool] | None = None  # per core kind
    passed: bool  # check.py's pass: found, every kind in range, no extra postings in the file
    why: str = ""  # what is wrong, for the report

    @property
    def counts_ok(self) -> bool | None:
        return None if self.in_range is None else all(self.in_range.values())


class FileScore(BaseModel):
    postings: list[PostingScore]
    parsed: int  # postings parsed from the file
    labelled: int
    boundaries_ok: bool  # every labelled posting found, each by a parsed posting of its own, none extra

    @property
    def extra(self) -> bool:
        return self.parsed > self.labelled


def score_file(entry: LabelledFile, parsed: list[ParsedPosting]) -> FileScore:
    """check.py's verdict on each labelled posting of a file, and whether the file was cut into its postings."""
    titles = [posting.title for posting in parsed]
    extra = len(parsed) > len(entry.postings)
    scores = []
    for label in entry.postings:
        low, high = expected_ranges(label)
        ranges = {kind: (low[kind], high[kind]) for kind in CORE_KINDS}
        match = match_posting(label, titles)
        if match is None:
            scores.append(
                PostingScore(label=label.title, match=None, ranges=ranges, passed=False, why=_not_found(label, titles))
            )
            continue
        got = {kind: parsed[match].counts.get(kind, 0) for kind in CORE_KINDS}
        in_range = {kind: low[kind] <= got[kind] <= high[kind] for kind in CORE_KINDS}
        why = [f"{kind} {got[kind]} not in {low[kind]}..{high[kind]}" for kind in CORE_KINDS if not in_range[kind]]
        if extra:
            why.append(f"{len(parsed)} postings for {len(entry.postings)} labelled")
        scores.append(
            PostingScore(
                label=label.title,
                match=match,
                title=titles[match],
                counts=got,
                ranges=ranges,
                in_range=in_range,
                passed=all(in_range.values()) and not extra,
                why="; ".join(why),
            )
        )
    matches = [score.match for score in scores]
    distinct = len(set(matches)) == len(matches)  # two labels matching one parsed posting: read as one
    return FileScore(
        postings=scores,
        parsed=len(parsed),
        labelled=len(entry.postings),
        boundaries_ok=None not in matches and distinct and not extra,
    )


def _not_found(label: LabelledPosting, titles: list[str | None]) -> str:
    if label.title is None:
        return f"not found: a label without a title is its file's only posting; the file gave {len(titles)}"
    if not titles:
        return "not found: the file gave no posting"
    closest = max(titles, key=lambda title: similar(title or "", label.title))
    return (
        f"not found: the closest parsed title {closest!r} is {similar(closest or '', label.title):.2f} "
        f"similar (needs {TITLE_SIMILARITY})"
    )


def hit_rank(item: str, hits: list[tuple[str, str | None]]) -> int | None:
    """The 1-based rank of the first search hit, (text, group), that is the labelled item; None: none is."""
    return next((rank for rank, (text, group) in enumerate(hits, 1) if is_hit(item, text) or is_hit(item, group)), None)
