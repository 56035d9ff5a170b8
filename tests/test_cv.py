"""CVs: reading (Markdown, text, DOCX, bad files), claims with stable IDs, the store, the fit map on the
scripted model, its page in a real browser, CV-aware question sets and interviews, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from prepbot.config import get_settings
from prepbot.cv import fit as fits
from prepbot.cv import parse_cv, read_cv
from prepbot.cv.page import fit_html, fit_markdown
from prepbot.cv.store import CVStore
from prepbot.errors import PrepbotError
from prepbot.grading.claims import figures_differ
from prepbot.interview import Interview
from prepbot.interview.progress import closed_items
from prepbot.questions import SetRequest, generate_set
from prepbot.retrieval.index import RequirementIndex
from tests.helpers import run_cli
from tests.test_grading import ANSWER, grade_reply
from tests.test_questions import DATA, draft

ROOT = Path(__file__).resolve().parents[1]
CVS = ROOT / "evals" / "cvs"

CV_TEXT = """# Dana Kim
dana.kim@example.com | +44 7700 900123 | London

## Summary
Data engineer with six years of streaming and warehouse work.

## Experience
Senior Data Engineer, Streamly Ltd, 2021 - present
- Ran Kafka and Flink pipelines for 2 billion events a day with consumer lag under 5 s
- Cut the nightly Spark job from 3 h to 40 min by repartitioning on customer ID
Data Engineer, Shopfront, 2018 - 2021
- Moved reporting from MySQL to BigQuery

## Skills
- Python, SQL, Scala

