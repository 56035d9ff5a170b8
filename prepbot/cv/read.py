"""A CV file as text: Markdown, plain text, HTML and PDF through the posting readers, DOCX through python-docx
(headings kept as Markdown headings, list paragraphs as bullets, table rows as lines)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from prepbot.errors import PrepbotError
from prepbot.postings.readers import (
    HTML_SUFFIXES,
    PDF_SUFFIXES,
    TEXT_SUFFIXES,
    checked_text,
    read_bytes,
    read_documents,
)

DOCX_SUFFIXES = (".docx",)
CV_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + PDF_SUFFIXES + DOCX_SUFFIXES
MAX_DOCX_UNPACKED_BYTES = 50 * 1024 * 1024  # a CV's document.xml is well under 1 MB; more is a zip bomb


def read_cv(path: Path) -> str:
    """The text of one CV file; a one-line PrepbotError for anything that is not a readable CV."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise PrepbotError(f"{path}: a folder; `cv add` takes one CV file")
    if not path.exists():
        raise PrepbotError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in CV_SUFFIXES:
        raise PrepbotError(f"{path}: not a CV file prepbot reads ({' '.join(CV_SUFFIXES)})")
    if suffix in DOCX_SUFFIXES:
        text = _docx_text(path.resolve())
    else:
        text = "\n\n".join(document.text for document in read_documents(path))
    if not text.strip():
        raise PrepbotError(f"{path}: no text in this CV")
    return text


def _docx_text(path: Path) -> str:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    data = read_bytes(path)  # refused unread past the size limit; read once, for both zipfile and python-docx
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_DOCX_UNPACKED_BYTES:
            raise PrepbotError(f"{path}: unpacks to {unpacked / 2**20:.0f} MB; not a CV")
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                lines.append(_paragraph_line(block))
            elif isinstance(block, Table):
                for row in block.rows:
                    cells = list(dict.fromkeys(cell.text.strip() for cell in row.cells if cell.text.strip()))
                    lines.append(" | ".join(cells))
    except PrepbotError:
        raise
    except Exception as exc:  # python-docx and zipfile raise many types for a broken or foreign file
        raise PrepbotError(f"{path}: not a readable DOCX file ({type(exc).__name__})") from None
    return checked_text("\n".join(lines), path)


def _paragraph_line(paragraph: object) -> str:
    text = " ".join(paragraph.text.split())  # type: ignore[attr-defined]
    if not text:
        return ""
    style = (paragraph.style.name or "") if paragraph.style is not None else ""  # type: ignore[attr-defined]
    if style == "Title":
        return f"# {text}"
    if style.startswith("Heading"):
        level = style.removeprefix("Heading").strip()
        return f"{'#' * (int(level) if level.isdigit() else 2)} {text}"
    numbered = paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None  # type: ignore[attr-defined]
    if style.startswith("List") or numbered:
        return f"- {text}"
    return text
