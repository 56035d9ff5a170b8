"""An answer read against the candidate's CV line that its question asked them to prove: where both give
figures and none of the CV's figures are in the answer, the answer tells another story than the CV."""

from __future__ import annotations

import re
import unicodedata

# A figure: digits with an optional decimal part, and the unit or % right after it ("40 min", "3h", "30%",
# "1.5 億", "200ms"); a year (19xx/20xx) is a date, not a figure.
_FIGURE = re.compile(
    r"(?<![0-9A-Za-z.])(\d+(?:[.,]\d+)?)\s*(%|[a-zA-Z]{1,5}(?![a-zA-Z])|[万萬億亿千百倍件人名社秒分時小]?)"
)
_YEAR = re.compile(r"^(?:19|20)\d{2}$")


def figures(text: str) -> set[str]:
    """The figures a text states, normalised ("40 min" and "40min" alike), years left out."""
    text = unicodedata.normalize("NFKC", text)
    found = set()
    for number, unit in _FIGURE.findall(text):
        if _YEAR.match(number) and not unit:
            continue
        found.add(f"{number.replace(',', '')}{unit.lower()}")
    return found


def figures_differ(cv_line: str, answer: str) -> str | None:
    """A finding when the CV line and the answer both state figures and the answer states none of the CV's
    (the CV says 3 h to 40 min, the answer 5 h to 2 h); None otherwise."""
    claimed, told = figures(cv_line), figures(answer)
    if not claimed or not told or claimed & told:
        return None
    return (
        f"The answer's figures ({', '.join(sorted(told)[:3])}) are not the CV's"
        f" ({', '.join(sorted(claimed)[:3])}): it does not back up the CV line."
    )
