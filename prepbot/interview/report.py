"""What is shown of saved sessions: the ``--json`` shapes, and the Markdown report a candidate keeps."""

from __future__ import annotations

import json
from typing import Any, Literal

from prepbot.config import Settings
from prepbot.interview.progress import WEAK_MAX_SCORE
from prepbot.interview.sessions import Session, SessionSummary, Turn
from prepbot.interview.store import load_session

ExportFormat = Literal["md", "json"]


def summary_json(summary: SessionSummary) -> dict[str, Any]:
    """The ``sessions list --json`` shape of one session."""
    return {
        "id": summary.id,
        "posting_id": summary.posting_id,
        "role": summary.role,
        "mode": summary.mode,
        "started_at": summary.started_at.isoformat(),
        "ended_at": summary.ended_at.isoformat() if summary.ended_at else None,
        "turns": summary.turns,
        "mean_score": summary.mean_score,
    }


def session_json(session: Session) -> dict[str, Any]:
    """The ``sessions show --json`` shape."""
    return {
        "id": session.id,
        "posting_id": session.posting_id,
        "role": session.role,
        "mode": session.mode,
        "language": session.language,
        "started_at": session.started_at.isoformat(),
        "ended_at": session.ended_at.isoformat() if session.ended_at else None,
        "mean_score": session.mean_score,
        "turns": [_turn_json(session, turn) for turn in session.turns],
    }


def _turn_json(session: Session, turn: Turn) -> dict[str, Any]:
    grade = turn.grade
    return {
        "n": turn.n,
        "kind": turn.kind,
        "follows": turn.follows,
        "requirement_id": turn.requirement_id,
        "question": turn.question,
        "answer": turn.answer,
        "skipped": turn.skipped,
        "score": turn.score,
        "expected_score": grade.expected_score if grade else None,
        "model_score": grade.model_score if grade else None,
        "rubric": [mark.model_dump() for mark in grade.rubric] if grade else [],
        "strengths": grade.strengths if grade else [],
        "gaps": grade.gaps if grade else [],
        "better_answer": grade.better_answer if grade else None,
        "citations": [c.model_dump() for c in grade.citations] if grade else [],
        "follow_up": _follow_up_of(session, turn),
        "timings": turn.timings,
    }


def _follow_up_of(session: Session, turn: Turn) -> str | None:
    """The follow-up asked after this turn, if any."""
    return next((t.question for t in session.turns if t.follows == turn.n), None)


def export_session(settings: Settings, session_id: str, fmt: ExportFormat) -> str:
    """``sessions export``: the saved session as the Markdown report, or as its ``--json`` shape."""
    session = load_session(session_id, settings)
    if fmt == "md":
        return export_markdown(session)
    return json.dumps(session_json(session), ensure_ascii=False, indent=2)


def export_markdown(session: Session) -> str:
    """A report a candidate would keep: scores per question, the items cited, what to practise."""
    lines = [f"# Mock interview: {session.role}", ""]
    lines.append(
        f"- Session `{session.id}`, posting `{session.posting_id}`, mode {session.mode}, "
        f"started {session.started_at:%Y-%m-%d %H:%M} UTC"
    )
    answered = [t for t in session.turns if t.grade]
    lines.append(
        f"- {len(answered)} answers graded, mean score {session.mean_score if session.mean_score else '-'} / 5"
    )
    lines.append("")
    for turn in session.turns:
        lines += _turn_markdown(turn)
    practise = practise_list(session)
    if practise:
        lines += ["## What to practise", ""]
        lines += [f"- `{rid}` (best {score}/5): {gap}" for rid, score, gap in practise]
        lines.append("")
    return "\n".join(lines)


def _turn_markdown(turn: Turn) -> list[str]:
    label = "Follow-up" if turn.kind == "follow_up" else "Question"
    lines = [f"## {turn.n}. {label}: {turn.question}", ""]
    if turn.skipped:
        return [*lines, "*Skipped.*", ""]
    if turn.answer is None:
        return [*lines, "*Not answered.*", ""]
    lines += ["**Answer:**", "", *[f"> {line}" for line in turn.answer.splitlines()], ""]
    grade = turn.grade
    if not grade:
        return [*lines, "*Not graded.*", ""]
    lines += [f"**Score: {grade.score}/5**", ""]
    lines += [f"- [{'x' if mark.met else ' '}] {mark.point}" for mark in grade.rubric]
    if grade.strengths:
        lines += ["", "Strengths: " + "; ".join(grade.strengths)]
    if grade.gaps:
        lines += ["", "Gaps: " + "; ".join(grade.gaps)]
    if grade.better_answer:
        lines += ["", f"A stronger answer: {grade.better_answer}"]
    if grade.citations:
        lines += ["", "Requirements:"]
        lines += [f'- `{c.id}` ({c.relation}): "{c.quote}"' for c in grade.citations]
    return [*lines, ""]


def practise_list(session: Session) -> list[tuple[str, int, str]]:
    """The session's weak items (best score 3 or lower), each with its best score and the first gap named."""
    best: dict[str, tuple[int, str]] = {}
    for turn in session.graded:
        grade = turn.grade
        if grade is None or not turn.requirement_id:
            continue
        gap = grade.gaps[0] if grade.gaps else ""
        if turn.requirement_id not in best or grade.score > best[turn.requirement_id][0]:
            best[turn.requirement_id] = (grade.score, gap or best.get(turn.requirement_id, (0, ""))[1])
    weak = [(rid, score, gap) for rid, (score, gap) in best.items() if score <= WEAK_MAX_SCORE]
    return sorted(weak, key=lambda x: x[1])
