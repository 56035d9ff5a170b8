"""The fit map: for every requirement, duty and nice-to-have of a posting, the CV lines that show it.

For each item the CV's claims are ranked by the embedder and by BM25 (fused by rank), and the model is asked
of the nearest lines in turn, in a one-token call read from its probabilities, whether the line shows all
of the item (A), part of it (B) or none of it (C), until one shows it. Those odds give the verdict:
covered, partly or not shown. An item no claim is near at all is not shown without a call. Every quote is a stored claim's
exact text, checked against the store before the map is returned (``checked``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from prepbot.cv.models import FIT_SECTIONS, Claim, Evidence, FitItem, FitMap, Interviewed, Verdict
from prepbot.cv.store import CVStore
from prepbot.errors import PrepbotError
from prepbot.llm.generation import TokenLogprob
from prepbot.retrieval.ranking import bm25_ranking, rrf_fuse

if TYPE_CHECKING:
    from prepbot.config import Settings
    from prepbot.llm import LLM, Generation
    from prepbot.postings import Posting, Requirement
    from prepbot.retrieval.index import RequirementIndex

PROMPT = "fit"
CANDIDATES = 2  # CV lines asked about per item, nearest first, until one shows it
TOP_LOGPROBS = 10
# A line that shows learning about a thing or having heard of it, not doing it: never evidence of experience
# (the small model takes "Completed a Spark course" for Spark experience; +0.02 agreement on evals/fit.jsonl).
EXPOSURE = re.compile(
    r"\b(?:courses?|coursera|udemy|bootcamp|meetups?|attended|workshop|familiar with|exposure to|self-taught"
    r"|reading group|study group)\b|自学|自學|了解|课程|課程|讀書會|读书会|勉強会|受講|修了|独学",
    re.IGNORECASE,
)
LETTERS = ("A", "B", "C")  # the line shows all of the item, part of it, none of it (prompts/fit.v2.md)
# The verdict, fitted on evals/fit.jsonl (146 items, docs/decisions.md). Shown (covered or partly): a logistic
# combination of the model's P(A) + P(B) for the best line and the embedder's best cosine of any line with
# the item, each centred and scaled as measured; covered: that line's P(A) / (P(A) + P(B)).
SHOWN_BIAS = 1.16
SHOWN_ODDS = (0.86, 0.682, 0.047)  # weight, centre, scale
SHOWN_COSINE = (0.92, 0.392, 0.141)
SHOWN_MIN = 0.62
WHOLE_MIN = 0.46
COSINE_FLOOR = 0.12  # no claim this near and none sharing a word: not shown, without a call
VERDICT_VALUE = {"covered": 1.0, "partly": 0.5, "not_shown": 0.0}


def fit(
    settings: Settings,
    *,
    posting_id: str,
    cv_id: str | None = None,
    index: RequirementIndex | None = None,
    llm: LLM | None = None,
    no_cache: bool = False,
    on_item: Callable[[FitItem], None] | None = None,
    prompt: str = PROMPT,
) -> FitMap:
    """The fit map of CV ``cv_id`` (the newest CV if None) against posting ``posting_id``."""
    from prepbot.llm import get_llm
    from prepbot.retrieval.index import RequirementIndex

    started = time.monotonic()
    index = index or RequirementIndex(settings)
    store = CVStore(index)
    cv = store.resolve(cv_id)
    posting = index.get_posting(posting_id)
    if posting is None:
        raise PrepbotError(f"no posting {posting_id!r}; `prepbot postings list` shows the IDs")
    claims, vectors = store.claims_with_vectors(cv.id)
    ids, item_vectors = index.item_vectors(posting_id)
    by_id = dict(zip(ids, item_vectors))
    items = [r for section in FIT_SECTIONS for r in posting.requirements if r.section == section]
    llm = llm or get_llm(settings)
    judged = []
    for item in items:
        found = judge(llm, item, claims, vectors, by_id.get(item.id), no_cache=no_cache, prompt=prompt)
        judged.append(found)
        if on_item:
            on_item(found)
    fit_map = FitMap(
        posting_id=posting.id,
        posting_title=posting.title,
        cv_id=cv.id,
        cv_name=cv.name,
        items=judged,
        coverage=coverage(judged),
        latency_s=round(time.monotonic() - started, 2),
        model=llm.backend.model,
        posting_fingerprint=posting.fingerprint,
        method=method(settings, prompt),
    )
    return checked(fit_map, store)


def judge(
    llm: LLM,
    item: Requirement,
    claims: list[Claim],
    vectors: np.ndarray,
    item_vector: np.ndarray | None,
    *,
    no_cache: bool = False,
    prompt: str = PROMPT,
) -> FitItem:
    """One item's verdict, evidence and reason: the nearest lines asked about in turn until one shows it."""
    candidates, nearest = _candidates(item, claims, vectors, item_vector)
    if not candidates:
        return FitItem(requirement=item, verdict="not_shown", reason="no line of the CV is near this item")
    best, odds = candidates[0], {"A": 0.0, "B": 0.0, "C": 1.0}
    for claim in candidates:
        asked = _ask(llm, prompt, item, claim, no_cache)
        if asked["A"] + asked["B"] > odds["A"] + odds["B"]:
            best, odds = claim, asked
        if shown_probability(odds["A"] + odds["B"], nearest) >= SHOWN_MIN:
            break
    p_shown = round(shown_probability(odds["A"] + odds["B"], nearest), 4)
    if p_shown >= SHOWN_MIN and EXPOSURE.search(best.text):
        reason = f"{_short(best.id)} is a course, a talk or familiarity, not experience of it"
        return FitItem(requirement=item, verdict="not_shown", reason=reason, p_shown=p_shown)
    if p_shown < SHOWN_MIN:
        reason = f"no CV line shows it; the nearest, {_short(best.id)}, does not ({p_shown:.2f})"
        return FitItem(requirement=item, verdict="not_shown", reason=reason, p_shown=p_shown)
    p_whole = round(odds["A"] / max(odds["A"] + odds["B"], 1e-9), 4)
    verdict: Verdict = "covered" if p_whole >= WHOLE_MIN else "partly"
    shown = "all of it" if verdict == "covered" else "only part of it"
    reason = f"{_short(best.id)} shows {shown} (shown {p_shown:.2f}, all of it {p_whole:.2f})"
    evidence = [Evidence(claim_id=best.id, quote=best.text, context=best.context)]
    return FitItem(
        requirement=item, verdict=verdict, evidence=evidence, reason=reason, p_shown=p_shown, p_whole=p_whole
    )


