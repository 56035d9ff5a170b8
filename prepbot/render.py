"""Rich rendering of core results for people; scripts get the same objects as JSON from the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from prepbot.doctor import Check
    from prepbot.index import PostingSummary, SearchHit
    from prepbot.ingest import IngestReport
    from prepbot.postings import Posting

SECTION_LABELS = {
    "about": "About",
    "responsibility": "Responsibilities",
    "requirement": "Requirements",
    "nice_to_have": "Nice to have",
    "benefit": "Benefits",
    "other": "Other",
}
OUTCOME_STYLE = {"added": "green", "updated": "cyan", "unchanged": "dim", "duplicate": "yellow"}


def ingest_report(out: Console, err: Console, report: IngestReport) -> None:
    for item in report.postings:
        style = OUTCOME_STYLE[item.outcome]
        line = f"[{style}]{item.outcome:9}[/] {escape(item.posting_id)}  {escape(item.title)}  ({item.items} items)"
        if item.duplicate_of:
            line += f" [yellow]same requirements as {escape(item.duplicate_of)}: not indexed again[/]"
        if item.replaced:
            line += f" [cyan]replaces {escape(', '.join(item.replaced))}[/]"
        out.print(line, highlight=False)
    for posting_id in report.removed:
        out.print(f"[red]removed  [/] {escape(posting_id)}", highlight=False)
    for problem in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(problem.message)}", highlight=False, soft_wrap=True)
    for problem in report.errors:
        err.print(f"[red]error:[/] {escape(problem.message)}", highlight=False, soft_wrap=True)
    counts = {o: report.count(o) for o in OUTCOME_STYLE}  # type: ignore[arg-type]
    summary = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    if not report.changed and not report.errors:
        summary = (summary + "; " if summary else "") + "nothing changed"
    out.print(summary or "nothing ingested", highlight=False)


def search_hits(out: Console, hits: list[SearchHit]) -> None:
    if not hits:
        out.print("no matching items")
        return
    table = Table(show_lines=False)
    table.add_column("score", justify="right")
    table.add_column("id", overflow="fold")
    table.add_column("text", overflow="fold")
    for hit in hits:
        table.add_row(f"{hit.score:.4f}", escape(hit.id), escape(hit.text))
    out.print(table)


def postings_table(out: Console, summaries: list[PostingSummary]) -> None:
    if not summaries:
        out.print("no postings yet: `prepbot ingest seeds/`")
        return
    table = Table()
    table.add_column("id", no_wrap=True)
    table.add_column("title", overflow="fold", ratio=1)
    for column in ("company", "lang", "req", "resp", "plus", "other"):
        table.add_column(column)
    for s in summaries:
        c = s.counts
        other = sum(n for k, n in c.items() if k not in ("requirement", "responsibility", "nice_to_have"))
        table.add_row(
            escape(s.id), escape(s.title), escape(s.company or "-"), s.language,
            str(c.get("requirement", 0)), str(c.get("responsibility", 0)), str(c.get("nice_to_have", 0)), str(other),
        )
    out.print(table)


def posting_detail(out: Console, posting: Posting) -> None:
    out.print(f"[bold]{escape(posting.title)}[/]  {escape(posting.company or '')}  [dim]{posting.language} · {escape(posting.id)}[/]")
    out.print(f"[dim]{escape(posting.source)}[/]")
    section = group = None
    for item in posting.requirements:
        if item.section != section:
            section, group = item.section, None
            out.print(f"\n[bold underline]{SECTION_LABELS[section]}[/]")
        if item.group and item.group != group:
            group = item.group
            out.print(f"  [italic]{escape(group)}[/]")
        out.print(f"  [cyan]{escape(item.id.rsplit('/', 1)[1])}[/] {escape(item.text)}", highlight=False)


def doctor_table(out: Console, checks: list[Check]) -> None:
    table = Table(show_header=True)
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    marks = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]fail[/]"}
    for check in checks:
        table.add_row(check.name, marks[check.status], escape(check.detail))
    out.print(table)
