"""Rich rendering of core results for people; scripts get the same objects as JSON from the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

if TYPE_CHECKING:
    from prepbot.doctor import Check
    from prepbot.grading import Grade, GradeCitation
    from prepbot.ingest import IngestReport, Outcome
    from prepbot.interview import QuotedProgress, Session, SessionSummary
    from prepbot.llm.backends.local.models import ModelStatus
    from prepbot.llm.log import CallRecord
    from prepbot.postings import Posting, Requirement
    from prepbot.questions import QuestionSet, SetSummary
    from prepbot.retrieval.index import PostingSummary, SearchHit

SECTION_LABELS = {
    "about": "About",
    "responsibility": "Responsibilities",
    "requirement": "Requirements",
    "nice_to_have": "Nice to have",
    "benefit": "Benefits",
    "process": "How to apply",
    "other": "Other",
}
OUTCOME_STYLE: dict[Outcome, str] = {"added": "green", "updated": "cyan", "unchanged": "dim", "duplicate": "yellow"}


INGEST_LINES_MAX = 100  # a larger ingest lists only what changed, this many lines, then a count


def ingest_report(out: Console, err: Console, report: IngestReport) -> None:
    shown, total = report.postings, sum(report.counts.values())
    if total > INGEST_LINES_MAX:
        shown = [item for item in shown if item.outcome != "unchanged"]
        total -= report.count("unchanged")
    for item in shown[:INGEST_LINES_MAX]:
        style = OUTCOME_STYLE[item.outcome]
        line = f"[{style}]{item.outcome:9}[/] {escape(item.posting_id)}  {escape(item.title)}  ({item.items} items)"
        if item.duplicate_of:
            line += f" [yellow]same requirements as {escape(item.duplicate_of)}: not indexed again[/]"
        if item.replaced:
            line += f" [cyan]replaces {escape(', '.join(item.replaced))}[/]"
        out.print(line, highlight=False)
    if total > INGEST_LINES_MAX:
        out.print(f"... and {total - INGEST_LINES_MAX} more (--json lists every posting)", highlight=False)
    for posting_id in report.removed:
        out.print(f"[red]removed  [/] {escape(posting_id)}", highlight=False)
    for problem in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(problem.message)}", highlight=False, soft_wrap=True)
    if report.warnings_left_out:
        err.print(f"[yellow]... and {report.warnings_left_out} more warnings[/]", highlight=False)
    for problem in report.errors:
        err.print(f"[red]error:[/] {escape(problem.message)}", highlight=False, soft_wrap=True)
    counts = {o: report.count(o) for o in OUTCOME_STYLE}
    summary = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    if not report.changed and not report.errors:
        summary = (summary + "; " if summary else "") + "nothing changed"
    if report.skipped_files:
        summary += f" ({report.skipped_files} file(s) finished by an earlier ingest and unchanged: not read again)"
    out.print(summary or "nothing ingested", highlight=False)
    failed = sorted({problem.file for problem in report.errors if problem.file})
    if failed:
        err.print(f"[red]{len(failed)} file(s) failed:[/] {escape(', '.join(failed))}", highlight=False, soft_wrap=True)


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
    "responsibility": "green",
    "requirement": "magenta",
    "nice_to_have": "blue",
    "about": "dim",
    "benefit": "yellow",
    "process": "dim",
    "other": "dim",
}
HOW_LABELS = {
    "words": "its words",
    "meaning": "its meaning",
    "parent": "its parent heading",
    "items": "its items",
    "position": "before any heading",
    "unknown": "nothing known",
    "corrected": "your correction",
}


def posting_detail(out: Console, posting: Posting) -> None:
    """The posting as it was understood: each heading with its kind (and why), its items beneath it."""
    head = f"[bold]{escape(posting.title)}[/]  {escape(posting.company or '')}  [dim]{posting.language} · {escape(posting.id)}[/]"
    out.print(head, highlight=False)
    out.print(f"[dim]{escape(posting.source)}[/]")
    by_id = {item.id: item for item in posting.requirements}
    shown: set[str] = set()
    tree = Tree(f"[dim]{_counts_line(posting)}[/]")
    stack: list[tuple[int, Tree]] = []
    for outlined in posting.outline:
        while stack and stack[-1][0] >= outlined.depth:
            stack.pop()
        parent = stack[-1][1] if stack else tree
        heading = escape(outlined.heading) if outlined.heading else "[italic](no heading)[/]"
        style = KIND_STYLE.get(outlined.kind, "")
        why = HOW_LABELS.get(outlined.how, outlined.how)
        branch = parent.add(f"[bold]{heading}[/]  [{style}]{outlined.kind}[/] [dim]by {why}[/]")
        stack.append((outlined.depth, branch))
        for item_id in outlined.items:
            item = by_id.get(item_id)
            if item is None:
                continue
            shown.add(item_id)
            _item_node(branch, item, outlined.kind)
    section = None
    for item in posting.requirements:  # a posting indexed before outlines were kept: by section
        if item.id in shown:
            continue
        if item.section != section:
            section = item.section
            branch = tree.add(f"[bold]{SECTION_LABELS.get(section, section)}[/]")
        _item_node(branch, item, section)
    out.print(tree)


def _item_node(branch: Tree, item: Requirement, kind: str) -> None:
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
    out.print(
        f"[bold]{escape(question_set.role)}[/]  [dim]{escape(question_set.posting_id)} · {question_set.language}"
        f" · {escape(question_set.backend)}/{escape(question_set.model)}[/]",
        highlight=False,
    )
    for number, question in enumerate(question_set.questions, 1):
        out.print(f"\n[bold cyan]{number}.[/] [bold]{escape(question.text)}[/]", highlight=False)
        out.print(f"   [dim]{question.kind} · {question.difficulty} · {escape(question.why)}[/]", highlight=False)
        for point in question.rubric:
            out.print(f"   • {escape(point)}", highlight=False)
        for follow_up in question.follow_ups:
            out.print(f"   [italic]follow-up:[/] {escape(follow_up)}", highlight=False)
        for citation in question.citations:
            out.print(f"   [green]cites[/] [dim]{escape(citation.id)}[/] “{escape(citation.quote)}”", highlight=False)
        if question.cv_claim:
            claim = question.cv_claim
            out.print(f"   [blue]your CV[/] [dim]{escape(claim.id)}[/] “{escape(claim.quote)}”", highlight=False)
        elif question.cv_gap:
            out.print("   [blue]your CV[/] does not show this requirement", highlight=False)
        if question.flags:
            out.print(f"   [yellow]flagged:[/] {escape('; '.join(question.flags))}", highlight=False)
    if question_set.skipped:
        out.print(
            f"\n[yellow]left out (only instructions to a model):[/] {escape(', '.join(question_set.skipped))}",
            highlight=False,
        )
    if question_set.unwritten:
        out.print(
            f"[yellow]not written (the model's reply stayed invalid after a retry; run again or try another model):[/]"
            f" {escape(', '.join(question_set.unwritten))}",
            highlight=False,
        )
    out.print(
        f"\nset [bold]{escape(question_set.set_id)}[/]: `prepbot questions show {escape(question_set.set_id)}`"
        " reprints it",
        highlight=False,
    )


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
        table.add_row(
            escape(s.set_id),
            s.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            escape(s.posting_id),
            escape(s.role),
            str(s.questions),
            s.language,
            escape(f"{s.backend}/{s.model}"),
        )
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
        table.add_row(
            escape(s.id),
            s.started_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            escape(s.role),
            s.mode,
            str(s.turns),
            mean,
            "ended" if s.ended_at else "open",
        )
    out.print(table)


def progress_table(out: Console, rows: list[QuotedProgress]) -> None:
    if not rows:
        out.print("no graded answers yet: `prepbot chat --role TITLE`")
        return
    table = Table(title="Progress per requirement item (weakest first)")
    table.add_column("item", overflow="fold")
    table.add_column("requirement", overflow="fold", ratio=1)
    for column in ("tries", "latest", "best", "scores", "due"):
        table.add_column(column, no_wrap=True)
    with_cv = any(row.cv for row in rows)
    if with_cv:
        table.add_column("CV", no_wrap=True)
    for row in rows:
        item = row.progress
        style = "red" if item.latest <= 2 else "yellow" if item.latest == 3 else "green"
        history = " ".join(str(a.score) for a in item.attempts[-6:])
        table.add_row(
            escape(item.requirement_id),
            escape(row.quote or "(no longer indexed)"),
            str(len(item.attempts)),
            f"[{style}]{item.latest}[/]",
            str(item.best),
            history,
            item.due_at.isoformat()[:10],
            *([_cv_cell(row.cv, item.best)] if with_cv else []),
        )
    out.print(table)


def _cv_cell(verdict: str | None, best: int) -> str:
    """The CV's verdict on an item, and whether an interview closed the gap it leaves (4 or more)."""
    if verdict is None:
        return ""
    closed = verdict != "covered" and best >= 4
    style = "green" if verdict == "covered" or closed else "yellow" if verdict == "partly" else "red"
    return f"[{style}]{verdict.replace('_', ' ')}{', closed' if closed else ''}[/]"


