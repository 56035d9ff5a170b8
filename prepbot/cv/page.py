"""The fit map as a page a candidate would print (HTML) and as Markdown."""

from __future__ import annotations

from pathlib import Path

import jinja2

from prepbot.cv.models import FIT_SECTIONS, FitMap

SECTION_NAMES = {"requirement": "Requirements", "responsibility": "Responsibilities", "nice_to_have": "Nice to have"}
VERDICT_NAMES = {"covered": "covered", "partly": "partly", "not_shown": "not shown"}
_TEMPLATE = Path(__file__).with_name("fit.html.j2")


def fit_html(fit_map: FitMap) -> str:
    environment = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = environment.from_string(_TEMPLATE.read_text(encoding="utf-8"))
    return template.render(fit=fit_map, sections=_sections(fit_map), names=SECTION_NAMES, verdicts=VERDICT_NAMES)


def fit_markdown(fit_map: FitMap) -> str:
    lines = [f"# Fit: {fit_map.cv_name} / {fit_map.posting_title}", ""]
    lines.append(f"CV `{fit_map.cv_id}`, posting `{fit_map.posting_id}`.")
    lines.append("")
    for section, items in _sections(fit_map):
        share = fit_map.coverage.get(section, 0.0)
        lines += [f"## {SECTION_NAMES[section]} ({share:.0%} covered)", ""]
        for item in items:
            closed = (
                f" (closed in interview {item.interviewed.session_id}: {item.interviewed.score}/5)"
                if item.interviewed
                else ""
            )
            lines.append(
                f"- **{VERDICT_NAMES[item.verdict]}**{closed} `{item.requirement.id}`: {item.requirement.text}"
            )
            for evidence in item.evidence:
                lines.append(f'  - `{evidence.claim_id}`: "{evidence.quote}"')
            lines.append(f"  - {item.reason}")
        lines.append("")
    return "\n".join(lines)


def _sections(fit_map: FitMap) -> list[tuple[str, list]]:
    return [
        (section, items)
        for section in FIT_SECTIONS
        if (items := [item for item in fit_map.items if item.requirement.section == section])
    ]
