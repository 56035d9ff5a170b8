"""Posting text as a sequence of entries: headings (in every form postings use), list items (every common
marker), table rows, text lines and blank lines. Markup is dropped from the text; what it said (a heading's
level and form, an item's marker and indent) is kept beside it. Each rule is local to a line or its
neighbours, so the cost is linear in the text."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from prepbot.postings.sections import words_kind
from prepbot.text import CJK

EntryKind = Literal["heading", "item", "text", "blank"]
# How a heading was written, deepest last: a pseudo-heading nests under the last Markdown heading.
HeadingStyle = Literal["atx", "setext", "emphasis", "bracket", "symbol", "ordinal", "colon", "bare", "field"]

MAX_LINE_CHARS = 20_000  # a longer physical line is cut: no posting line is this long, and regexes stay linear
HEADING_MAX_CHARS = 80
PSEUDO_HEADING_MAX_CHARS = 60


@dataclass
class Entry:
    kind: EntryKind
    text: str  # without markup, whitespace collapsed
    style: str = ""  # heading: a HeadingStyle; item: the marker's class ("bullet", "number", "symbol", ...)
    atx: int | None = None  # a Markdown heading's level (setext: 1 or 2)
    indent: int = 0  # columns before an item's marker or a text line
    marker: str = ""  # an item's marker as written ("-", "1.", "●")
    value: str | None = None  # a field heading ("工作地点：北京") keeps its value here


# --- inline markup ---------------------------------------------------------------------------------------

_IMAGE = re.compile(r"!\[[^\]]{0,500}\]\([^)\s]{0,2000}(?:\s+\"[^\"]{0,200}\")?\)")
_LINK = re.compile(r"\[([^\]]{0,500})\]\([^)\s]{0,2000}(?:\s+\"[^\"]{0,200}\")?\)")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,20}(?:\s[^<>]{0,2000})?/?>")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z]{2,10});")
_STRONG = re.compile(r"\*\*|__")
_EMPHASIS = re.compile(r"(?<![\w*])[*_](?=\S)([^*_\n]{1,300}?)(?<=\S)[*_](?![\w*])")
_SPACES = re.compile(r"[ \t\u3000\u00a0]+")


def clean_inline(text: str) -> str:
    """Text as stored and cited: links and images reduced to their words, tags and emphasis dropped."""
    if "!" in text:
        text = _IMAGE.sub("", text)
    if "[" in text:
        text = _LINK.sub(r"\1", text)
    if "<" in text:
        text = _TAG.sub("", text)
    if "&" in text:
        text = _ENTITY.sub(lambda m: html.unescape(m[0]), text)
    text = _STRONG.sub("", text.replace("`", ""))
    if "*" in text or "_" in text:
        text = _EMPHASIS.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def strip_symbols(text: str) -> str:
    """Emoji, pictographs and joiners dropped from both ends (and doubled spaces inside)."""

    def symbolic(ch: str) -> bool:
        return unicodedata.category(ch) in ("So", "Sk", "Cf", "Cn", "Co") or ch in "\ufe0f\u200d\u20e3"

    start, end = 0, len(text)
    while start < end and (symbolic(text[start]) or text[start].isspace()):
        start += 1
    while end > start and (symbolic(text[end - 1]) or text[end - 1].isspace()):
        end -= 1
    return " ".join(text[start:end].split())


# --- line forms ------------------------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-{2,})[ \t]*$")
_RULE = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|(?:-[ \t]*){3,})$")
_TABLE_SEPARATOR = re.compile(r"^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
_GLUED_HEADING = re.compile(r"^(.*\S)\s+(#{2,6}\s+\S.{0,40})$")  # "9.參與開發經驗 ## 薪資範圍"
_TEMPLATE = re.compile(r"^\s*(?:\{%.*?%\}|\{\{<.*?>\}\}|\{\{%.*?%\}\}|\{#.*?#\})\s*$")

_BULLET = re.compile(r"^([ \t]*)([-*+])[ \t]+(?=\S)")
_TIGHT_HYPHEN = re.compile(r"^([ \t]*)-(?=[^\s\-])")  # "-text": a list entry written without its space
_DOT_BULLET = re.compile(r"^([ \t]*)[.．][ \t]+(?=\S)")  # ". text": a full stop used as a bullet
_SYMBOL = re.compile(r"^([ \t\u3000]*)([•・●○◦▪▫■□◆◇▶▷►▸▹➤➢➔→✓✔✅☑★☆◎▼▽◉※＊])[ \t\u3000]*(?=\S)")
_NUMBER = re.compile(
    r"^([ \t\u3000]*)((?:\d{1,2}|[０-９]{1,2})(?:[.．](?![\d０-９])|[、)）]))[ \t\u3000]*(?=\S)"
)  # "1." but not "3.8"; "1、3-5年" is item 1
_PAREN = re.compile(
    r"^([ \t\u3000]*)([(（](?:\d{1,2}|[０-９]{1,2}|[一二三四五六七八九十]{1,3})[)）])[ \t\u3000]*(?=\S)"
)
_CIRCLED = re.compile(r"^([ \t\u3000]*)([①-⑳㉑-㉟])[ \t\u3000]*(?=\S)")
_LETTER = re.compile(r"^([ \t]*)([a-z][.)])[ \t]+(?=\S)")
_ORDINAL = re.compile(r"^[ \t\u3000]*([一二三四五六七八九十]{1,3}|[IVX]{1,4}|[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ])[、.．][ \t\u3000]*(?=\S)")
_MARKERS = (
    (_BULLET, "bullet"), (_NUMBER, "number"), (_PAREN, "paren"), (_CIRCLED, "number"),
    (_SYMBOL, "symbol"), (_DOT_BULLET, "bullet"), (_TIGHT_HYPHEN, "bullet"), (_LETTER, "letter"),
)  # fmt: skip

_BRACKET_LINE = re.compile(r"^[ \t\u3000]*[【\[]([^【】\[\]\n]{1,40})[】\]][ \t\u3000]*[:：]?[ \t\u3000]*(.*)$")
_WHOLE_EMPHASIS = re.compile(r"^(\*\*|__)(.+?)\1[ \t]*([:：]?)$|^([*_])([^*_].*?)\4[ \t]*([:：]?)$")
_COLON_END = re.compile(r"[:：]\s*$")
_FIELD = re.compile(r"^([^:：]{1,24}?)[ \t]*[:：][ \t\u3000]*(\S.*)$")
_URL = re.compile(r"https?://|www\.|@\w+\.\w")
_TERMINAL = ".。!！?？;；"


def _indent(prefix: str) -> int:
    return len(prefix.replace("\u3000", "  ").expandtabs(4))


def _cjk_or_words(text: str) -> int:
    """A length that treats a CJK character and a Latin word alike."""
    cjk = len(CJK.findall(text))
    return cjk + len(re.findall(r"[A-Za-z0-9]+", text))


def entries(text: str) -> list[Entry]:
    """The entries of a posting text, in order."""
    out: list[Entry] = []
    in_comment = False
    for raw in text.split("\n"):
        raw = raw[:MAX_LINE_CHARS]
        if in_comment or "<!--" in raw:  # HTML comments, possibly over several lines
            raw, in_comment = _drop_comments(raw, in_comment)
        stripped = raw.rstrip()
        if stripped.endswith("\\"):  # a Markdown hard line break
            stripped = stripped[:-1]
        if not stripped.strip(" \t\u3000") or _TEMPLATE.match(stripped):
            out.append(Entry("blank", ""))
            continue
        glued = _GLUED_HEADING.match(stripped) if "#" in stripped else None
        for line in [glued[1], glued[2]] if glued else [stripped]:
            _entry(line, out)
    _symbol_headings(out)
    return out


def _drop_comments(line: str, in_comment: bool) -> tuple[str, bool]:
    kept: list[str] = []
    while line:
        if in_comment:
            end = line.find("-->")
            if end < 0:
                return "".join(kept), True
            line, in_comment = line[end + 3 :], False
        else:
            start = line.find("<!--")
            if start < 0:
                kept.append(line)
                break
            kept.append(line[:start])
            line, in_comment = line[start + 4 :], True
    return "".join(kept), in_comment


def _entry(line: str, out: list[Entry]) -> None:
    previous = out[-1] if out else None
    underlined = previous is not None and (previous.kind == "text" or previous.style in ("bare", "colon"))
    if _SETEXT.match(line) and underlined and previous is not None and previous.indent < 4:
        previous.kind, previous.style = "heading", "setext"
        previous.atx = 1 if "=" in line else 2
        previous.text = strip_symbols(previous.text)
        return
    if _RULE.match(line) or ("|" in line and _TABLE_SEPARATOR.match(line)):
        out.append(Entry("blank", ""))
        return
    if match := _ATX.match(line):
        heading = strip_symbols(clean_inline(match[2] or ""))
        out.append(Entry("heading", heading, "atx", atx=len(match[1])) if heading else Entry("blank", ""))
        return
    if "|" in line and (line.lstrip().startswith("|") or line.count("|") >= 2 or " | " in line):
        cells = [clean_inline(cell) for cell in line.strip().strip("|").split("|")]
        text = " | ".join(cell for cell in cells if cell)
        out.append(
            Entry("item", text, "table", indent=_indent(line[: len(line) - len(line.lstrip())]), marker="|")
            if text
            else Entry("blank", "")
        )
        return
    if emphasis := _emphasis_heading(line):
        out.append(emphasis)
        return
    if match := _BRACKET_LINE.match(line):
        label, rest = strip_symbols(clean_inline(match[1])), clean_inline(match[2])
        if label and not _looks_like_link(line):
            if not rest:
                out.append(Entry("heading", label, "bracket"))
                return
            if words_kind(label) is not None:
                out.append(Entry("heading", label, "bracket"))
                out.append(Entry("text", rest))
                return
    if match := _ORDINAL.match(line):
        rest = clean_inline(line[match.end() :])
        if len(rest) <= PSEUDO_HEADING_MAX_CHARS and rest[-1:] not in _TERMINAL:
            out.append(Entry("heading", strip_symbols(rest.rstrip(":：")), "ordinal"))
            return
    for pattern, style in _MARKERS:
        if match := pattern.match(line):
            if style == "bullet" and match[0].strip() in ("*", "-") and _WHOLE_EMPHASIS.match(line.strip()):
                break  # "*italic line*", not a bullet
            text = clean_inline(line[match.end() :])
            if text:
                out.append(
                    Entry(
                        "item",
                        text,
                        style,
                        indent=_indent(match[1]),
                        marker=match[2] if match.lastindex and match.lastindex >= 2 else match[0].strip(),
                    )
                )
                return
            break
    indent = _indent(line[: len(line) - len(line.lstrip(" \t\u3000"))])
    text = clean_inline(line)
    if not text:
        out.append(Entry("blank", ""))
        return
    if _COLON_END.search(text) and not _URL.search(text):
        label = strip_symbols(text.rstrip(":： "))
        if label and len(label) <= PSEUDO_HEADING_MAX_CHARS and _cjk_or_words(label) <= 12:
            out.append(Entry("heading", label, "colon", indent=indent))
            return
    if (field := _FIELD.match(text)) and not _URL.match(text) and not field[2].startswith("//"):
        label = strip_symbols(field[1])
        if label and _cjk_or_words(label) <= 6 and label[-1:] not in _TERMINAL and words_kind(label) is not None:
            out.append(Entry("heading", label, "field", indent=indent, value=field[2].strip()))
            return
    bare = strip_symbols(text)
    if bare and len(bare) <= 40 and bare[-1] not in _TERMINAL + ",，、" and words_kind(bare, bare=True) is not None:
        out.append(Entry("heading", bare, "bare", indent=indent))
        return
    out.append(Entry("text", text, indent=indent))


def _looks_like_link(line: str) -> bool:
    return bool(re.search(r"\]\(", line))


def _emphasis_heading(line: str) -> Entry | None:
    """A line that is nothing but bold or italic text (emoji around it allowed): a pseudo-heading."""
    if "*" not in line and "_" not in line:
        return None
    core = strip_symbols(line.strip())
    if not core or _URL.search(core) or len(core) > HEADING_MAX_CHARS + 8:
        return None
    match = _WHOLE_EMPHASIS.match(core)
    if match is None:
        return None
    inner = match[2] if match[2] is not None else match[5]
    text = strip_symbols(clean_inline(inner))
    text = strip_symbols(text.rstrip(":： "))
    if not text or len(text) > HEADING_MAX_CHARS:
        return None
    italic_only = match[1] is None
    if italic_only and (_cjk_or_words(text) > 8 or text[-1] in "。."):
        return None  # an italic sentence (a footnote), not a heading
    if not italic_only and text[-1] in "。." and _cjk_or_words(text) > 8:
        return None  # a bold sentence
    return Entry("heading", text, "emphasis")


_HEADING_SYMBOLS = set("●○■□◆◇▶▷►▼▽◎◉★☆")


def _symbol_headings(out: list[Entry]) -> None:
    """A "●応募資格" line on its own (no neighbouring entry with the same marker), short and not a sentence,
    heads the lines that follow it; a run of such lines is a list."""
    solid = [i for i, e in enumerate(out) if e.kind != "blank"]
    for position, i in enumerate(solid):
        entry = out[i]
        if entry.kind != "item" or entry.marker not in _HEADING_SYMBOLS:
            continue
        neighbours = [out[solid[j]] for j in (position - 1, position + 1) if 0 <= j < len(solid)]
        alone = all(not (n.kind == "item" and n.marker == entry.marker) for n in neighbours)
        short = len(entry.text) <= 30 and entry.text[-1] not in _TERMINAL + ",，、"
        named = words_kind(entry.text) is not None and len(entry.text) <= 30
        followed = position + 1 < len(solid)
        if followed and ((alone and short) or named):
            entry.kind, entry.style = "heading", "symbol"
            entry.text = strip_symbols(entry.text.rstrip(":："))
