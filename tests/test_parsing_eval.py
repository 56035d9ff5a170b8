"""The parser against the hand-written ground truth in ``evals/parsing.jsonl`` (see ``evals/README.md``):
per file, the distinct postings after near-duplicate removal, each with its title, language, company and
item counts per section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prepbot.postings import Posting, find_duplicates, parse_document
from prepbot.postings.readers import read_documents

ROOT = Path(__file__).parents[1]
LABELS = (ROOT / "evals" / "parsing.jsonl").read_text(encoding="utf-8")
CASES = [json.loads(line) for line in LABELS.splitlines() if line.strip()]


def distinct_postings(path: Path) -> tuple[list[Posting], int]:
    """The postings in a file minus the near-duplicates ingest drops, and how many it drops."""
    postings = [posting for doc in read_documents(path) for posting in parse_document(doc).postings]
    pairs = find_duplicates(postings)
    dropped = {id(duplicate) for _, duplicate in pairs}
    return [p for p in postings if id(p) not in dropped], len(pairs)


def same_company(found: str | None, expected: str | None) -> bool:
    # Either may be the longer form ("株式会社アオバテック" for "アオバテック", "Harbor & Finch Travel").
    if found is None or expected is None:
        return found is expected
    return expected.casefold() in found.casefold() or found.casefold() in expected.casefold()


@pytest.mark.parametrize("case", CASES, ids=[case["file"] for case in CASES])
def test_parsing_matches_the_eval_labels(case):
    postings, duplicates = distinct_postings(ROOT / case["file"])
    assert duplicates == case.get("duplicates", 0)
    matched = [next((p for p in postings if e["title_contains"] in p.title), None) for e in case["postings"]]
    assert matched == postings  # one each, in file order
    for expected, posting in zip(case["postings"], matched, strict=True):
        assert posting.language == expected["language"], posting.title
        assert same_company(posting.company, expected["company"]), (posting.title, posting.company)
        counts = posting.counts()
        assert {section: counts.get(section, 0) for section in expected["counts"]} == expected["counts"], posting.title
