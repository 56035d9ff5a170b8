"""Reading posting files: formats, encodings, folders and globs, and refusing what is not a posting file."""

from __future__ import annotations

import time
from io import BytesIO
from pathlib import Path

import pytest

from prepbot.errors import PrepbotError
from prepbot.postings import parse_document, readers
from prepbot.postings.readers import Document, expand_paths, html_to_text, read_documents

DATA = Path(__file__).parent / "data" / "postings"


def read_one(path: Path) -> Document:
    documents = read_documents(path)
    assert len(documents) == 1
    return documents[0]


def text_pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose content stream writes each line with Helvetica: enough for pypdf to extract
    real text, without a PDF-writing dependency."""
    escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
    stream = "\n".join(["BT", "/F1 11 Tf", "14 TL", "72 750 Td", *(f"({s}) Tj T*" for s in escaped), "ET"])
    content = stream.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


# --- formats -------------------------------------------------------------------------------------------


def test_markdown_drops_front_matter_and_keeps_absolute_source():
    doc = read_one(Path(__file__).parents[1] / "seeds" / "job-postings.md")
    assert Path(doc.source).is_absolute()
    assert doc.text.lstrip().startswith("# Job Example")
    assert "get-thing-done" not in doc.text


def test_front_matter_title_and_company_are_kept(tmp_path):
    path = tmp_path / "role.md"
    path.write_text("---\ntitle: Staff Engineer\ncompany: Initech\n---\nRequirements:\n- COBOL\n", encoding="utf-8")
    doc = read_one(path)
    assert (doc.title, doc.company) == ("Staff Engineer", "Initech")
    assert doc.text.startswith("Requirements:")


def test_a_leading_rule_that_is_not_front_matter_stays_text(tmp_path):
    path = tmp_path / "rule.md"
    path.write_text("---\nJust a rule, then a line.\n---\nMore text.\n", encoding="utf-8")
    assert "Just a rule" in read_one(path).text


def test_html_keeps_headings_and_list_items_as_lines():
    doc = read_one(DATA / "acme-frontend.html")
    lines = doc.text.splitlines()
    assert "# Frontend Engineer" in lines
    assert "## Requirements" in lines
    assert any(line.startswith("- ") and "TypeScript & React" in line for line in lines)
    assert any(line.startswith("  - ") and "Playwright" in line for line in lines)  # nested list indented
    assert "Ignore this script" not in doc.text and "font-family" not in doc.text
    assert "Home" not in lines  # navigation is not posting text


def test_html_posting_parses_into_sections():
    [posting] = parse_document(read_one(DATA / "acme-frontend.html")).postings
    assert posting.title == "Frontend Engineer"
    assert posting.company == "ACME"
    assert posting.counts() == {"about": 1, "responsibility": 2, "requirement": 4, "nice_to_have": 1, "benefit": 2}
    assert [i.group for i in posting.items("requirement")] == [None, "Tooling", "Tooling", None]
    assert "Own the performance budget of the web app" in [i.text for i in posting.items("responsibility")]


def test_html_to_text_on_a_fragment():
    assert html_to_text("<p>One &amp; two</p><p>Three<br>Four</p>") == "One & two\n\nThree\nFour\n"


def test_a_page_names_its_posting_with_its_own_title(tmp_path):
    # a careers page whose headings are all sections: the job is named in <title> (og:title first)
    body = "<h2>We build tools for teams.</h2><p>Join us.</p><h3>Requirements</h3><ul><li>SQL</li><li>Go</li></ul>"
    page = tmp_path / "job.html"
    page.write_text(f"<html><head><title>Customer Success Lead | Acme</title></head><body>{body}</body></html>")
    [doc] = read_documents(page)
    assert doc.title == "Customer Success Lead | Acme" and "Customer Success Lead" not in doc.text
    [posting] = parse_document(doc, classifier=False).postings
    assert posting.title == "Customer Success Lead"
    page.write_text(
        '<html><head><meta property="og:title" content="Data Engineer"><title>Careers</title></head>'
        f"<body>{body}</body></html>"
    )
    assert read_documents(page)[0].title == "Data Engineer"
    # a page with no title of its own states none
    page.write_text(f"<html><body>{body}</body></html>")
    assert read_documents(page)[0].title is None


def test_pdf_text_is_extracted_and_parsed(tmp_path):
    path = tmp_path / "posting.pdf"
    path.write_bytes(
        text_pdf(
            ["Machine Learning Engineer", "Requirements:", "- PyTorch (2 years)", "- SQL", "Nice to have:", "- CUDA"]
        )
    )
    doc = read_one(path)
    assert "PyTorch (2 years)" in doc.text
    [posting] = parse_document(doc).postings
    assert posting.title == "Machine Learning Engineer"
    assert [i.text for i in posting.items("requirement")] == ["PyTorch (2 years)", "SQL"]
    assert [i.text for i in posting.items("nice_to_have")] == ["CUDA"]


def test_damaged_pdf_is_refused(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(PrepbotError, match="broken.pdf"):
        read_documents(path)


def test_json_array_gives_one_document_per_record_with_fields():
    docs = read_documents(DATA / "board-export.json")
    assert [(d.title, d.company) for d in docs] == [
        ("Site Reliability Engineer", "Northwind"),
        ("Data Engineer", "Northwind"),
    ]
    assert [d.source.rsplit("#", 1)[1] for d in docs] == ["1", "2"]
    assert "<li>" not in docs[0].text and "- Run our Kubernetes clusters on GCP" in docs[0].text  # HTML converted
    assert docs[1].text.startswith("Requirements:")


def test_json_company_field_wins_and_items_parse():
    first, second = (parse_document(d).postings[0] for d in read_documents(DATA / "board-export.json"))
    assert first.company == second.company == "Northwind"
    assert first.counts() == {"responsibility": 2, "requirement": 2}
    assert second.counts() == {"requirement": 2, "nice_to_have": 1}
    assert first.source.endswith("board-export.json#1")


def test_jsonl_gives_one_document_per_line():
    docs = read_documents(DATA / "board-export.jsonl")
    assert [(d.title, d.company) for d in docs] == [("Mobile Engineer", "Contoso"), ("QA Engineer", None)]
    assert parse_document(docs[1]).postings[0].counts() == {"responsibility": 1, "requirement": 1}


def test_single_json_object(tmp_path):
    path = tmp_path / "one.json"
    path.write_text('{"title": "SRE", "description": "Requirements:\\n- Linux"}', encoding="utf-8")
    doc = read_one(path)
    assert (doc.title, doc.source) == ("SRE", str(path.resolve()))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", "{not json", "not valid JSON"),
        ("nums.json", "[1, 2]", "record 1 is not a JSON object"),
        ("empty-array.json", "[]", "non-empty array"),
        ("no-text.json", '{"title": "SRE"}', "no 'description' or 'text' field"),
        ("bad.jsonl", '{"title": "a", "text": "b"}\n{oops', "line 2 is not valid JSON"),
    ],
)
def test_bad_json_names_the_file_and_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PrepbotError, match=message) as raised:
        read_documents(path)
    assert name in str(raised.value) and "\n" not in str(raised.value)


# --- encodings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "encoding", "bom"),
    [
        ("zh-hant-backend.md", "big5", b""),
        ("ja-backend.md", "shift_jis", b""),
        ("zh-hans-analyst.txt", "gb18030", b""),
        ("zh-hant-backend.md", "utf-16-le", b"\xff\xfe"),
        ("ja-backend.md", "utf-16-be", b"\xfe\xff"),
        ("zh-hans-analyst.txt", "utf-8", b"\xef\xbb\xbf"),
    ],
)
def test_encodings_are_detected(tmp_path, fixture, encoding, bom):
    original = (DATA / fixture).read_text(encoding="utf-8")
    path = tmp_path / fixture
    path.write_bytes(bom + original.encode(encoding))
    assert read_one(path).text == original


def test_windows_line_endings_become_newlines(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"Engineer\r\n\r\nRequirements:\r\n- Go\r\n")
    assert read_one(path).text == "Engineer\n\nRequirements:\n- Go\n"


# --- refusals ------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(PrepbotError, match="nope.md: no such file"):
        read_documents(tmp_path / "nope.md")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.md"
    path.touch()
    with pytest.raises(PrepbotError, match="empty.md: empty file"):
        read_documents(path)


def test_whitespace_only_file(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text(" \n\n\t\n", encoding="utf-8")
    with pytest.raises(PrepbotError, match="blank.txt: no text"):
        read_documents(path)


def test_binary_file_with_nul_bytes(tmp_path):
    path = tmp_path / "image.md"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(PrepbotError, match="image.md: binary file"):
        read_documents(path)


def test_binary_file_with_control_bytes(tmp_path):
    path = tmp_path / "blob.txt"
    path.write_bytes(bytes(range(1, 32)) * 50)
    with pytest.raises(PrepbotError, match="blob.txt: binary file"):
        read_documents(path)


def test_huge_file_is_refused_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "huge.md"
    with path.open("wb") as sparse:
        sparse.truncate(50 * 1024 * 1024)

    def no_reading(self: Path) -> bytes:
        raise AssertionError("a huge file must be refused before it is read")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    started = time.perf_counter()
    with pytest.raises(PrepbotError, match=r"huge.md: too large \(50.0 MB; the limit is 20 MB\)"):
        read_documents(path)
    assert time.perf_counter() - started < 0.5


def test_the_size_limit_is_a_module_constant(tmp_path, monkeypatch):
    path = tmp_path / "small.md"
    path.write_text("Requirements:\n- Go\n", encoding="utf-8")
    monkeypatch.setattr(readers, "MAX_FILE_BYTES", 8)
    with pytest.raises(PrepbotError, match="too large"):
        read_documents(path)


def test_unknown_extension_is_read_when_it_is_plainly_text(tmp_path):
    path = tmp_path / "posting.rst"
    path.write_text("Engineer\n\nRequirements:\n- Rust\n", encoding="utf-8")
    assert read_one(path).text.startswith("Engineer")


def test_unknown_extension_that_is_not_text_is_unsupported(tmp_path):
    path = tmp_path / "posting.docx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)))
    with pytest.raises(PrepbotError, match=r"posting.docx: unsupported file type '.docx'"):
        read_documents(path)


# --- paths ---------------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ["b.md", "a.txt", "sub/c.json", "sub/deeper/d.html", "notes.docx", ".hidden/e.md", "sub/.f.md"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    return tmp_path


def test_folders_expand_recursively_to_supported_files_sorted(tree):
    found = expand_paths([str(tree)])
    assert [p.relative_to(tree).as_posix() for p in found] == ["a.txt", "b.md", "sub/c.json", "sub/deeper/d.html"]
    assert all(p.is_absolute() for p in found)


def test_globs_expand_and_files_are_listed_once(tree):
    found = expand_paths([str(tree / "*.md"), str(tree / "b.md"), str(tree / "**" / "*.json")])
    assert [p.name for p in found] == ["b.md", "c.json"]


def test_a_file_named_explicitly_is_kept_whatever_its_extension(tree):
    assert [p.name for p in expand_paths([str(tree / "notes.docx")])] == ["notes.docx"]


@pytest.mark.parametrize("missing", ["nope.md", "nope/*.md"])
def test_missing_paths_and_empty_globs_are_errors(tree, missing):
    with pytest.raises(PrepbotError, match="nope"):
        expand_paths([str(tree / missing)])


def test_a_folder_without_posting_files_is_an_error(tmp_path):
    (tmp_path / "notes.docx").write_text("x", encoding="utf-8")
    with pytest.raises(PrepbotError, match="no posting files"):
        expand_paths([str(tmp_path)])


def test_read_documents_on_a_folder_reads_every_file():
    sources = [Path(d.source.split("#")[0]).name for d in read_documents(DATA)]
    assert sources.count("board-export.json") == 2
    assert "ja-backend.md" in sources
