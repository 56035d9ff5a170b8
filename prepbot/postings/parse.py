"""Reading a posting file the way a careful reader does: where each posting starts, what each heading's
section is, and which lines are its items.

1. **Entries** (``lines.py``): headings in every form (``#``, setext, a bold or italic line, ``【X】``, a
   ``●X`` line on its own, ``一、X``, a ``Label:`` line, a bare line that is only a section name), items
   under every common marker, table rows, text.
2. **Outline** (``outline.py``): each heading gets a depth (Markdown levels; a pseudo-heading sits below the
   last Markdown heading, a lead-in line below that) and a parent.
3. **Boundaries**: a file is one posting unless two or more headings of the same form and depth name jobs
   (a role noun, no section word) and at least two of the blocks they open hold requirements or duties.
   Every other heading is a section of the posting it sits in; text before the first posting is the file's
   preamble, kept as each posting's ``about``.
4. **Kinds**: a section's kind comes from its heading's words, else its parent's kind, else the heading's
   meaning (the embedder), else its items' meaning, else ``other``.
5. **Items**: list entries at the section's own indent; deeper ones are their parent's detail. A section
   without a list gives its lines (one statement a line) or, for duties and requirements written as
   prose, its sentences. An item marked optional (preferred, a plus, 优先, 歓迎...) is a nice-to-have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from pydantic import BaseModel, Field

from prepbot.postings.company import find_company
from prepbot.postings.identity import fingerprint, number_items, posting_id
from prepbot.postings.lexicon import (
    OPTIONAL_MARKERS,
    REQUIREMENT_CUES,
    RESPONSIBILITY_CUES,
    TITLE_FIELDS,
    statement_kind,
)
from prepbot.postings.lines import Entry, entries
from prepbot.postings.models import CORE_SECTIONS, OutlineSection, ParseResult, Posting, Requirement, Section
from prepbot.postings.outline import Node, outline
from prepbot.postings.readers import Document
from prepbot.postings.sections import SectionClassifier, default_classifier, words_kind
from prepbot.postings.statements import TERMINAL, continues, dash_clauses, is_prose, join_lines, split_sentences
from prepbot.postings.titles import clean_title, is_title_field, is_title_like, title_from_prose
from prepbot.postings.unflatten import unflatten_text
from prepbot.text import detect_language, normalise


class Corrections(BaseModel):
    """A user's corrections for one file: a section's kind by its heading, where postings begin, or that
    the file is one posting. Headings are matched by ``heading_key``, so a re-worded heading loses its
    correction and is read afresh."""

    sections: dict[str, Section] = Field(default_factory=dict)
    split_at: set[str] = Field(default_factory=set)
    one_posting: bool = False


def heading_key(heading: str) -> str:
    return normalise(heading)


@dataclass
class _Item:
    section: Section
    group: str | None
    text: str
    detail: list[str] = field(default_factory=list)
    node: Node | None = None


def parse_document(
    doc: Document, classifier: SectionClassifier | bool | None = True, corrections: Corrections | None = None
) -> ParseResult:
    """Split a document into postings, each into classified, numbered items with stable IDs.

    ``classifier`` reads headings the keywords do not know by meaning: True for the default embedder's
    (loaded on first need), False or None for the keywords alone, or a SectionClassifier of your own.
    ``corrections`` are the user's, for this file: they win over everything read."""
    if classifier is True:
        classifier = default_classifier()  # cheap: the embedder loads its weights on its first use
    elif classifier is False:
        classifier = None
    corrections = corrections or Corrections()
    nodes = outline(entries(unflatten_text(doc.text)))
    for node in nodes:
        if node.heading and (kind := corrections.sections.get(heading_key(node.heading))):
            node.kind, node.how = kind, "corrected"
    result = ParseResult()
    blocks, preamble = _boundaries(nodes, corrections)
    for k, block in enumerate(blocks, 1):
        source = f"{doc.source}#{k}" if len(blocks) > 1 else doc.source
        posting = _posting(doc, block, preamble, source, len(blocks) > 1, classifier, result.warnings)
        if posting is not None:
            result.postings.append(posting)
    return result