def session_report(out: Console, session: Session) -> None:
    """Every turn of a session, as the Markdown report ``sessions export`` writes."""
    from rich.markdown import Markdown

    from prepbot.interview.report import export_markdown

    out.print(Markdown(export_markdown(session)))


def partial_grade(partial: dict[str, Any]) -> Group:
    """A grade so far, as it streams (and once it is whole): the score first, then the rubric and the feedback."""
    parts: list[Any] = []
    score = partial.get("score")
    if isinstance(score, int):
        colour = "green" if score >= 4 else "yellow" if score == 3 else "red"
        odds = partial.get("expected_score")
        between = f" [dim](weighing 1-5 by the grader's odds: {odds:.1f})[/]" if isinstance(odds, float) else ""
        parts.append(Text.from_markup(f"[bold {colour}]Score: {score}/5[/]{between}"))
    else:
        parts.append(Text("Grading…", style="dim"))
    for line in partial.get("findings") or []:
        parts.append(Text.from_markup(f"  [yellow]![/] {escape(str(line))}"))
    for mark in partial.get("rubric") or []:
        if isinstance(mark, dict) and mark.get("point"):
            sign = "[green]✓[/]" if mark.get("met") else "[red]✗[/]" if mark.get("met") is False else " "
            quote = f' [dim]"{escape(str(mark["quote"]))}"[/]' if mark.get("quote") else ""
            parts.append(Text.from_markup(f"  {sign} {escape(str(mark['point']))}{quote}"))
    for key, label in (("strengths", "Strengths"), ("gaps", "Gaps")):
        values = [str(v) for v in partial.get(key) or [] if v]
        if values:
            parts.append(Text.from_markup(f"[bold]{label}:[/] " + escape("; ".join(values))))
    if partial.get("better_answer"):
        parts.append(Text.from_markup(f"[bold]Stronger answer:[/] {escape(str(partial['better_answer']))}"))
    if partial.get("feedback_error"):
        error = escape(str(partial["feedback_error"]))
        parts.append(Text.from_markup(f"[yellow]No feedback this time (the score stands): {error}[/]"))
    return Group(*parts)


