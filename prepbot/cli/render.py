"""Rich rendering of core results for people; scripts get the same objects as JSON from the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from prepbot.doctor import Check
    from prepbot.retrieval.index import PostingSummary, SearchHit
    from prepbot.ingest import IngestReport
    from prepbot.postings import Posting
    from prepbot.questions import QuestionSet, SetSummary
    from prepbot.interview.sessions import SessionSummary

SECTION_LABELS = {
    "about": "About",
    "responsibility": "Responsibilities",
    "requirement": "Requirements",
    "nice_to_have": "Nice to have",
    "benefit": "Benefits",
    "process": "How to apply",
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
    table.add_column("id", overflow="fold", ratio=3)
    table.add_column("title", overflow="fold", ratio=3)
    table.add_column("company", overflow="fold", ratio=1)
    table.add_column("lang", no_wrap=True)
    table.add_column("req/resp/plus/other", no_wrap=True, justify="right")
    for s in summaries:
        c = s.counts
        other = sum(n for k, n in c.items() if k not in ("requirement", "responsibility", "nice_to_have"))
        counts = f"{c.get('requirement', 0)}/{c.get('responsibility', 0)}/{c.get('nice_to_have', 0)}/{other}"
        table.add_row(escape(s.id), escape(s.title), escape(s.company or "-"), s.language, counts)
    out.print(table)


KIND_STYLE = {
    "responsibility": "green", "requirement": "magenta", "nice_to_have": "blue", "about": "dim",
    "benefit": "yellow", "process": "dim", "other": "dim",
}  # fmt: skip
HOW_LABELS = {
    "words": "its words", "meaning": "its meaning", "parent": "its parent heading", "items": "its items",
    "position": "before any heading", "unknown": "nothing known", "corrected": "your correction",
}  # fmt: skip


def posting_detail(out: Console, posting: Posting) -> None:
    """The posting as it was understood: each heading with its kind (and why), its items beneath it."""
    from rich.tree import Tree

    head = f"[bold]{escape(posting.title)}[/]  {escape(posting.company or '')}  [dim]{posting.language} · {escape(posting.id)}[/]"
    out.print(head, highlight=False)
    out.print(f"[dim]{escape(posting.source)}[/]")
    by_id = {item.id: item for item in posting.requirements}
    shown: set[str] = set()
    tree = Tree(f"[dim]{_counts_line(posting)}[/]")
    stack: list[tuple[int, Tree]] = []
    for section in posting.outline:
        while stack and stack[-1][0] >= section.depth:
            stack.pop()
        parent = stack[-1][1] if stack else tree
        heading = escape(section.heading) if section.heading else "[italic](no heading)[/]"
        style = KIND_STYLE.get(section.kind, "")
        why = HOW_LABELS.get(section.how, section.how)
        branch = parent.add(f"[bold]{heading}[/]  [{style}]{section.kind}[/] [dim]by {why}[/]")
        stack.append((section.depth, branch))
        for item_id in section.items:
            item = by_id.get(item_id)
            if item is None:
                continue
            shown.add(item_id)
            _item_node(branch, item, section.kind)
    rest = [item for item in posting.requirements if item.id not in shown]
    section = None
    for item in rest:  # a posting indexed before outlines were kept: by section
        if item.section != section:
            section = item.section
            branch = tree.add(f"[bold]{SECTION_LABELS.get(section, section)}[/]")
        _item_node(branch, item, section)
    out.print(tree)


def _item_node(branch: Any, item: Any, kind: str) -> None:
    marked = f" [{KIND_STYLE.get(item.section, '')}]{item.section}[/]" if item.section != kind else ""
    node = branch.add(f"[cyan]{escape(item.id.rsplit('/', 1)[1])}[/]{marked} {escape(item.text)}")
    if item.detail:
        for line in item.detail.splitlines():
            node.add(f"[dim]{escape(line)}[/]")


def _counts_line(posting: Posting) -> str:
    counts = posting.counts()
    order = ("responsibility", "requirement", "nice_to_have", "benefit", "about", "process", "other")
    return ", ".join(f"{counts[k]} {k}" for k in order if counts.get(k))


def doctor_table(out: Console, checks: list[Check]) -> None:
    table = Table(show_header=True)
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    marks = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]fail[/]"}
    for check in checks:
        table.add_row(check.name, marks[check.status], escape(check.detail))
    out.print(table)


def question_set(out: Console, question_set: QuestionSet) -> None:
    out.print(f"[bold]{escape(question_set.role)}[/]  [dim]{escape(question_set.posting_id)} · {question_set.language}"
              f" · {escape(question_set.backend)}/{escape(question_set.model)}[/]", highlight=False)
    for number, question in enumerate(question_set.questions, 1):
        out.print(f"\n[bold cyan]{number}.[/] [bold]{escape(question.text)}[/]", highlight=False)
        out.print(f"   [dim]{question.kind} · {question.difficulty} · {escape(question.why)}[/]", highlight=False)
        for point in question.rubric:
            out.print(f"   • {escape(point)}", highlight=False)
        for follow_up in question.follow_ups:
            out.print(f"   [italic]follow-up:[/] {escape(follow_up)}", highlight=False)
        for citation in question.citations:
            out.print(f"   [green]cites[/] [dim]{escape(citation.id)}[/] “{escape(citation.quote)}”", highlight=False)
        if question.flags:
            out.print(f"   [yellow]flagged:[/] {escape('; '.join(question.flags))}", highlight=False)
    if question_set.skipped:
        out.print(f"\n[yellow]left out (only instructions to a model):[/] {escape(', '.join(question_set.skipped))}",
                  highlight=False)
    if question_set.unwritten:
        out.print(f"[yellow]not written (the model's reply stayed invalid after a retry; run again or try another model):[/]"
                  f" {escape(', '.join(question_set.unwritten))}", highlight=False)
    out.print(f"\nset [bold]{escape(question_set.set_id)}[/]: `prepbot questions show {escape(question_set.set_id)}`"
              " reprints it", highlight=False)


def question_sets_table(out: Console, summaries: list[SetSummary]) -> None:
    if not summaries:
        out.print("no question sets yet: `prepbot questions --role TITLE`")
        return
    table = Table()
    table.add_column("set", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("posting", overflow="fold")
    table.add_column("role", overflow="fold", ratio=1)
    for column in ("n", "lang", "model"):
        table.add_column(column, no_wrap=True)
    for s in summaries:
        table.add_row(escape(s.set_id), s.created_at.astimezone().strftime("%Y-%m-%d %H:%M"), escape(s.posting_id),
                      escape(s.role), str(s.questions), s.language, escape(f"{s.backend}/{s.model}"))
    out.print(table)


def sessions_table(out: Console, summaries: list[SessionSummary]) -> None:
    if not summaries:
        out.print("no interview sessions yet: `prepbot chat --role TITLE`")
        return
    table = Table()
    table.add_column("session", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("role", overflow="fold", ratio=1)
    for column in ("mode", "answers", "mean", "state"):
        table.add_column(column, no_wrap=True)
    for s in summaries:
        mean = "-" if s.mean_score is None else f"{s.mean_score:.1f}"
        table.add_row(escape(s.id), s.started_at.astimezone().strftime("%Y-%m-%d %H:%M"), escape(s.role), s.mode,
                      str(s.turns), mean, "ended" if s.ended_at else "open")
    out.print(table)


def progress_table(out: Console, rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.print("no graded answers yet: `prepbot chat --role TITLE`")
        return
    table = Table(title="Progress per requirement item (weakest first)")
    table.add_column("item", overflow="fold")
    table.add_column("requirement", overflow="fold", ratio=1)
    for column in ("tries", "latest", "best", "scores", "due"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        style = "red" if row["latest"] <= 2 else "yellow" if row["latest"] == 3 else "green"
        history = " ".join(str(a["score"]) for a in row["history"][-6:])
        due = row["due_at"][:10]
        table.add_row(escape(row["requirement_id"]), escape(row["quote"] or "(no longer indexed)"), str(row["attempts"]),
                      f"[{style}]{row['latest']}[/]", str(row["best"]), history, due)
    out.print(table)