# --- posting boundaries ----------------------------------------------------------------------------------


def _boundaries(nodes: list[Node], corrections: Corrections) -> tuple[list[list[Node]], list[Node]]:
    """The postings' node blocks, and the file's preamble (nodes before the first posting)."""
    if corrections.one_posting:
        return [nodes], []
    forced = [i for i, n in enumerate(nodes) if n.heading and heading_key(n.heading) in corrections.split_at]
    if forced:
        starts = [0, *forced] if forced[0] != 0 else forced
        blocks = [nodes[a:b] for a, b in pairwise([*starts, len(nodes)])]
        blocks = [b for b in blocks if any(n.entries or (n.heading and n is not b[0]) for n in b)]
        for block in blocks[1:] if starts[0] == 0 and forced[0] != 0 else blocks:
            block[0].title = block[0].heading is not None
        return blocks, []
    candidates = [
        i
        for i, n in enumerate(nodes)
        if n.heading and n.style not in ("colon", "bare", "field") and is_title_like(n.heading)
    ]
    groups: dict[tuple[str, int], list[int]] = {}
    for i in candidates:
        style = "markdown" if nodes[i].style in ("atx", "setext") else nodes[i].style
        groups.setdefault((style, nodes[i].depth), []).append(i)
    best: tuple[int, int, list[int]] | None = None
    for (_, depth), starts in groups.items():
        if len(starts) < 2:
            continue
        blocks = [nodes[a:b] for a, b in pairwise([*starts, _block_end(nodes, starts[-1], depth)])]
        if sum(_has_substance(block) for block in blocks) >= 2 and (best is None or depth < best[0]):
            best = (depth, len(starts), starts)
    if best is None:
        return [nodes], []
    starts = best[2]
    blocks = [nodes[a:b] for a, b in pairwise([*starts, len(nodes)])]
    for block in blocks:
        block[0].title = True
    return blocks, nodes[: starts[0]]


def _block_end(nodes: list[Node], start: int, depth: int) -> int:
    """Where the last posting of a group ends for the substance check: the next heading above its depth."""
    for i in range(start + 1, len(nodes)):
        if nodes[i].style in ("atx", "setext") and nodes[i].depth < depth:
            return i
    return len(nodes)


def _has_substance(block: list[Node]) -> bool:
    """A block that holds a posting: a duties or requirements heading, or a list of its own."""
    if any(n.heading and words_kind(n.heading) in CORE_SECTIONS for n in block[1:]):
        return True
    return sum(e.kind == "item" for n in block for e in n.entries) >= 2


# --- one posting ---------------------------------------------------------------------------------------


