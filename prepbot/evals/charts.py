"""Bar charts for the HTML eval report, as inline SVG."""

from __future__ import annotations

from html import escape as html_escape

from markupsafe import Markup

# --- HTML --------------------------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    """A metric value as the reports print it."""
    if value is None:
        return "—"
    if value == int(value) and abs(value) >= 10:
        return f"{int(value):,}"
    return f"{value:.3f}"


_CHART_WIDTH = 560
_LABEL_WIDTH = 200
_ROW_HEIGHT = 20
# Colours are attributes, not page CSS, so a chart copied out of the page still draws the same.
_INK, _MUTED, _RUN, _SLICE, _FAIL = "#1d2330", "#5b6474", "#3b6fd8", "#9db5ea", "#d9534f"


def bar_chart(rows: list[tuple[str, float | None, bool]], *, threshold: float | None, higher_is_better: bool) -> Markup:
    """A horizontal bar per (label, value, is_slice) row, as inline SVG; a dashed line marks the threshold.
    Scores within 0-1 share a 0-1 axis so charts compare at a glance."""
    known = [v for _, v, _ in rows if v is not None] + ([threshold] if threshold is not None else [])
    top = 1.0 if all(0 <= v <= 1 for v in known) else (max(known, default=0) * 1.1 or 1.0)
    bar_space = _CHART_WIDTH - _LABEL_WIDTH - 60
    height = _ROW_HEIGHT * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_CHART_WIDTH} {height}" role="img" font-family="sans-serif" font-size="11">'
    ]
    for i, (label, value, is_slice) in enumerate(rows):
        y = 5 + i * _ROW_HEIGHT
        parts.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{y + 14}" text-anchor="end" fill="{_MUTED if is_slice else _INK}">'
            f"{html_escape(label)}</text>"
        )
        if value is None:
            parts.append(f'<text x="{_LABEL_WIDTH + 4}" y="{y + 14}" fill="{_MUTED}">no value</text>')
            continue
        width = max(bar_space * max(value, 0) / top, 1)
        # thresholds bound the whole run; slices are for reading
        failing = (
            not is_slice and threshold is not None and (value < threshold if higher_is_better else value > threshold)
        )
        colour = _FAIL if failing else (_SLICE if is_slice else _RUN)
        parts.append(
            f'<rect x="{_LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" height="{_ROW_HEIGHT - 6}" fill="{colour}"/>'
        )
        parts.append(f'<text x="{_LABEL_WIDTH + width + 4:.1f}" y="{y + 14}" fill="{_INK}">{fmt(value)}</text>')
    if threshold is not None:
        x = _LABEL_WIDTH + bar_space * threshold / top
        parts.append(
            f'<line x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="{height - 2}" stroke="{_INK}" stroke-dasharray="4 3">'
            f"<title>threshold {fmt(threshold)}</title></line>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