def shown_probability(odds: float, nearest: float) -> float:
    """P(the CV shows the item) from the best line's P(A) + P(B) and the best cosine of any CV line."""
    (odds_weight, odds_centre, odds_scale), (cos_weight, cos_centre, cos_scale) = SHOWN_ODDS, SHOWN_COSINE
    logit = (
        SHOWN_BIAS + odds_weight * (odds - odds_centre) / odds_scale + cos_weight * (nearest - cos_centre) / cos_scale
    )
    return 1.0 / (1.0 + math.exp(-logit))


def _ask(llm: LLM, prompt: str, item: Requirement, claim: Claim, no_cache: bool) -> dict[str, float]:
    variables = {"requirement": item.text, "line": claim.text, "context": claim.context or ""}
    return letter_odds(llm.generate(prompt, variables, top_logprobs=TOP_LOGPROBS, no_cache=no_cache))


def letter_odds(generation: Generation) -> dict[str, float]:
    """P(A), P(B), P(C) at the reply's first token, normalised over the three; the letter written where the
    backend reports no probabilities (C, not shown, where it wrote none of them)."""
    odds = dict.fromkeys(LETTERS, 0.0)
    for token, logprob in (generation.logprobs or [TokenLogprob(token="")])[0].top.items():
        letter = token.strip().strip(".:)").upper()
        if letter in odds:
            odds[letter] += math.exp(logprob)
    total = sum(odds.values())
    if total <= 0:
        written = str(generation.output).strip().strip(".:)").upper()[:1]
        return {letter: float(letter == (written if written in odds else "C")) for letter in LETTERS}
    return {letter: p / total for letter, p in odds.items()}


def _short(claim_id: str) -> str:
    return claim_id.rsplit("/", 1)[-1]


def _candidates(
    item: Requirement, claims: list[Claim], vectors: np.ndarray, item_vector: np.ndarray | None
) -> tuple[list[Claim], float]:
    """The claims to ask about for an item (dense and BM25 rankings fused, profile lines last) and the best
    cosine of any claim with it; none where no claim is near and none shares a word with it."""
    if not claims:
        return [], 0.0
    ids = [claim.id for claim in claims]
    cosines = vectors @ item_vector if item_vector is not None and len(vectors) else np.zeros(len(claims))
    dense = [ids[i] for i in np.argsort(-cosines)[: CANDIDATES * 3]]
    lexical = bm25_ranking(item.text, ids, [claim.text for claim in claims], CANDIDATES)
    nearest = float(cosines.max()) if len(cosines) else 0.0
    if nearest < COSINE_FLOOR and not lexical:
        return [], nearest
    fused = rrf_fuse([dense, lexical])
    by_id = {claim.id: claim for claim in claims}
    # A profile line restates the CV; a role, an achievement or a skill line is the evidence a reader quotes.
    chosen = sorted(fused, key=lambda cid: (by_id[cid].kind == "summary", -fused[cid]))[:CANDIDATES]
    return [by_id[cid] for cid in chosen], nearest