def _posting(
    doc: Document,
    block: list[Node],
    preamble: list[Node],
    source: str,
    several: bool,
    classifier: SectionClassifier | None,
    warnings: list[str],
) -> Posting | None:
    title = _title(doc, block, several)
    nodes = [n for n in block if not n.title]
    for node in nodes:
        if node.heading is not None:
            _kind(node, classifier)
    # Text under no heading takes a core kind only where no heading of the posting names that kind: with a
    # "Requirements" heading present, an intro saying "you have..." is the pitch, not the requirements.
    named = {n.kind for n in nodes if n.heading is not None and n.kind in CORE_SECTIONS}
    unnamed = tuple(k for k in CORE_SECTIONS if k not in named and k != "nice_to_have")
    for node in [*nodes, *(n for n in block if n.title)]:
        node.unnamed = unnamed
    for node in nodes:
        _kind(node, classifier)
    for node in nodes:
        if node.how == "parent" and node.parent is not None and any(e.kind == "item" for e in node.entries):
            node.parent.leads = True
    items: list[_Item] = []
    ordered: list[Node] = []
    for node in preamble:
        if node.entries or node.heading:
            _kind(node, classifier)
            ordered.append(node)
            items.extend(_Item("about", node.heading, it.text, it.detail, node) for it in _items(node, classifier))
    for node in block:
        shown = _as_intro(node, classifier) if node.title else node
        ordered.append(shown)
        items.extend(_items(shown, classifier))
    items = [it for it in items if it.text]
    if not items:
        warnings.append(f"no text items in {source}; no posting indexed")
        return None
    if not any(it.section in CORE_SECTIONS for it in items):
        warnings.append(f"{source}: no requirements or responsibilities found; check it with `prepbot postings show`")
    fp = fingerprint((it.section, it.text) for it in items)
    about = [it.text for it in items if it.section == "about"]
    body = "\n".join(e.text for n in block for e in n.entries)
    company = doc.company or find_company("\n".join([*(n.heading or "" for n in block), body]), about)
    pid = posting_id(company, title, fp)
    requirements = number_items(pid, ((it.section, it.group, it.text, "\n".join(it.detail) or None) for it in items))
    outline = _outline_of(ordered, items, requirements)
    return Posting(
        id=pid,
        title=title,
        company=company,
        language=detect_language(" ".join([title, *(it.text for it in items)])),
        source=source,
        fingerprint=fp,
        requirements=requirements,
        outline=outline,
    )


def _as_intro(title_node: Node, classifier: SectionClassifier | None) -> Node:
    intro = Node(None, "", title_node.depth + 1, list(title_node.entries), unnamed=title_node.unnamed)
    _kind(intro, classifier)
    return intro


def _outline_of(nodes: list[Node], items: list[_Item], requirements: list[Requirement]) -> list[OutlineSection]:
    """Every heading of the posting in order (empty ones too, so the tree reads as the posting does), each
    with its kind, its depth below the posting, and its items' IDs."""
    ids: dict[int, list[str]] = {}
    for item, requirement in zip(items, requirements):
        ids.setdefault(id(item.node), []).append(requirement.id)
    outline = []
    for node in nodes:
        if node.heading is None and id(node) not in ids:
            continue
        depth, parent = 0, node.parent
        while parent is not None and not parent.title:
            depth, parent = depth + 1, parent.parent
        outline.append(
            OutlineSection(
                heading=node.heading, kind=node.kind or "other", depth=depth, how=node.how, items=ids.get(id(node), [])
            )
        )
    return outline


def _title(doc: Document, block: list[Node], several: bool) -> str:
    """The posting's title: a title field's value, a heading that names a job, the file's own title field,
    a first heading, "... as an Analytics Engineer", a first short line, the file name."""
    for node in block:
        if node.heading and is_title_field(node.heading):
            value = node.value or next((e.text for e in node.entries if e.kind in ("text", "item")), None)
            if value and len(value) <= 120:
                return clean_title(re.sub(r"\s*[(（][^()（）]{6,}[)）]\s*$", "", value))
        for entry in node.entries[:3]:
            if entry.kind == "text" and (m := re.match(r"^([^:：]{1,12})[:：]\s*(\S.{0,80})$", entry.text)):
                if TITLE_FIELDS.match(m[1].strip()) and len(m[1]) <= 12:
                    return clean_title(m[2])
    titled = next((n for n in block if n.title), None)
    if titled is not None and titled.heading:
        return clean_title(titled.heading)
    headings = [n for n in block if n.heading and n.style not in ("colon", "bare", "field")]
    for node in headings[:4]:
        if is_title_like(node.heading or ""):
            node.title = True
            return clean_title(node.heading or "")
    # a bare or "Label:" line names the job where it is the posting's first heading (a page's own title,
    # "Jobs", names the page)
    lead = next((n for n in block if n.heading), None)
    if lead is not None and lead.style in ("colon", "bare") and is_title_like(lead.heading or ""):
        lead.title = True
        return clean_title(lead.heading or "")
    line = next((e for e in block[0].entries if e.kind != "blank"), None) if block and not block[0].heading else None
    if line is not None and line.kind in ("text", "item") and _short_line(line.text) and is_title_like(line.text):
        line.kind = "blank"  # the title line is the title, not an item
        return clean_title(line.text)
    if doc.title:
        return clean_title(doc.title)
    first = headings[0] if headings else None
    before = block[0].entries if block and block[0] is not first else []
    if (
        first is not None
        and first.heading
        and words_kind(first.heading) is None
        and len(first.heading) <= 80
        and not any(e.kind == "item" for e in before)
        and sum(e.kind == "text" for e in before) <= 2
    ):
        first.title = True
        return clean_title(first.heading)
    text = "\n".join(e.text for n in block for e in n.entries if e.kind == "text")
    if prose := title_from_prose(text):
        return prose
    for entry in (block[0].entries if block else [])[:2]:
        if entry.kind == "text" and len(entry.text) <= 60 and entry.text[-1] not in TERMINAL + ":：":
            if words_kind(entry.text) is None:
                entry.kind = "blank"  # the title line is the title, not an item
                return clean_title(entry.text)
    if first is not None and first.heading and len(first.heading) <= 80:
        return clean_title(first.heading)
    return Path(doc.source.split("#", 1)[0]).stem


