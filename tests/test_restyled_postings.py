"""The real postings of ../shared/postings re-dressed in other heading and list styles parse as their originals
do: a posting copied from another board (bold or 【】 headings, ・ or numbered lists, underlined headings) must
not be read differently. A robustness check of the parser's rules, not of any one file; skipped where the shared
folder is absent."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from prepbot.evals import labels
from prepbot.postings import parse_document
from prepbot.postings.readers import Document, read_documents

SHARED = Path(__file__).resolve().parents[2] / "shared" / "postings"


def _headings(dress: Callable[[int, str], str]) -> Callable[[str], str]:
    return lambda text: re.sub(r"(?m)^(#{2,6})\s+(.+?)\s*#*\s*$", lambda m: dress(len(m[1]), m[2]), text)


def _bullets(marker: str) -> Callable[[str], str]:
    return lambda text: re.sub(r"(?m)^(\s*)[-*+]\s+", lambda m: m[1] + marker, text)


def _numbered(text: str) -> str:
    out, n = [], 0
    for line in text.splitlines():
        if m := re.match(r"^[-*+]\s+(.*)", line):
            n += 1
            out.append(f"{n}. {m[1]}")
        else:
            n = 0 if line.strip() else n
            out.append(line)
    return "\n".join(out)


RESTYLES: dict[str, Callable[[str], str]] = {
    "bold headings": _headings(lambda depth, h: f"**{h}**"),
    "【】 headings": _headings(lambda depth, h: f"【{h}】"),
    "underlined headings": _headings(lambda depth, h: f"{h}\n{'-' * max(3, len(h))}" if depth == 2 else f"### {h}"),
    "・ lists": _bullets("・"),
    "• lists": _bullets("• "),
    "numbered lists": _numbered,
}


def _read(doc: Document) -> list[tuple[str, dict[str, int]]]:
    out = []
    for posting in parse_document(doc).postings:
        counts = {kind: sum(item.section == kind for item in posting.requirements) for kind in labels.CORE_KINDS}
        out.append((posting.title, counts))
    return out


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/postings is not beside the checkout")
@pytest.mark.parametrize("style", list(RESTYLES))
def test_a_real_posting_restyled_reads_as_the_original(style):
    restyle = RESTYLES[style]
    files = [f for f in labels.labelled_files(SHARED) if f.suffix in (".md", ".txt")]
    assert len(files) >= 10
    changed = []
    for path in files:
        [doc] = read_documents(path)
        text = restyle(doc.text)
        if text == doc.text:
            continue
        before, after = _read(doc), _read(doc.model_copy(update={"text": text}))
        if after != before:
            changed.append(f"{path.name}: {before} -> {after}")
    assert not changed, "\n".join(changed)
