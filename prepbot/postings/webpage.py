"""An HTML page as the posting reader sees it: its visible text with headings, lists, bold and table labels
kept as Markdown, and the title the page states for itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_LIST_INDENT = 8  # list nesting kept in HTML text: deeper lists read as that depth (40,000 nested <ul> once
# cost 80,000 spaces a line)
TITLE_MAX_CHARS = 200


def html_to_text(html: str) -> str:
    """Visible text of an HTML page with its structure kept as Markdown: headings as ``#`` lines, list
    items as ``-`` lines (indented by nesting), bold as ``**``, blocks separated by blank lines."""
    return html_page(html)[0]


def html_page(html: str) -> tuple[str, str | None]:
    """A page's visible text (as ``html_to_text``) and the title it states: its ``og:title``, else its
    ``<title>``, as the page names itself ("Customer Success Lead | PostHog"), or None."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    title = " ".join((parser.og_title or parser.page_title).split())
    return parser.text(), title[:TITLE_MAX_CHARS] or None


class _HTMLText(HTMLParser):
    _SKIPPED = {"script", "style", "noscript", "template", "head", "svg", "nav", "aside"}  # not posting text
    _BLOCKS = {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "main",
        "table",
        "tr",
        "blockquote",
        "pre",
        "hr",
        "dl",
        "dt",
        "dd",
    }
    _LISTS = {"ul", "ol"}
    _HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current = ""
        self.skipping = 0
        self.list_depth = 0
        self.cell: str | None = None  # inside a table's "th" or "td"
        self.in_title = False
        self.page_title = ""
        self.og_title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = not self.page_title
        elif tag == "meta" and dict(attrs).get("property") == "og:title" and not self.og_title:
            self.og_title = dict(attrs).get("content") or ""
        if tag in self._SKIPPED:
            self.skipping += 1
        elif tag == "th":  # a table row's label heads the value beside it
            self._paragraph()
            self.current = "**"
            self.cell = "th"
        elif tag == "td":
            self._paragraph()
            self.current = "- "
            self.cell = "td"
        elif tag == "br" and self.cell == "td":
            self._line()
            self.current = "- "
        elif tag in self._HEADINGS:
            self._paragraph()
            self.current = "#" * self._HEADINGS[tag] + " "
        elif tag == "li":
            self._line()
            self.current = "  " * min(max(self.list_depth - 1, 0), MAX_LIST_INDENT) + "- "
        elif tag in ("b", "strong"):
            self.current += "**"
        elif tag == "br":
            self._line()
        elif tag in self._LISTS:
            self._list_edge()
            self.list_depth += 1
        elif tag in self._BLOCKS:
            self._paragraph()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in self._SKIPPED:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in ("th", "td"):
            if self.cell == "th":
                self.current = self.current.rstrip() + "**"
            self.cell = None
            self._paragraph()
        elif tag in ("b", "strong"):
            self.current += "**"
        elif tag == "li":
            self._line()
        elif tag in self._LISTS:
            self.list_depth = max(self.list_depth - 1, 0)
            self._list_edge()
        elif tag in self._HEADINGS or tag in self._BLOCKS:
            self._paragraph()

    def handle_data(self, data: str) -> None:
        if self.in_title and len(self.page_title) < TITLE_MAX_CHARS:
            self.page_title += data
        if not self.skipping:
            self.current += re.sub(r"\s+", " ", data)

    def _line(self) -> None:
        line = self.current.rstrip()
        if not line.strip(" -#*\u3000"):
            return  # only a "- ", "## " or "**" so far (as in <li><p>...): keep it for the text to come
        self.lines.append(line)
        self.current = ""

    def _list_edge(self) -> None:
        # A list nested in an item belongs to that item's list: no paragraph break around it.
        if self.list_depth:
            self._line()
        else:
            self._paragraph()

    def _paragraph(self) -> None:
        self._line()
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def text(self) -> str:
        self._line()
        return "\n".join(self.lines).strip() + "\n"