def _short_line(text: str) -> bool:
    """A line short enough to be a name rather than a statement: a title written as a list's first item."""
    return len(text) <= 80 and len(text.split()) <= 10 and text[-1] not in TERMINAL + ":："


# --- section kinds ---------------------------------------------------------------------------------------

INTRO_KINDS: tuple[Section, ...] = (
    "about",
    "benefit",
    "process",
    "other",
)  # what a list under no heading may be besides a core kind


def _kind(node: Node, classifier: SectionClassifier | None) -> None:
    if node.kind is not None:
        return
    if node.heading is None:  # text before any heading: a list there is duties or requirements by its words
        listed = [e.text for e in node.entries if e.kind == "item"]
        content = None
        if len(listed) >= 2:
            lead = [e.text for e in node.entries if e.kind == "text"]
            content = statement_kind(lead + listed)
            if content not in node.unnamed and classifier is not None:
                # by meaning, among the core kinds no heading names and the kinds an intro may be
                content = classifier.content_kind(listed, among=(*node.unnamed, *INTRO_KINDS))
        node.kind, node.how = (content, "items") if content in node.unnamed else ("about", "position")
        return
    words = words_kind(node.heading, bare=node.style == "bare")
    if words is not None:
        node.kind, node.how = words, "words"
        return
    parent = node.parent
    while parent is not None and parent.title:
        parent = None
    if parent is not None:
        _kind(parent, classifier)
        if parent.kind not in (None, "other"):
            node.kind, node.how = parent.kind, "parent"
            return
    meaning = classifier.heading_kind(node.heading) if classifier else None
    if meaning is not None:
        node.kind, node.how = meaning, "meaning"
        return
    listed = [e.text for e in node.entries if e.kind in ("item", "text")]
    content = classifier.content_kind(listed) if classifier and listed else None
    node.kind, node.how = (content, "items") if content else ("other", "unknown")


# --- items -----------------------------------------------------------------------------------------------


