"""A question set as a file: Markdown to read and print, JSON, CSV for spreadsheets, an Anki deck to drill.

The Anki deck (``genanki``) has one note per question: the front is the question, the back its rubric,
follow-up and the requirement it cites. Note IDs derive from the set and question IDs, so importing the
same set twice updates its notes instead of duplicating them.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
from pathlib import Path
from typing import Literal

from prepbot.errors import UsageError
from prepbot.files import exported
from prepbot.questions.models import Question, QuestionSet

Format = Literal["md", "json", "csv", "anki"]
FORMATS: tuple[Format, ...] = ("md", "json", "csv", "anki")
_SUFFIXES: dict[str, Format] = {".md": "md", ".markdown": "md", ".json": "json", ".csv": "csv", ".apkg": "anki"}
CSV_COLUMNS = [
    "set_id",
    "id",
    "kind",
    "difficulty",
    "text",
    "rubric",
    "follow_ups",
    "why",
    "citation_ids",
    "quotes",
    "flags",
]

# Fixed, so every prepbot deck shares one note type in a user's collection (Anki keys note types by ID).
ANKI_MODEL_ID = 1_718_067_203
ANKI_CSS = """.card { font-family: sans-serif; font-size: 18px; text-align: left; }
.meta { color: #888; font-size: 13px; } blockquote { color: #555; border-left: 3px solid #ccc; padding-left: 8px; }"""


def format_for(out: Path | None, requested: Format | None) -> Format:
    """The format asked for, else the one the output file's suffix names, else Markdown."""
    if requested:
        return requested
    if out is not None:
        if out.suffix.lower() in _SUFFIXES:
            return _SUFFIXES[out.suffix.lower()]
        raise UsageError(f"cannot tell the format of {out} from its suffix: add --format md|json|csv|anki")
    return "md"


def destination_format(out: Path | None, requested: Format | None) -> Format | None:
    """What to write (with ``out``) or print (without): checked before a set is generated, so a bad flag
    costs nothing. None: no export asked for."""
    if out is not None:
        return format_for(out, requested)
    if requested == "anki":
        raise UsageError("an Anki deck is a binary file: write it with --out FILE.apkg")
    return requested


def export_text(question_set: QuestionSet, fmt: Format) -> str:
    """The set as text in a text format (everything but Anki)."""
    if fmt == "md":
        return to_markdown(question_set)
    if fmt == "json":
        return to_json(question_set)
    if fmt == "csv":
        return to_csv(question_set)
    raise UsageError("an Anki deck is a binary file: write it with --out FILE.apkg")


def write_export(question_set: QuestionSet, fmt: Format, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "anki":
        write_anki(question_set, out)
    else:
        out.write_text(export_text(question_set, fmt), encoding="utf-8", newline="")
    exported(out)
    return out


def to_json(question_set: QuestionSet) -> str:
    return json.dumps(question_set.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


def to_markdown(question_set: QuestionSet) -> str:
    lines = [
        f"# Interview questions: {question_set.role}",
        "",
        f"Posting `{question_set.posting_id}` · {question_set.language} · {len(question_set.questions)} questions"
        f" · {question_set.backend}/{question_set.model} · set `{question_set.set_id}`",
    ]
    for number, question in enumerate(question_set.questions, 1):
        lines += [
            "",
            f"## {number}. {question.text}",
            "",
            f"*{question.kind} · {question.difficulty}* — {question.why}",
        ]
        lines += ["", "A strong answer covers:", *(f"- {point}" for point in question.rubric)]
        lines += ["", *(f"Follow-up: {follow_up}" for follow_up in question.follow_ups)]
        for citation in question.citations:
            lines += ["", f"> {citation.quote}", ">", f"> — `{citation.id}`"]
        if question.cv_claim:
            lines += ["", f"Your CV: “{question.cv_claim.quote}” (`{question.cv_claim.id}`)"]
        elif question.cv_gap:
            lines += ["", "Your CV does not show this requirement."]
        if question.flags:
            lines += ["", f"Flagged: {'; '.join(question.flags)}"]
    return "\n".join(lines) + "\n"


def to_csv(question_set: QuestionSet) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for q in question_set.questions:
        row = [
            question_set.set_id,
            q.id,
            q.kind,
            q.difficulty,
            q.text,
            " | ".join(q.rubric),
            " | ".join(q.follow_ups),
            q.why,
            " | ".join(c.id for c in q.citations),
            " | ".join(c.quote for c in q.citations),
            "; ".join(q.flags),
        ]
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return buffer.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet shows as text: one that starts like a formula (``=HYPERLINK(...)`` quoted from a
    posting) gets a leading apostrophe, as OWASP advises for CSV injection."""
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell


def write_anki(question_set: QuestionSet, out: Path) -> None:
    import genanki

    model = genanki.Model(
        ANKI_MODEL_ID,
        "prepbot interview question",
        fields=[{"name": "Question"}, {"name": "Meta"}, {"name": "Rubric"}, {"name": "Citation"}],
        templates=[
            {
                "name": "Question",
                "qfmt": "{{Question}}<div class=meta>{{Meta}}</div>",
                "afmt": "{{FrontSide}}<hr id=answer>{{Rubric}}{{Citation}}",
            }
        ],
        css=ANKI_CSS,
    )
    deck = genanki.Deck(_stable_id(question_set.set_id), f"prepbot::{question_set.role} ({question_set.set_id})")
    for question in question_set.questions:
        deck.add_note(
            genanki.Note(
                model=model,
                fields=_anki_fields(question),
                guid=genanki.guid_for(question_set.set_id, question.id),
                tags=[question.kind, question.difficulty, f"prepbot::{question_set.set_id}"],
            )
        )
    genanki.Package(deck).write_to_file(str(out))


def _anki_fields(question: Question) -> list[str]:
    e = html.escape
    rubric = "<b>A strong answer covers</b><ul>" + "".join(f"<li>{e(p)}</li>" for p in question.rubric) + "</ul>"
    rubric += "".join(f"<p><b>Follow-up:</b> {e(f)}</p>" for f in question.follow_ups)
    citation = "".join(
        f"<blockquote>{e(c.quote)}<br><span class=meta>{e(c.id)}</span></blockquote>" for c in question.citations
    )
    return [e(question.text), e(f"{question.kind} · {question.difficulty} · {question.why}"), rubric, citation]


def _stable_id(text: str) -> int:
    """A deck ID in the range genanki recommends, the same for the same set."""
    return (1 << 30) + int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % (1 << 30)
