"""Finding the posting a role names: by its title, or failing that by meaning (used by the CLI and the interview)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prepbot.errors import PrepbotError, UsageError
from prepbot.postings import Posting, normalise

if TYPE_CHECKING:
    from prepbot.retrieval.index import PostingSummary, RequirementIndex

# A title matches a role by meaning when the cosine reaches this (multilingual embeddings: a translated title
# scores above it, a word of the title alone or an unrelated role below); candidates within the margin of the
# best tie.
TITLE_MATCH_MIN = 0.55
TITLE_MATCH_MARGIN = 0.08


def match_role(index: RequirementIndex, role: str) -> list[PostingSummary]:
    """Postings whose title fits a role: titles containing it (case and punctuation ignored) first; failing
    that, titles close in meaning (multilingual embeddings), the best and those within a margin of it."""
    wanted = normalise(role)
    if not wanted:
        raise UsageError("--role is empty")
    contained = [s for s in index.list_postings() if wanted in normalise(s.title)]
    if contained:
        return contained
    scored = [(summary, score) for summary, score in index.match_titles(role) if score >= TITLE_MATCH_MIN]
    if not scored:
        return []
    best = max(score for _, score in scored)
    return [summary for summary, score in scored if score >= best - TITLE_MATCH_MARGIN]


def find_posting(index: RequirementIndex, *, role: str | None = None, posting_id: str | None = None) -> Posting:
    """The posting a role or an ID names; a role must name exactly one."""
    if (role is None) == (posting_id is None):
        raise UsageError("give exactly one of --role TEXT or --posting ID")
    if posting_id is None:
        matches = match_role(index, role or "")
        if not matches:
            raise PrepbotError(f"no indexed posting matches the role {role!r}; `prepbot postings list` shows them")
        if len(matches) > 1:
            listing = "\n".join(f"  {s.id}  {s.title}" for s in matches)
            raise UsageError(
                f"the role {role!r} matches {len(matches)} postings; choose one with --posting:\n{listing}"
            )
        posting_id = matches[0].id
    posting = index.get_posting(posting_id)
    if posting is None:
        raise PrepbotError(f"no posting {posting_id!r}; `prepbot postings list` shows the IDs")
    return posting
