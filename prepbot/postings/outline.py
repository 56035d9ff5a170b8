"""The outline of a posting file: each heading a node with a depth and a parent. Markdown headings have their
levels; a pseudo-heading (bold, 【X】, "Label:", a bare section name) sits below the last Markdown heading by its
form's rank, and a flat run of them is grouped under an empty one that heads it."""

from __future__ import annotations

from dataclasses import dataclass, field

from prepbot.postings.lines import Entry
from prepbot.postings.models import Section

_PSEUDO_RANK = {"emphasis": 1, "bracket": 1, "symbol": 1, "ordinal": 1, "colon": 2, "bare": 2, "field": 3}


@dataclass
class Node:
    heading: str | None
    style: str
    depth: int
    entries: list[Entry] = field(default_factory=list)
    parent: Node | None = None
    kind: Section | None = None
    how: str = ""
    value: str | None = None  # a field heading's value
    title: bool = False  # the heading that names this posting
    leads: bool = False  # its list sits under a lead-in sub-heading ("... six main objectives:")
    unnamed: tuple[Section, ...] = ()  # core kinds that no heading of its posting names


def outline(items: list[Entry]) -> list[Node]:
    """Headings as nodes with depth and parent; the entries before the first heading in a node of its own."""
    root = Node(None, "", 0)
    nodes = [root]
    stack: list[Node] = []
    base = 0  # depth of the last Markdown heading
    for entry in items:
        if entry.kind != "heading":
            nodes[-1].entries.append(entry)
            continue
        if entry.atx is not None:
            depth = entry.atx
            base = depth
        else:
            depth = base + _PSEUDO_RANK.get(entry.style, 2)
        while stack and stack[-1].depth >= depth:
            stack.pop()
        node = Node(entry.text, entry.style, depth, parent=stack[-1] if stack else None, value=entry.value)
        if entry.value:
            node.entries.append(Entry("text", entry.value))
        stack.append(node)
        nodes.append(node)
    _group_flat(nodes)
    return nodes


def _group_flat(nodes: list[Node]) -> None:
    """Pseudo-headings carry no depth, so a posting's outline written in them is flat. One with nothing under
    it that is followed at once by another at its rank heads a group ("**Job overview**" over "**Duties**",
    "**Challenges**"): the pseudo-headings at that rank after it, up to the next such empty one, are its
    children."""
    head: Node | None = None
    for i, node in enumerate(nodes):
        if head is not None and (node.style in ("atx", "setext") or node.depth < head.depth):
            head = None
        if _opens_group(nodes, i):
            head = node
        elif head is not None and node.depth == head.depth:
            if node.parent is head.parent:
                node.parent = head


def _opens_group(nodes: list[Node], i: int) -> bool:
    head, following = nodes[i], nodes[i + 1] if i + 1 < len(nodes) else None
    return (
        head.heading is not None
        and head.style not in ("atx", "setext", "field")
        and all(e.kind == "blank" for e in head.entries)
        and following is not None
        and following.style not in ("atx", "setext")
        and following.depth == head.depth
    )