## Education
- BSc Mathematics, University of Leeds, 2018
"""


@pytest.fixture
def index():
    idx = RequirementIndex(get_settings())
    idx.add_postings([DATA])
    return idx


@pytest.fixture
def cv_file(tmp_path) -> Path:
    path = tmp_path / "dana.md"
    path.write_text(CV_TEXT, encoding="utf-8")
    return path


def stored_cv(index, cv_file):
    cv = parse_cv(read_cv(cv_file), str(cv_file))
    assert CVStore(index).add(cv)
    return cv


# --- reading ---------------------------------------------------------------------------------------------


def test_a_cv_becomes_claims_by_section_with_the_contact_line_left_out(cv_file):
    cv = parse_cv(read_cv(cv_file), str(cv_file))
    assert cv.name == "Dana Kim" and cv.language == "en" and cv.id.startswith("cv-dana-kim-")
    kinds = [(claim.kind, claim.text) for claim in cv.claims]
    assert kinds[0] == ("summary", "Data engineer with six years of streaming and warehouse work.")
    assert ("role", "Senior Data Engineer, Streamly Ltd, 2021 - present") in kinds
    assert ("education", "BSc Mathematics, University of Leeds, 2018") in kinds
    assert cv.counts() == {"summary": 1, "role": 2, "achievement": 3, "skill": 1, "education": 1}
    spark = next(c for c in cv.claims if "Spark" in c.text)
    assert spark.context == "Senior Data Engineer, Streamly Ltd, 2021 - present"
    assert spark.id == f"{cv.id}/achievement-2"
    assert not any("example.com" in claim.text or "7700" in claim.text for claim in cv.claims)
    # The same text gives the same IDs; an edit gives a new CV (a version of its own).
    assert parse_cv(read_cv(cv_file), str(cv_file)).id == cv.id
    assert parse_cv(CV_TEXT.replace("40 min", "35 min"), str(cv_file)).id != cv.id


@pytest.mark.parametrize(
    ("name", "language", "kinds"),
    [
        ("ja-ml-search.md", "ja", {"role", "achievement", "skill"}),
        ("zh-Hans-recsys.md", "zh-Hans", {"role", "achievement", "skill", "education"}),
        ("zh-Hant-data-engineer.md", "zh-Hant", {"role", "achievement", "skill", "education"}),
        ("en-backend-to-ml.txt", "en", {"role", "achievement", "skill", "education"}),
    ],
)
def test_the_eval_cvs_read_in_every_language_and_layout(name, language, kinds):
    cv = parse_cv(read_cv(CVS / name), name)
    assert cv.language == language
    assert kinds <= set(cv.counts()), cv.counts()
    roles = [claim for claim in cv.claims if claim.kind == "role"]
    assert len(roles) >= 2
    achievements = [claim for claim in cv.claims if claim.kind == "achievement"]
    # an achievement sits under its role (a side project's bullet may have no project line above it)
    assert achievements and sum(1 for claim in achievements if not claim.context) <= 1


def test_a_docx_cv_reads_its_headings_bullets_and_tables(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Ren Sato", level=0)
    document.add_heading("Experience", level=1)
    document.add_paragraph("Backend Engineer, Acme KK, 2019 - 2024")
    document.add_paragraph("Built a Go payment API serving 3,000 requests per second", style="List Bullet")
    document.add_heading("Skills", level=1)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Languages"
    table.rows[0].cells[1].text = "Go, Python"
    path = tmp_path / "ren.docx"
    document.save(str(path))
    cv = parse_cv(read_cv(path), str(path))
    assert cv.name == "Ren Sato"
    texts = {(claim.kind, claim.text) for claim in cv.claims}
    assert ("role", "Backend Engineer, Acme KK, 2019 - 2024") in texts
    assert ("achievement", "Built a Go payment API serving 3,000 requests per second") in texts
    assert any(kind == "skill" and "Go, Python" in text for kind, text in texts)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.md", b"", "empty file"),
        ("binary.docx", b"\x00\x01PK not a zip", "not a readable DOCX"),
        ("picture.png", b"\x89PNG\r\n", "not a CV file"),
        ("nul.txt", b"Jane\x00\x00\x00\x01\x02", "binary file"),
    ],
)
def test_a_bad_cv_file_is_one_line_and_stores_nothing(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    result = run_cli(["cv", "add", str(path)])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert json.loads(run_cli(["cv", "list", "--json"]).stdout) == []


# --- the store and the CLI -------------------------------------------------------------------------------


def test_cv_add_list_show_remove(index, cv_file):
    added = json.loads(run_cli(["cv", "add", str(cv_file), "--json"]).stdout)
    assert added["added"] and added["counts"]["achievement"] == 3
    again = json.loads(run_cli(["cv", "add", str(cv_file), "--json"]).stdout)
    assert again == {**added, "added": False}  # the same CV: nothing stored twice
    listed = json.loads(run_cli(["cv", "list", "--json"]).stdout)
    assert [cv["id"] for cv in listed] == [added["id"]]
    shown = json.loads(run_cli(["cv", "show", added["id"], "--json"]).stdout)
    assert [c["text"] for c in shown["claims"]][:2] == [
        "Data engineer with six years of streaming and warehouse work.",
        "Senior Data Engineer, Streamly Ltd, 2021 - present",
    ]
    assert run_cli(["cv", "show", "cv-nobody"]).exit_code == 1
    assert run_cli(["cv", "remove", added["id"]]).exit_code == 0
    assert json.loads(run_cli(["cv", "list", "--json"]).stdout) == []
    result = run_cli(["fit", "--posting", DATA.id])
    assert result.exit_code == 1 and "no CV stored" in result.output


# --- the fit map -----------------------------------------------------------------------------------------


def test_fit_quotes_the_cv_line_the_model_confirms_and_orders_must_haves_first(index, cv_file, fake_llm, fake_chat):
    cv = stored_cv(index, cv_file)
    # DATA's items in fit order: requirement-1 (streaming), requirement-2 (RDBMS/NoSQL), responsibility-1,
    # responsibility-2, nice_to_have-1. Each line asked gets A (all of it), B (part) or C (none); a line that
    # shows the item ends the search, two that do not make it not shown.
    fake_chat.enqueue("A", "C", "B", "C", "C", "C", "C", "C", "C")
    fit_map = fits.fit(get_settings(), posting_id=DATA.id, cv_id=cv.id, index=index)
    assert not fake_chat.replies  # one call per line asked, none after a line shows the item
    sections = [item.requirement.section for item in fit_map.items]
    assert sections == ["requirement", "requirement", "responsibility", "responsibility", "nice_to_have"]
    streaming = fit_map.items[0]
    assert streaming.verdict == "covered"
    assert streaming.evidence[0].quote in {claim.text for claim in cv.claims}
    assert "Kafka" in streaming.evidence[0].quote
    assert fit_map.items[1].verdict == "partly"
    assert [item.verdict for item in fit_map.items[2:]] == ["not_shown"] * 3
    assert fit_map.coverage["requirement"] == 0.75 and fit_map.coverage["responsibility"] == 0.0
    # Every call is one token: the prompt's letter, read from probabilities where the backend gives them.
    assert all(call.get("max_tokens") == 1 or call.get("max_completion_tokens") == 1 for call in fake_chat.calls)


def test_a_quote_that_is_not_the_stored_claim_never_reaches_the_user(index, cv_file, fake_llm, fake_chat):
    cv = stored_cv(index, cv_file)
    fake_chat.enqueue("A", *["C"] * 8)
    fit_map = fits.fit(get_settings(), posting_id=DATA.id, cv_id=cv.id, index=index)
    fit_map.items[0].evidence[0].quote += " (and Kubernetes)"
    with pytest.raises(PrepbotError, match="not that CV's line"):
        fits.checked(fit_map, CVStore(index))


def test_the_fit_page_and_markdown_show_verdicts_quotes_and_coverage(index, cv_file, fake_llm, fake_chat):
    cv = stored_cv(index, cv_file)
    fake_chat.enqueue("A", *["C"] * 8)
    fit_map = fits.fit(get_settings(), posting_id=DATA.id, cv_id=cv.id, index=index)
    page = fit_html(fit_map)
    assert page.startswith("<!doctype html>") and "Dana Kim" in page
    assert "Ran Kafka and Flink pipelines" in page and ">covered<" in page and "not shown" in page
    markdown = fit_markdown(fit_map)
    assert "## Requirements (50% covered)" in markdown
    assert f'`{fit_map.items[0].evidence[0].claim_id}`: "' in markdown


def test_fit_cli_json_and_html_out(index, cv_file, fake_llm, fake_chat, tmp_path):
    stored_cv(index, cv_file)
    fake_chat.enqueue("A", *["C"] * 8)
    out = tmp_path / "fit.html"
    result = run_cli(["fit", "--posting", DATA.id, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["items"][0]["verdict"] == "covered" and out.read_text(encoding="utf-8").startswith("<!doctype")
    assert fits.saved(get_settings(), data["cv_id"], DATA) is not None  # kept for questions, chat, progress
    # an edited posting (the same ID, another fingerprint) is fitted again
    assert fits.saved(get_settings(), data["cv_id"], DATA.model_copy(update={"fingerprint": "f" * 64})) is None


def test_a_gap_closed_in_an_interview_shows_in_the_fit_map(index, cv_file, fake_llm, fake_chat):
    cv = stored_cv(index, cv_file)
    interview = Interview.start(get_settings(), posting_id=DATA.id, mode="technical", n=1)
    fake_chat.enqueue(draft("How would you keep Kafka consumer lag low during a traffic spike?"))
    turn = interview.next_turn()
    interview.answer(turn, ANSWER)
    fake_chat.enqueue(*grade_reply(5))
    interview.grade(turn)
    fake_chat.enqueue(*["C"] * 10)
    fitted = fits.fit(get_settings(), posting_id=DATA.id, cv_id=cv.id, index=index)
    fit_map = fits.with_interviews(fitted, closed_items(get_settings(), DATA.id))
    closed = fit_map.for_item(turn.requirement_id)
    assert closed is not None and closed.verdict == "not_shown" and closed.interviewed.score == 5
    assert fits.coverage(fit_map.items, with_interviews=True)["requirement"] == 0.5
    # `progress` shows the CV's verdict beside the scores: the gap the CV leaves, closed by the interview.
    fits.save(get_settings(), fit_map)
    items = json.loads(run_cli(["progress", "--json"]).stdout)["items"]
    assert [(item["requirement_id"], item["cv"], item["best"]) for item in items] == [
        (turn.requirement_id, "not_shown", 5)
    ]


# --- CV-aware questions and interviews -------------------------------------------------------------------


def test_questions_with_a_cv_prove_its_claims_and_name_its_gaps(index, cv_file, fake_llm, fake_chat):
    cv = stored_cv(index, cv_file)
    fake_chat.enqueue("A", *["C"] * 8)  # the fit map: requirement-1 covered, the rest not shown
    fake_chat.enqueue(
        draft("Your CV says you ran Kafka and Flink pipelines at 2 billion events a day: how did you keep lag low?"),
        draft("Your CV does not mention PostgreSQL or Redis: what have you done that comes closest?"),
    )
    question_set = generate_set(get_settings(), SetRequest(n=2, kind="technical", cv_id=cv.id), posting_id=DATA.id)
    first, second = question_set.questions
    assert question_set.cv_id == cv.id
    assert first.cv_claim is not None and "Kafka" in first.cv_claim.quote and first.kind == "behavioral"
    assert first.citations[0].id == f"{DATA.id}/requirement-1"
    assert second.cv_gap and second.cv_claim is None
    prompts = [call["messages"][-1].text for call in fake_chat.calls[-2:]]
    assert f"<cv>\n{first.cv_claim.quote}\n</cv>" in prompts[0] and "<example>" not in prompts[0]
    assert "does not show this item" in prompts[1]
    from prepbot.questions.exports import export_text

    markdown = export_text(question_set, "md")
    assert f"Your CV: “{first.cv_claim.quote}”" in markdown and "Your CV does not show this requirement." in markdown


def test_a_chat_with_a_cv_tells_the_grader_the_claim_and_notices_other_figures(index, cv_file, fake_llm, fake_chat):
    cv = stored_cv(index, cv_file)
    fake_chat.enqueue("A", *["C"] * 8)  # requirement-1: its nearest line (Kafka) shows all of it
    interview = Interview.start(get_settings(), posting_id=DATA.id, mode="technical", n=1, cv_id=cv.id)
    assert interview.session.cv_id == cv.id and interview.session.plan[0].cv_claim is not None
    fake_chat.enqueue(
        draft("Your CV says you ran Kafka and Flink at 2 billion events a day: how did you keep lag under 5 s?")
    )
    turn = interview.next_turn()
    assert turn.cv_claim == interview.session.plan[0].cv_claim and "Kafka" in turn.cv_claim.quote
    interview.answer(turn, "We moved the job to Flink and it went from 5 h to 2 h, partitioning by customer ID.")
    fake_chat.enqueue(*grade_reply(3))
    grade = interview.grade(turn)
    feedback_prompt = fake_chat.calls[-1]["messages"][-1].text
    assert f"<cv>\n{turn.cv_claim.quote}\n</cv>" in feedback_prompt
    assert any("not the CV's" in line for line in grade.findings), (turn.cv_claim, grade.findings)
    # The session keeps the claim: a resumed interview grades with it too.
    assert Interview.resume(get_settings(), interview.session.id).session.turns[0].cv_claim == turn.cv_claim


def test_figures_that_differ_from_the_cv_are_a_finding_and_the_same_figures_are_not():
    cv_line = "Cut the nightly Spark job from 3 h to 40 min"
    assert figures_differ(cv_line, "It went from 5 h to 2 h.") is not None
    assert figures_differ(cv_line, "It took 3 h before and 40 min after.") is None
    assert figures_differ(cv_line, "I repartitioned the job.") is None  # no figures: nothing to compare
    assert figures_differ("将推理延迟从120ms降到45ms", "延迟从200ms降到90ms") is not None


# --- the page, as a person sees it: Debian's headless Chromium (installed by .ci/run) takes a screenshot ---

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
GREEN, RED = (0x11, 0x63, 0x29), (0xCF, 0x22, 0x2E)  # the page's covered and not-shown colours


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour))


def test_the_fit_page_renders_in_a_browser(index, cv_file, fake_llm, fake_chat, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium for this test")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    from PIL import Image

    cv = stored_cv(index, cv_file)
    fake_chat.enqueue("A", *["C"] * 8)
    fit_map = fits.fit(get_settings(), posting_id=DATA.id, cv_id=cv.id, index=index)
    page = tmp_path / "fit.html"
    page.write_text(fit_html(fit_map), encoding="utf-8")
    shot = tmp_path / "fit.png"
    subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1000,1200",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = Image.open(shot).convert("RGB")
    assert image.size == (1000, 1200)
    pixels = list(image.getdata())
    inked = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    assert inked > 0.01, "the page rendered blank"
    assert sum(1 for p in pixels if _near(p, GREEN)) > 50, "no 'covered' verdict in green"
    assert sum(1 for p in pixels if _near(p, RED)) > 50, "no 'not shown' verdict in red"
    keep = os.environ.get("PREPBOT_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_a_course_or_familiarity_is_never_evidence_of_experience(index, tmp_path, fake_llm, fake_chat):
    path = tmp_path / "course.md"
    path.write_text(
        "# Lee Park\n\n## Education\n- Completed a Coursera course on Kafka and Flink streaming (2024)\n",
        encoding="utf-8",
    )
    cv = stored_cv(index, path)
    fake_chat.enqueue(*["A"] * 5)  # the model takes the course for experience on every item it is asked about
    fit_map = fits.fit(get_settings(), posting_id=DATA.id, cv_id=cv.id, index=index)
    streaming = fit_map.items[0]
    assert streaming.verdict == "not_shown" and not streaming.evidence and "course" in streaming.reason


def test_a_cv_question_that_forgets_the_cv_is_written_again_with_a_note(index, cv_file, fake_llm, fake_chat):
    cv = stored_cv(index, cv_file)
    fake_chat.enqueue("A", *["C"] * 8)  # requirement-1 covered by its nearest line; requirement-2 a gap
    fake_chat.enqueue(
        draft("Your CV says you ran Kafka and Flink pipelines at 2 billion events a day: how did you keep lag low?"),
        draft("How would you choose between PostgreSQL and Redis for a session store?"),  # forgets the gap
        draft("Your CV does not mention PostgreSQL or Redis: what have you done that comes closest?"),
    )
    question_set = generate_set(get_settings(), SetRequest(n=2, kind="technical", cv_id=cv.id), posting_id=DATA.id)
    assert question_set.questions[1].text.startswith("Your CV does not mention") and not question_set.questions[1].flags
    retry = fake_chat.calls[-1]["messages"][-1].text
    assert "it did not say that the CV does not mention this" in retry


def test_the_chat_shows_the_cv_line_a_question_is_about(index, cv_file, fake_llm, fake_chat):
    cv = stored_cv(index, cv_file)
    fake_chat.enqueue("A", *["C"] * 8)  # the fit map: requirement-1 shown by its nearest line
    fake_chat.enqueue(
        draft("Your CV says you ran Kafka and Flink at 2 billion events a day: how did you keep lag under 5 s?"),
        *grade_reply(4),
    )
    script = ANSWER + "\n\n"
    result = run_cli(["chat", "--posting", DATA.id, "--mode", "technical", "-n", "1", "--cv", cv.id], input=script)
    assert result.exit_code == 0, result.output
    assert "your CV, " in result.stdout and "Ran Kafka and Flink pipelines for 2 billion events" in result.stdout


def test_a_docx_that_unpacks_to_a_bomb_is_refused_unread(tmp_path):
    import zipfile

    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (60 * 1024 * 1024))  # 60 MB of zeros, ~60 KB packed
    assert bomb.stat().st_size < 1024 * 1024
    result = run_cli(["cv", "add", str(bomb)])
    assert result.exit_code == 1 and "unpacks to 60 MB" in result.output and "Traceback" not in result.output
