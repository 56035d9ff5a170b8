"""The ``cv`` group (add, list, show, remove) and ``fit``: a CV against a posting, item by item."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from prepbot.cli.common import (
    BackendOpt,
    JsonFlag,
    ModelOpt,
    NoCacheOpt,
    PostingOpt,
    RoleOpt,
    console,
    print_json,
    write_file,
)
from prepbot.cli.progress_bars import progress_bars
from prepbot.config import get_settings
from prepbot.errors import PrepbotError

if TYPE_CHECKING:
    from prepbot.cv import CV, FitMap
    from prepbot.cv.models import CVSummary
    from prepbot.cv.store import CVStore

CvArg = Annotated[str, typer.Argument(help="A CV ID from `cv list`.")]
FitCvOpt = Annotated[str | None, typer.Option("--cv", help="A CV ID from `cv list` (default: the newest).")]
VERDICT_STYLE = {"covered": "green", "partly": "yellow", "not_shown": "red"}


def open_store() -> CVStore:
    from prepbot.cv.store import CVStore
    from prepbot.retrieval.index import RequirementIndex

    return CVStore(RequirementIndex(get_settings()))


def cv_add(
    path: Annotated[Path, typer.Argument(help="A CV: .pdf .docx .md .txt .html", dir_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Read a CV into claims (roles, achievements, skills, education) and store it beside the postings."""
    from prepbot.cv import parse_cv, read_cv
    from prepbot.ingest import ingest_lock

    cv = parse_cv(read_cv(path), str(path.expanduser().resolve()))
    settings = get_settings()
    with ingest_lock(settings):
        added = open_store().add(cv)
    if as_json:
        print_json({"id": cv.id, "name": cv.name, "added": added, "counts": cv.counts()})
        return
    counts = ", ".join(f"{n} {kind}" for kind, n in cv.counts().items())
    verb = "added" if added else "unchanged (already stored)"
    console.print(f"{escape(cv.id)}: {verb}; {escape(cv.name)}, {counts}", highlight=False)


def cv_list(as_json: JsonFlag = False) -> None:
    """Every stored CV (each version is its own CV)."""
    summaries = open_store().all()
    if as_json:
        print_json([s.model_dump() for s in summaries])
        return
    _cv_table(console, summaries)


def cv_show(cv_id: CvArg, as_json: JsonFlag = False) -> None:
    """One CV's claims, with their IDs."""
    cv = open_store().get(cv_id)
    if cv is None:
        raise _no_cv(cv_id)
    if as_json:
        print_json(cv.model_dump())
        return
    _cv_detail(console, cv)


def cv_remove(cv_id: CvArg) -> None:
    """Delete one CV and its claims."""
    from prepbot.ingest import ingest_lock

    with ingest_lock(get_settings()):
        removed = open_store().remove(cv_id)
    if not removed:
        raise _no_cv(cv_id)
    console.print(f"removed {escape(cv_id)}")


def fit_command(
    posting: PostingOpt = None,
    role: RoleOpt = None,
    cv: FitCvOpt = None,
    fmt: Annotated[
        Literal["md", "html"] | None, typer.Option("--format", help="Print (or with --out write) as md | html.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False, help="Write the map to FILE.")] = None,
    as_json: JsonFlag = False,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Your CV against a posting: for each requirement and duty, the CV lines that show it, must-haves first."""
    from prepbot.cv import fit as fits
    from prepbot.cv.page import fit_html, fit_markdown
    from prepbot.interview.progress import closed_items
    from prepbot.questions.find import find_posting
    from prepbot.retrieval.index import RequirementIndex

    settings = get_settings(backend=backend, model=model)
    index = RequirementIndex(settings)
    found = find_posting(index, role=role, posting_id=posting)
    if out is not None and fmt is None:
        fmt = "html" if out.suffix.lower() in (".html", ".htm") else "md"
    total = sum(1 for r in found.requirements if r.section in fits.FIT_SECTIONS)
    with progress_bars({"item": "items"}, quiet=as_json) as bars:
        bars("total", total)
        fitted = fits.fit(
            settings, posting_id=found.id, cv_id=cv, index=index, no_cache=no_cache, on_item=lambda _: bars("item", 1)
        )
    fit_map = fits.with_interviews(fitted, closed_items(settings, found.id))
    fits.save(settings, fit_map)
    text = None if fmt is None else fit_html(fit_map) if fmt == "html" else fit_markdown(fit_map)
    if out is not None and text is not None:
        write_file(out, text)
    if as_json:
        print_json(fit_map.model_dump(mode="json"))
    elif text is not None and out is None:
        sys.stdout.write(text)
    else:
        fit_table(console, fit_map)


def fit_table(out: Console, fit_map: FitMap) -> None:
    from prepbot.cv.page import SECTION_NAMES, VERDICT_NAMES

    out.print(f"[bold]{escape(fit_map.cv_name)}[/] against [bold]{escape(fit_map.posting_title)}[/]", highlight=False)
    for section, share in fit_map.coverage.items():
        out.print(f"  {SECTION_NAMES.get(section, section)}: {share:.0%} covered", highlight=False)
    table = Table(show_lines=False)
    table.add_column("verdict", no_wrap=True)
    table.add_column("item", overflow="fold", ratio=1)
    table.add_column("evidence from the CV", overflow="fold", ratio=1)
    for item in fit_map.items:
        style = VERDICT_STYLE[item.verdict]
        verdict = f"[{style}]{VERDICT_NAMES[item.verdict]}[/]"
        if item.interviewed:
            verdict += f"\n[green]interview {item.interviewed.score}/5[/]"
        quotes = "\n".join(f"{escape(e.claim_id.rsplit('/', 1)[-1])}: “{escape(e.quote)}”" for e in item.evidence)
        reason = f"[dim]{escape(item.reason)}[/]"
        table.add_row(
            verdict,
            f"{escape(item.requirement.text)}\n[dim]{escape(item.requirement.id)}[/]",
            f"{quotes}\n{reason}".strip(),
        )
    out.print(table)
    out.print(f"[dim]{fit_map.latency_s:.1f} s on {escape(fit_map.model or '?')}[/]")


def _cv_table(out: Console, summaries: list[CVSummary]) -> None:
    if not summaries:
        out.print("no CV stored: `prepbot cv add PATH`")
        return
    table = Table(title="CVs")
    for column in ("id", "name", "language", "claims", "source"):
        table.add_column(column, overflow="fold")
    for s in summaries:
        table.add_row(
            escape(s.id), escape(s.name), s.language, str(sum(s.counts.values())), escape(Path(s.source).name)
        )
    out.print(table)


def _cv_detail(out: Console, cv: CV) -> None:
    out.print(f"[bold]{escape(cv.name)}[/] ({cv.language}) [dim]{escape(cv.id)}[/]", highlight=False)
    for claim in cv.claims:
        indent = "    " if claim.context else "  "
        out.print(f"{indent}[dim]{escape(claim.id.rsplit('/', 1)[-1])}[/] {escape(claim.text)}", highlight=False)


def _no_cv(cv_id: str) -> PrepbotError:
    return PrepbotError(f"no CV {cv_id!r}; `prepbot cv list` shows the IDs")
