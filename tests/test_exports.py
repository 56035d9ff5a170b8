"""Every export format of a question set, read back the way its consumer reads it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from prepbot.errors import UsageError
from prepbot.questions import Citation, Question, QuestionSet, exports

SET = QuestionSet(
    set_id="qs-0badcafe",
    posting_id="data-engineer-aaaa",
    role="資深數據工程師 Senior Data Engineer",
    backend="local",
    model="default",
    language="en",
    prompt="question@v1",
    created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    questions=[
        Question(
            id="q1",
            text="How would you keep Kafka consumer lag low during a spike?",
            kind="technical",
            difficulty="medium",
            citations=[
                Citation(
                    id="data-engineer-aaaa/requirement-1",
                    quote="Experience with streaming e.g. Pub/Sub, Kafka, Apache  Flink.",
                )
            ],
            rubric=["partition count", "consumer scaling", "lag <alerts> & metrics"],
            follow_ups=["What if order matters?"],
            why="Hands-on Kafka tuning.",
        ),
        Question(
            id="q2",
            text='Tell me about a time you explained a "data, quality" issue.',
            kind="behavioral",
            difficulty="easy",
            citations=[Citation(id="data-engineer-aaaa/requirement-2", quote="Good communication and writing skills.")],
            rubric=["specific situation", "audience", "outcome"],
            follow_ups=["What would you change?"],
            why="Communication.",
            flags=["near-duplicate of q1 (cosine 0.93)"],
        ),
    ],
)


def test_json_round_trips():
    assert QuestionSet.model_validate_json(exports.to_json(SET)) == SET
    assert json.loads(exports.to_json(SET))["role"] == SET.role  # not \u-escaped


def test_markdown_has_every_question_with_rubric_and_cited_quote():
    text = exports.to_markdown(SET)
    assert text.startswith("# Interview questions: 資深數據工程師 Senior Data Engineer\n")
    assert "## 1. How would you keep Kafka consumer lag low during a spike?" in text
    assert "- consumer scaling" in text and "Follow-up: What if order matters?" in text
    assert "> Experience with streaming e.g. Pub/Sub, Kafka, Apache  Flink." in text
    assert "> — `data-engineer-aaaa/requirement-1`" in text
    assert "*behavioral · easy* — Communication." in text and "Flagged: near-duplicate of q1" in text


def test_csv_has_one_row_per_question_with_quoting_intact():
    rows = list(csv.DictReader(io.StringIO(exports.to_csv(SET))))
    assert [row["id"] for row in rows] == ["q1", "q2"] and list(rows[0]) == exports.CSV_COLUMNS
    assert rows[1]["text"] == 'Tell me about a time you explained a "data, quality" issue.'
    assert rows[0]["rubric"] == "partition count | consumer scaling | lag <alerts> & metrics"
    assert rows[0]["citation_ids"] == "data-engineer-aaaa/requirement-1" and rows[0]["quotes"].endswith("Flink.")


def test_anki_package_is_a_zip_with_a_collection_holding_one_note_per_question(tmp_path):
    out = exports.write_export(SET, "anki", tmp_path / "deck" / "set.apkg")
    assert zipfile.is_zipfile(out)
    with zipfile.ZipFile(out) as package:
        assert "collection.anki2" in package.namelist()
        package.extract("collection.anki2", tmp_path)
    with sqlite3.connect(tmp_path / "collection.anki2") as collection:
        notes = collection.execute("SELECT flds, tags FROM notes ORDER BY id").fetchall()
        cards = collection.execute("SELECT count(*) FROM cards").fetchone()[0]
    assert len(notes) == len(SET.questions) == cards
    front, _meta, back, cited = notes[0][0].split("\x1f")
    assert front == "How would you keep Kafka consumer lag low during a spike?"
    assert "<li>lag &lt;alerts&gt; &amp; metrics</li>" in back and "What if order matters?" in back
    assert "Apache  Flink." in cited and "data-engineer-aaaa/requirement-1" in cited
    assert "technical" in notes[0][1] and "prepbot::qs-0badcafe" in notes[0][1]


def test_the_same_set_exported_twice_keeps_its_note_ids(tmp_path):
    def guids(path: Path) -> list[str]:
        with zipfile.ZipFile(path) as package:
            package.extract("collection.anki2", path.parent)
        with sqlite3.connect(path.parent / "collection.anki2") as collection:
            return [row[0] for row in collection.execute("SELECT guid FROM notes ORDER BY guid")]

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    exports.write_anki(SET, tmp_path / "a" / "x.apkg")
    exports.write_anki(SET, tmp_path / "b" / "x.apkg")
    assert guids(tmp_path / "a" / "x.apkg") == guids(tmp_path / "b" / "x.apkg")


def test_the_format_comes_from_the_flag_then_the_suffix():
    assert exports.format_for(Path("x.apkg"), None) == "anki"
    assert exports.format_for(Path("x.CSV"), None) == "csv"
    assert exports.format_for(Path("x.txt"), "json") == "json"
    assert exports.format_for(None, None) == "md"
    with pytest.raises(UsageError, match="cannot tell the format of x.txt"):
        exports.format_for(Path("x.txt"), None)
    with pytest.raises(UsageError, match="binary"):
        exports.export_text(SET, "anki")
    assert exports.destination_format(None, None) is None and exports.destination_format(None, "csv") == "csv"
    assert exports.destination_format(Path("x.apkg"), None) == "anki"
    with pytest.raises(UsageError, match="--out FILE.apkg"):
        exports.destination_format(None, "anki")


@pytest.mark.parametrize("fmt", ["md", "json", "csv"])
def test_text_formats_write_files(tmp_path, fmt):
    out = exports.write_export(SET, fmt, tmp_path / f"set.{fmt}")
    assert out.read_text(encoding="utf-8") == exports.export_text(SET, fmt)