def coverage(items: list[FitItem], with_interviews: bool = False) -> dict[str, float]:
    """Per section, covered 1, partly 0.5, not shown 0, averaged (an item closed in an interview counts 1 when
    ``with_interviews``)."""
    values: dict[str, list[float]] = {}
    for item in items:
        value = 1.0 if with_interviews and item.interviewed else VERDICT_VALUE[item.verdict]
        values.setdefault(item.requirement.section, []).append(value)
    return {section: round(sum(v) / len(v), 3) for section, v in values.items()}


def checked(fit_map: FitMap, store: CVStore) -> FitMap:
    """The map with every quote checked against the store: a quote that is not its claim's exact stored text
    is an error in prepbot, never shown to a user."""
    quoted = store.get_claims([e.claim_id for item in fit_map.items for e in item.evidence])
    for item in fit_map.items:
        for evidence in item.evidence:
            stored = quoted.get(evidence.claim_id)
            if stored is None or stored.text != evidence.quote or stored.cv_id != fit_map.cv_id:
                raise PrepbotError(f"fit quoted {evidence.claim_id!r}, which is not that CV's line")
    return fit_map


def with_interviews(fit_map: FitMap, closed: dict[str, Interviewed]) -> FitMap:
    """The map with the items an interview closed (``interview.progress.closed_items``) marked."""
    items = [item.model_copy(update={"interviewed": closed.get(item.requirement.id)}) for item in fit_map.items]
    return fit_map.model_copy(update={"items": items})


def current_fit_map(
    settings: Settings, index: RequirementIndex, llm: LLM | None, posting: Posting, cv_id: str, no_cache: bool
) -> FitMap:
    """The CV's fit map for the posting, for CV-aware questions and chat: the one `fit` saved while it is
    current, or a new one (saved for next time)."""
    cv = CVStore(index).resolve(cv_id)
    found = saved(settings, cv.id, posting)
    if found is None:
        found = fit(settings, posting_id=posting.id, cv_id=cv.id, index=index, llm=llm, no_cache=no_cache)
        save(settings, found)
    return found


def save(settings: Settings, fit_map: FitMap) -> None:
    """Keep the map under the home, for `progress` and CV-aware questions to read without a model call."""
    from prepbot.files import private_home

    private_home(settings.home)
    folder = settings.home / "fits"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _file_name(fit_map.cv_id, fit_map.posting_id)).write_text(fit_map.model_dump_json(), encoding="utf-8")


def saved(settings: Settings, cv_id: str, posting: Posting) -> FitMap | None:
    """The map `fit` saved for this CV and posting, while the posting and the method are what made it."""
    path = settings.home / "fits" / _file_name(cv_id, posting.id)
    if not path.exists():
        return None
    try:
        found = FitMap.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, OSError):
        return None  # an older or broken file: computed again
    current = found.posting_fingerprint == posting.fingerprint and found.method == method(settings, PROMPT)
    return found if current else None


def method(settings: Settings, prompt: str = PROMPT) -> str:
    """The prompt version, thresholds and rules a map is made with, hashed: a saved map made otherwise is stale."""
    from prepbot.prompts import load_prompt

    parts = [load_prompt(prompt, settings).ref, SHOWN_BIAS, SHOWN_ODDS, SHOWN_COSINE, SHOWN_MIN, WHOLE_MIN, CANDIDATES]
    parts += [COSINE_FLOOR, EXPOSURE.pattern]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def saved_verdicts(settings: Settings) -> dict[str, Verdict]:
    """Item ID -> its verdict in the newest fit map saved for its posting (any CV): what `progress` shows."""
    folder = settings.home / "fits"
    paths = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    verdicts: dict[str, Verdict] = {}
    for path in paths:  # oldest first, so the newest map of a posting wins
        try:
            found = FitMap.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, OSError):
            continue
        verdicts.update({item.requirement.id: item.verdict for item in found.items})
    return verdicts


def _file_name(cv_id: str, posting_id: str) -> str:
    return hashlib.sha256(f"{cv_id}\n{posting_id}".encode()).hexdigest()[:24] + ".json"
