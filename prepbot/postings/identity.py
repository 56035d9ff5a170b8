"""Identity of postings and items: normalised text, fingerprints, readable IDs, near-duplicates, and IDs
carried over when a posting is edited.

A posting ID is a readable slug plus a short content hash (``ikala-senior-data-engineer-3f2a91``); a
requirement ID is ``<posting-id>/<section>-<n>``, n counting from 1 per section in document order. When an
edited posting replaces an indexed one, ``carry_ids`` keeps the old posting ID and the ID of every item whose
text is unchanged, so sessions and progress that cite them carry over; new items get numbers not used before.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable

from prepbot.postings.models import SECTIONS, Posting, Requirement
from prepbot.text import CJK_CHARS, normalise

NEAR_DUPLICATE_JACCARD = 0.9  # share of normalised items two postings must have in common to be one posting
SLUG_MAX_CHARS = 50
CJK_SLUG_CHARS = 12
ID_HASH_CHARS = 6  # 24 bits: 400 postings of one title collide with odds of ~1%, and a collision is resolved

_CJK = re.compile(f"(?:(?!\u30fb)[{CJK_CHARS}])")  # a CJK character, but not ・, which separates words in a slug


def fingerprint(items: Iterable[tuple[str, str]]) -> str:
    """Hash of (section, text) items. Each section's items are joined before normalising, so a paragraph cut
    into two items and the same text as one item hash alike."""
    by_section: dict[str, list[str]] = {}
    for section, text in items:
        by_section.setdefault(section, []).append(text)
    parts = []
    for section in SECTIONS:
        text = normalise(" ".join(by_section.get(section, [])))
        if text:
            parts.append(f"{section}\t{text}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def posting_id(company: str | None, title: str, fingerprint_hex: str) -> str:
    return f"{slug(company, title)}-{fingerprint_hex[:ID_HASH_CHARS]}"


def with_longer_id(posting: Posting, taken: Callable[[str], str | None]) -> Posting:
    """``posting`` under the shortest ID with more of its fingerprint that ``taken`` (ID -> the fingerprint
    holding it, or None) leaves free: two postings whose 24-bit IDs collide are both kept, not one taken for a
    duplicate of the other (400 postings titled "Software Engineer" once indexed as 0)."""
    base = posting.id.rsplit("-", 1)[0]
    for chars in range(ID_HASH_CHARS + 2, len(posting.fingerprint) + 1, 2):
        pid = f"{base}-{posting.fingerprint[:chars]}"
        if taken(pid) in (None, posting.fingerprint):
            return renamed(posting, pid)
    return posting  # equal fingerprints: the same posting, which the caller treats as a duplicate


def renamed(posting: Posting, pid: str) -> Posting:
    """``posting`` and its items under posting ID ``pid``."""
    prefix = f"{posting.id}/"
    ids = {item.id: f"{pid}/{item.id[len(prefix) :]}" for item in posting.requirements}
    requirements = [item.model_copy(update={"id": ids[item.id], "posting_id": pid}) for item in posting.requirements]
    outline = [
        section.model_copy(update={"items": [ids.get(i, i) for i in section.items]}) for section in posting.outline
    ]
    return posting.model_copy(update={"id": pid, "requirements": requirements, "outline": outline})


def number_items(pid: str, items: Iterable[tuple[str, str | None, str, str | None]]) -> list[Requirement]:
    """Requirements with IDs ``<pid>/<section>-<n>`` from (section, group, text, detail) in document order."""
    numbers: Counter[str] = Counter()
    out = []
    for section, group, text, detail in items:
        numbers[section] += 1
        n = numbers[section]
        out.append(  # built from the parser's own checked values: validation would only cost time
            Requirement.model_construct(
                id=f"{pid}/{section}-{n}",
                posting_id=pid,
                section=section,
                n=n,
                group=group,
                text=text,
                detail=detail,
            )
        )
    return out


def carry_ids(previous: Posting, posting: Posting) -> Posting:
    """``posting`` (an edited version of ``previous``) under ``previous``'s ID, each item with the ID of the
    previous item of the same section and text where there is one, new items numbered past the old ones."""
    pid = previous.id
    old: dict[tuple[str, str], list[Requirement]] = {}
    for item in previous.requirements:
        old.setdefault((item.section, normalise(item.text)), []).append(item)
    used: Counter[str] = Counter()
    for item in previous.requirements:
        used[item.section] = max(used[item.section], item.n)
    renamed: dict[str, str] = {}
    requirements = []
    for item in posting.requirements:
        same = old.get((item.section, normalise(item.text)))
        if same:
            match = same.pop(0)
            n = match.n
        else:
            used[item.section] += 1
            n = used[item.section]
        new_id = f"{pid}/{item.section}-{n}"
        renamed[item.id] = new_id
        requirements.append(item.model_copy(update={"id": new_id, "posting_id": pid, "n": n}))
    outline = [
        section.model_copy(update={"items": [renamed.get(i, i) for i in section.items]}) for section in posting.outline
    ]
    return posting.model_copy(update={"id": pid, "requirements": requirements, "outline": outline})


def is_near_duplicate(a: Posting, b: Posting, threshold: float = NEAR_DUPLICATE_JACCARD) -> bool:
    """The same posting: equal fingerprints, or item sets whose Jaccard similarity reaches the threshold."""
    if a.fingerprint == b.fingerprint:
        return True
    keys_a, keys_b = a.item_keys(), b.item_keys()
    if not keys_a or not keys_b:
        return False
    return len(keys_a & keys_b) / len(keys_a | keys_b) >= threshold


def find_duplicates(postings: Iterable[Posting]) -> list[tuple[Posting, Posting]]:
    """(kept, duplicate) pairs: each posting that repeats an earlier one, paired with the first it repeats."""
    kept: list[Posting] = []
    pairs: list[tuple[Posting, Posting]] = []
    for posting in postings:
        original = next((k for k in kept if is_near_duplicate(posting, k)), None)
        if original is None:
            kept.append(posting)
        else:
            pairs.append((original, posting))
    return pairs


def slug(company: str | None, title: str) -> str:
    """Lowercase ASCII words of company and title, cut at a word boundary (``ikala-senior-data-engineer``)."""
    company_words = _slug_words(company) if company else []
    title_words = _slug_words(title)
    if title_words[: len(company_words)] == company_words:
        company_words = []  # the title already starts with the company
    out = ""
    for word in company_words + title_words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > SLUG_MAX_CHARS:
            break
        out = candidate
    return out or (company_words + title_words + ["posting"])[0][:SLUG_MAX_CHARS]


def _slug_words(name: str) -> list[str]:
    """A bilingual name ("資深數據工程師 Senior Data Engineer") gives its Latin words. A name that is mostly
    CJK keeps its CJK runs too, up to 12 characters, so a Chinese or Japanese title still reads as itself."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    latin = re.findall(r"[a-z0-9]+", ascii_name)
    if sum(map(len, latin)) >= len(_CJK.findall(name)):
        return latin
    words, budget = [], CJK_SLUG_CHARS
    for run in re.findall(rf"{_CJK.pattern}+|[A-Za-z0-9]+", unicodedata.normalize("NFKC", name)):
        if _CJK.match(run):
            run, budget = run[:budget], budget - len(run[:budget])
        if run:
            words.append(run.lower())
    return words