def citation(cited: GradeCitation) -> str:
    """One requirement a grade cites: its ID, how the answer relates to it, its text."""
    return f'  [magenta]{cited.id}[/] [dim]({cited.relation})[/] "{escape(cited.quote)}"'


def grade_result(out: Console, grade: Grade) -> None:
    """``prepbot grade``: the whole grade, the follow-up it suggests, and the requirements it cites."""
    out.print(partial_grade(grade.model_dump()))
    if grade.follow_up:
        out.print(f"[bold]Follow-up:[/] {escape(grade.follow_up)}")
    for cited in grade.citations:
        out.print(citation(cited))


def models_table(out: Console, statuses: list[ModelStatus]) -> None:
    table = Table("model", "parts", "assembled", "size")
    table.add_column("path", overflow="fold")
    for s in statuses:
        parts_style = "green" if s.parts_installed == s.parts_total else "red"
        table.add_row(
            f"[bold]{s.name}[/]\n[dim]{escape(s.description)}[/]",
            f"[{parts_style}]{s.parts_installed}/{s.parts_total}[/]",
            "[green]yes[/]" if s.assembled else "no",
            f"{s.size / 1e9:.2f} GB",
            escape(str(s.path)),
        )
    out.print(table)


def calls_table(out: Console, calls: list[CallRecord]) -> None:
    """Recent LLM calls, one line each; the result column takes the width the others leave."""
    table = Table()
    for column in ("time", "prompt", "backend", "model", "tokens", "latency", "cost"):
        table.add_column(column, no_wrap=True, min_width=len(column))
    table.add_column("result", no_wrap=True, overflow="ellipsis", max_width=max(20, out.width - 80))
    for call in calls:
        tokens = f"{call.prompt_tokens if call.prompt_tokens is not None else '-'}"
        tokens += f"/{call.completion_tokens if call.completion_tokens is not None else '-'}"
        cost = f"${call.cost_usd:.5f}" if call.cost_usd else "-"
        if call.error:
            result = f"[red]{escape(call.error)}[/]"
        else:
            result = ("[cyan]cached[/] " if call.cached else "") + escape(" ".join((call.output or "").split()))
        table.add_row(
            call.created_at.astimezone().strftime("%m-%d %H:%M"),
            call.prompt,
            call.backend,
            escape(call.model),
            tokens,
            f"{call.latency_s:.1f} s",
            cost,
            result,
        )
    out.print(table)