def _items(node: Node, classifier: SectionClassifier | None) -> list[_Item]:
    kind: Section = node.kind or "other"
    group = node.heading if node.how == "parent" else None
    listed, paragraphs = _lists_and_paragraphs(node.entries)
    out: list[_Item] = []
    if listed:
        for text, detail, label in listed:
            out.append(_Item(_optional(kind, text), label or group, text, detail, node))
        prose_kind: Section = "other" if kind in CORE_SECTIONS else kind
        out.extend(_Item(prose_kind, node.heading, " ".join(p), [], node) for p in paragraphs)
        return out
    for paragraph in paragraphs:
        statements = join_lines(paragraph)
        here = kind
        if node.leads and kind in CORE_SECTIONS:
            here = "other"  # the lead-in prose of a list that sits under a sub-heading
        elif node.heading is None and not listed and len(statements) == 1:
            # prose with no heading: duties or requirements where its sentences say so
            content = statement_kind(split_sentences(statements[0]))
            if content in node.unnamed:
                here = content
        if len(statements) == 1 and here in CORE_SECTIONS:
            sentences = split_sentences(statements[0], dashes=False)
            # prose duties or requirements: a sentence with no cue of either beside sentences with cues is
            # context ("Web fonts are one of our core businesses."), filed under about
            cued = [bool(RESPONSIBILITY_CUES.search(x) or REQUIREMENT_CUES.search(x)) for x in sentences]
            for sentence, cue in zip(sentences, cued):
                section = here if cue or not any(cued) else "about"
                for text in dash_clauses(sentence):
                    out.append(_Item(_optional(section, text), group, text, [], node))
            continue
        if here not in CORE_SECTIONS:
            statements = [" ".join(statements)] if len(statements) > 1 and is_prose(paragraph) else statements
        for text in statements:
            out.append(_Item(_optional(here, text), group, text, [], node))
    return out


def _optional(kind: Section, text: str) -> Section:
    """A requirement marked optional in its own first sentence (or its lead label) is a nice-to-have."""
    if kind != "requirement":
        return kind
    first = re.split(r"(?<=[.!?;])\s+|(?<=[。！？；])", text, maxsplit=1)[0]
    return "nice_to_have" if OPTIONAL_MARKERS.search(first) else kind


def _lists_and_paragraphs(items: list[Entry]) -> tuple[list[tuple[str, list[str], str | None]], list[list[str]]]:
    """(item text, nested detail lines, group) for each list entry at the list's own level, and the paragraphs
    (runs of text lines) around them. A "(1)" entry ranks below a "1." entry at the same indent. An entry
    ending in a colon that introduces deeper entries ("1. Product Management:") is their group, and they
    are the items; other deeper entries are the detail of the entry above them."""
    listed: list[tuple[str, list[str], str | None]] = []
    paragraphs: list[list[str]] = []
    marked = [e for e in items if e.kind == "item"]
    base = min((_level(e) for e in marked), default=(0, 0))
    group: str | None = None
    group_level: tuple[int, int] | None = None
    previous: Entry | None = None
    for entry in items:
        if entry.kind == "blank":
            previous = entry
            continue
        if entry.kind == "item":
            level = _level(entry)
            if group_level is not None and level <= group_level:
                group, group_level = None, None
            deeper = level[0] > base[0] + 1 or level[1] > base[1]
            if listed and deeper and group_level is None and listed[-1][0][-1:] in ":：" and not listed[-1][1]:
                label = listed.pop()
                group, group_level = label[0].rstrip(":： "), base
                listed.append((entry.text, [], group))
            elif listed and deeper and group_level is None:
                listed[-1][1].append(entry.text)
            else:
                listed.append((entry.text, [], group))
        elif entry.kind == "text":
            joined = previous is not None and previous.kind == "item" and listed
            if joined and (entry.indent > base[0] or continues(listed[-1][0], entry.text)):
                if listed[-1][1] and entry.indent > base[0] + 2:
                    listed[-1][1][-1] += " " + entry.text
                else:
                    listed[-1] = (listed[-1][0] + " " + entry.text, listed[-1][1], listed[-1][2])
            elif previous is not None and previous.kind == "text" and paragraphs:
                paragraphs[-1].append(entry.text)
            else:
                paragraphs.append([entry.text])
        previous = entry
    return listed, paragraphs


def _level(entry: Entry) -> tuple[int, int]:
    return (entry.indent, 1 if entry.style == "paren" else 0)
