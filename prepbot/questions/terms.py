"""The concrete names in a posting item (tools, technologies) that a specific question on it would use."""

from __future__ import annotations

import re

# Latin terms: words starting with a letter, with the joiners of tool names (scikit-learn, GNU/Linux, C++).
_TERM = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-+#./][A-Za-z0-9+#]+)*\+*")
_DEGREE = re.compile(
    r"\b(?:degree|bachelor|master|ph\.?d|diploma)|學位|学位|學士|学士|碩士|硕士|博士|學歷|学历|卒業", re.I
)
_PARENTHESES = re.compile(r"[(（]([^)）]*)[)）]")
# Words of amounts and asides, not names, however they are written: "( > 100 GB size )", "(5+ years)".
_NOT_TERMS = {"size", "year", "years", "month", "months", "kb", "mb", "gb", "tb", "pb", "etc", "e.g", "i.e", "or",
              "and", "plus", "ex"}  # fmt: skip


def _term(match: re.Match[str]) -> str:
    """A matched word without a possessive "'s" or a sentence's full stop."""
    return re.sub(r"['’]s$", "", match[0]).rstrip(".")


def key_terms(text: str, company: str | None = None) -> list[str]:
    """The concrete names in an item a specific question would use: tools and technologies (capitalised after
    the first word, acronyms, CamelCase, anything in parentheses). An item without any (a soft skill in prose)
    has none, and then only the generic-phrase check applies; so has a degree, whose good question asks about
    the field ("time complexity of a join") without naming the diploma ("Computer Science")."""
    if _DEGREE.search(text):
        return []
    in_parentheses = {term for group in _PARENTHESES.findall(text) for term in _TERM.findall(group)}
    terms: list[str] = []
    for match in _TERM.finditer(text):
        term = _term(match)
        opens_text = not text[: match.start()].strip()  # capitalised only because it starts the item
        named = term in in_parentheses or any(ch.isupper() for ch in term[1:]) or (term[0].isupper() and not opens_text)
        wanted = term not in terms and term.lower() not in _NOT_TERMS and term.lower() != (company or "").lower()
        if named and len(term) > 1 and wanted:
            terms.append(term)
    return terms


def term_phrases(text: str, terms: list[str]) -> list[str]:
    """The terms as the text writes them together: "Apache" and "Flink" side by side make "Apache Flink"."""
    phrases: list[str] = []
    end = -2
    for match in _TERM.finditer(text):
        term = _term(match)
        if term not in terms:
            end = -2
            continue
        if phrases and text[end : match.start()] == " ":
            phrases[-1] += " " + term
        elif term not in phrases:
            phrases.append(term)
        end = match.start() + len(term)
    return phrases
