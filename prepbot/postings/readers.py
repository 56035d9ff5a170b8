"""Reading posting files into plain-text documents: formats, encodings, and refusing what is not text.

Every format ends up as text the posting parser reads as Markdown-ish lines: HTML headings become ``#``
lines and list items ``-`` lines, JSON fields become a document each. Anything the user can fix (a missing,
empty, binary or oversized file) raises a one-line ``PrepbotError`` that names the file.
"""

from __future__ import annotations

import codecs
import glob
import json
import re
import unicodedata
from io import BytesIO
from pathlib import Path
from typing import Any

import charset_normalizer
import yaml
from pydantic import BaseModel

from prepbot.errors import PrepbotError
from prepbot.postings.webpage import html_page, html_to_text
from prepbot.text import safe_text

__all__ = ["Document", "html_to_text", "read_documents"]

MAX_FILE_BYTES = 20 * 1024 * 1024  # postings are a few KB; anything this big is a mistake, not a posting
MAX_PDF_PAGES = 200  # a posting or a CV is a few pages; a PDF of more is a book, or a bomb of blank pages
MAX_PDF_TEXT_CHARS = 2_000_000
MAX_INT_DIGITS = 1000  # a JSON number longer than this stays a string (int() refuses over 4,300 digits)

TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".text")
HTML_SUFFIXES = (".html", ".htm")
JSON_SUFFIXES = (".json",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
PDF_SUFFIXES = (".pdf",)
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + JSON_SUFFIXES + JSONL_SUFFIXES + PDF_SUFFIXES

# Longest first: a UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 controls other than tab, newline, form feed and carriage return: text files do not contain them.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*(?:\n|\Z)", re.DOTALL)
_TOML_FRONT_MATTER = re.compile(r"\A\+\+\+[ \t]*\n(.*?\n)\+\+\+[ \t]*(?:\n|\Z)", re.DOTALL)
_HTML_LINE = re.compile(r"^\s*</?[A-Za-z][A-Za-z0-9]*(?:\s[^>]*)?/?>")
_LOOKS_LIKE_HTML = re.compile(r"<(?:p|br|ul|ol|li|div|h[1-6]|strong|b)\b[^>]*>", re.IGNORECASE)
_GLOB_CHARS = re.compile(r"[*?[]")


class Document(BaseModel):
    """The text of one posting file, or of one posting record in a JSON file."""

    source: str  # absolute path; JSON arrays and JSONL files add "#<k>" (k from 1) per record
    text: str
    title: str | None = None  # only when the format states it (a JSON field, Markdown front matter)
    company: str | None = None


def read_documents(path: Path) -> list[Document]:
    """The documents in one file (a folder: in every supported file below it)."""
    path = Path(path).expanduser()
    if path.is_dir():
        return [doc for file in expand_paths([str(path)]) for doc in read_documents(file)]
    if not path.exists():
        raise PrepbotError(f"{path}: no such file")
    path = path.resolve()
    data = read_bytes(path)
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        return [_document(path, str(path), _pdf_text(path, data))]
    if suffix in SUPPORTED_SUFFIXES:
        text = _decode(data, path)
    else:
        text = _decode_clean(data, path)
    if suffix in JSON_SUFFIXES:
        return _json_documents(path, text)
    if suffix in JSONL_SUFFIXES:
        return _jsonl_documents(path, text)
    if suffix in HTML_SUFFIXES:
        body, title = html_page(text)
        return [_document(path, str(path), body, title)]
    return [_markdown_document(path, text)]


def expand_paths(paths: list[str]) -> list[Path]:
    """Files as given, folders searched recursively for supported files, globs expanded; each file once."""
    found: list[Path] = []
    for raw in paths:
        pattern = str(Path(raw).expanduser())
        if _GLOB_CHARS.search(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            if not matches:
                raise PrepbotError(f"{raw}: no files match")
        else:
            matches = [Path(pattern)]
        for match in matches:
            if match.is_dir():
                found.extend(_supported_files(match))
            elif match.exists():
                found.append(match.resolve())
            else:
                raise PrepbotError(f"{raw}: no such file or folder")
    return list(dict.fromkeys(found))


def _supported_files(folder: Path) -> list[Path]:
    files = sorted(
        p.resolve()
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise PrepbotError(f"{folder}: no posting files ({' '.join(SUPPORTED_SUFFIXES)}) in this folder")
    return files


def read_bytes(path: Path) -> bytes:
    # The size check comes from stat(), so a huge file is refused without reading it.
    try:
        size = path.stat().st_size
        if size == 0:
            raise PrepbotError(f"{path}: empty file")
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES / 2**20
            raise PrepbotError(f"{path}: too large ({size / 2**20:.1f} MB; the limit is {limit:.0f} MB)")
        return path.read_bytes()
    except OSError as exc:  # unreadable (permissions), a folder's entry gone, a device that fails
        raise PrepbotError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _decode(data: bytes, path: Path) -> str:
    """Text from bytes: a BOM decides, then strict UTF-8, then charset-normalizer's best guess
    (which tells Big5, GB18030 and Shift-JIS apart well on posting-sized text)."""
    text = _decode_declared(data) or _utf16_without_bom(data)
    if text is None:
        if b"\x00" in data:
            raise PrepbotError(f"{path}: binary file (NUL bytes), not text")
        best = charset_normalizer.from_bytes(data).best()
        if best is None:
            raise PrepbotError(f"{path}: binary file or unknown encoding, not text")
        text = str(best)
    return checked_text(text, path)


def _decode_clean(data: bytes, path: Path) -> str:
    """An unknown extension is read only if it is plainly text: a BOM or valid UTF-8, no control bytes."""
    text = _decode_declared(data)
    if text is None or _CONTROL_CHARS.search(text):
        raise PrepbotError(f"{path}: unsupported file type {path.suffix or '(no extension)'!r}")
    return checked_text(text, path)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text saved without its byte-order mark (some Windows editors): mostly-Latin text has a NUL in
    every other byte, on the high side of each character. None when the bytes do not look like that."""
    if len(data) < 8 or len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    for zeros, others, encoding in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= 0.6 * len(zeros) and others.count(0) <= 0.02 * len(others):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def _decode_declared(data: bytes) -> str | None:
    """Decoded by its BOM or as strict UTF-8; None when neither applies."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            return data[: exc.start].decode("utf-8", errors="strict")  # a file cut inside its last character
        return None


def checked_text(text: str, path: Path) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL_CHARS.search(text):
        raise PrepbotError(f"{path}: binary file (control bytes), not text")
    if _mostly_unreadable(text):
        raise PrepbotError(f"{path}: binary file or unknown encoding, not text")
    if not text.strip():
        raise PrepbotError(f"{path}: no text in file")
    return text


def _mostly_unreadable(text: str) -> bool:
    """Whether over a tenth of the characters are ones no text holds: unassigned code points, private use,
    surrogates, replacement characters (binary bytes that a byte-order mark made "decodable")."""
    sample = text[:20_000]
    bad = sum(1 for ch in sample if ch == "\ufffd" or unicodedata.category(ch) in ("Cn", "Co", "Cs"))
    return bad > 0.1 * max(len(sample), 1)


def _document(path: Path, source: str, text: str, title: Any = None, company: Any = None) -> Document:
    text = safe_text(text)
    if not text.strip():
        raise PrepbotError(f"{path}: no text in file")
    return Document(source=source, text=text, title=_field(title), company=_field(company))


def _field(value: Any) -> str | None:
    """A title or company field: a non-empty string, else absent (a number or a list is not a name)."""
    value = safe_text(value).strip() if isinstance(value, str) else None
    return value or None


def _markdown_document(path: Path, text: str) -> Document:
    """Markdown and plain text; YAML front matter is dropped, its title and company kept."""
    meta, text = _front_matter(text)
    if _mostly_html(text):  # a page saved with its markup (a CMS's raw HTML body inside a .md file)
        text = html_to_text(text)
    return _document(path, str(path), text, meta.get("title"), meta.get("company"))


def _mostly_html(text: str) -> bool:
    """Whether at least half of a text's lines are HTML tags (raw HTML with a Markdown extension)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) >= 10 and sum(bool(_HTML_LINE.match(line)) for line in lines) >= len(lines) / 2


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Front matter's fields (YAML between ``---``, TOML between ``+++``) and the text after it; a leading
    ``---`` rule that is not YAML fields stays text."""
    toml = _TOML_FRONT_MATTER.match(text)
    if toml:
        try:
            import tomllib

            meta: Any = tomllib.loads(toml.group(1))
        except Exception:  # Python 3.10 has no tomllib; a broken block keeps only its title line
            title = re.search(r'^title\s*=\s*"([^"\n]*)"', toml.group(1), re.MULTILINE)
            meta = {"title": title.group(1)} if title else {}
        return (meta if isinstance(meta, dict) else {}), text[toml.end() :]
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            meta = yaml.safe_load(match.group(1))
        except (yaml.YAMLError, RecursionError):  # an anchor that contains itself recurses in the constructor
            meta = None
        if isinstance(meta, dict):
            return meta, text[match.end() :]
    return {}, text


def _json_loads(text: str, path: Path, where: str) -> Any:
    """JSON, with the two ways a valid file can still break the decoder turned into one-line errors: nesting
    deeper than the recursion limit, and numbers too long for ``int`` (kept as their digits)."""
    try:
        return json.loads(text, parse_int=_json_int)
    except RecursionError:
        raise PrepbotError(f"{path}: {where} is nested too deeply to be a posting") from None


def _json_int(digits: str) -> int | str:
    return int(digits) if len(digits) <= MAX_INT_DIGITS else digits


def _json_documents(path: Path, text: str) -> list[Document]:
    try:
        data = _json_loads(text, path, "the JSON")
    except json.JSONDecodeError as exc:
        raise PrepbotError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if isinstance(data, dict):
        return [_record_document(path, str(path), data, "the top-level object")]
    if isinstance(data, list) and data:
        return [_record_document(path, f"{path}#{k}", record, f"record {k}") for k, record in enumerate(data, 1)]
    raise PrepbotError(f"{path}: expected a posting object or a non-empty array of posting objects")


def _jsonl_documents(path: Path, text: str) -> list[Document]:
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    documents = []
    for k, (lineno, line) in enumerate(lines, 1):
        try:
            record = _json_loads(line, path, f"line {lineno}")
        except json.JSONDecodeError:
            raise PrepbotError(f"{path}: line {lineno} is not valid JSON") from None
        documents.append(_record_document(path, f"{path}#{k}", record, f"line {lineno}"))
    return documents


def _record_document(path: Path, source: str, record: Any, where: str) -> Document:
    """One posting record: ``title``, ``company``, and the text in ``description`` or ``text``
    (job-board exports often hold HTML there, which is converted like an HTML file)."""
    if not isinstance(record, dict):
        raise PrepbotError(f"{path}: {where} is not a JSON object")
    body = _field(record.get("description")) or _field(record.get("text"))
    if body is None:
        raise PrepbotError(f"{path}: {where} has no 'description' or 'text' field")
    if _LOOKS_LIKE_HTML.search(body):
        body = html_to_text(body)
    return _document(path, source, body, record.get("title"), record.get("company"))


def _pdf_text(path: Path, data: bytes) -> str:
    import logging

    from pypdf import PdfReader  # imported here: only PDF files pay for it

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # its warnings on damaged files are not ours to print

    try:
        reader = PdfReader(BytesIO(data))
        encrypted = reader.is_encrypted
        text = "" if encrypted else _pdf_pages_text(path, reader)
    except PrepbotError:
        raise
    except Exception as exc:  # a damaged PDF fails inside pypdf with many exception types
        raise PrepbotError(f"{path}: not a readable PDF ({type(exc).__name__}: {exc})") from None
    if encrypted:
        raise PrepbotError(f"{path}: encrypted PDF; save an unencrypted copy")
    if not text.strip():
        raise PrepbotError(f"{path}: the PDF has no text layer (a scan?); paste its text into a .txt file")
    return text


def _pdf_pages_text(path: Path, reader: Any) -> str:
    """The text of a PDF's pages, refused past MAX_PDF_PAGES pages or MAX_PDF_TEXT_CHARS characters (pypdf
    itself caps the output of each decompression filter)."""
    pages = len(reader.pages)
    if pages > MAX_PDF_PAGES:
        raise PrepbotError(f"{path}: {pages} pages; a posting has a few (the limit is {MAX_PDF_PAGES})")
    texts, total = [], 0
    for page in reader.pages:
        text = page.extract_text() or ""
        total += len(text)
        if total > MAX_PDF_TEXT_CHARS:
            raise PrepbotError(f"{path}: over {MAX_PDF_TEXT_CHARS:,} characters of text; not a posting")
        texts.append(text)
    return "\n\n".join(texts)


MAX_ANSWER_FILE_BYTES = 1024 * 1024


def read_answer_file(name: str) -> str:
    """An answer to grade, from a file or ``-`` (stdin), decoded like a posting; refused when binary or huge."""
    import sys

    if name == "-":
        data = sys.stdin.buffer.read(MAX_ANSWER_FILE_BYTES + 1)
        if len(data) > MAX_ANSWER_FILE_BYTES:
            raise PrepbotError("stdin: the answer is too large (over 1 MB)")
        if not data.strip():
            raise PrepbotError("stdin: the answer is empty")
        return _decode(data, Path("<stdin>"))
    path = Path(name)
    if not path.is_file():
        raise PrepbotError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_ANSWER_FILE_BYTES:
        raise PrepbotError(f"{path}: too large for an answer ({size / 2**20:.1f} MB)")
    return _decode(read_bytes(path), path)
