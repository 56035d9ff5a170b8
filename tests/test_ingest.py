"""Ingest, listing, search and removal through the CLI, on the real embedded store and embedder."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def ingest_json(*paths: str):
    result = run_cli(["ingest", *paths, "--json"])
    return result, json.loads(result.stdout)


def by_title(listed: list[dict], fragment: str) -> dict:
    (found,) = [p for p in listed if fragment in p["title"]]
    return found


def test_seed_file_gives_three_postings_and_reports_the_duplicate():
    result, report = ingest_json(str(SEEDS))
    assert result.exit_code == 0
    outcomes = [p["outcome"] for p in report["postings"]]
    assert outcomes.count("added") == 3 and outcomes.count("duplicate") == 1
    duplicate = next(p for p in report["postings"] if p["outcome"] == "duplicate")
    machine_learning = next(p for p in report["postings"] if "Senior / Staff" in p["title"])
    assert duplicate["duplicate_of"] == machine_learning["posting_id"]

    listed = json.loads(run_cli(["postings", "list", "--json"]).stdout)
    assert len(listed) == 3
    data = by_title(listed, "Senior Data Engineer")
    assert data["company"] is None and data["language"] == "en"
    assert {k: data["counts"].get(k) for k in ("responsibility", "requirement", "nice_to_have")} == {
        "responsibility": 5, "requirement": 8, "nice_to_have": 6,
    }
    ml = by_title(listed, "Machine Learning")
    assert ml["company"] == "iKala"
    assert {k: ml["counts"].get(k) for k in ("responsibility", "requirement", "nice_to_have")} == {
        "responsibility": 4, "requirement": 6, "nice_to_have": 5,
    }
    pm = by_title(listed, "AI Product Manager")
    assert pm["company"] == "TSMC"
    assert pm["counts"]["responsibility"] == 8 and pm["counts"]["requirement"] == 6

    shown = json.loads(run_cli(["postings", "show", pm["id"], "--json"]).stdout)
    groups = [r["group"] for r in shown["requirements"] if r["section"] == "responsibility"]
    assert groups.count("Product Management") == 2
    assert groups.count("Digital Transformation") == 3
    assert groups.count("Stakeholder Engagement") == 3
    assert all(r["id"].startswith(pm["id"] + "/") for r in shown["requirements"])


def test_reingesting_unchanged_file_changes_nothing_and_says_so():
    run_cli(["ingest", str(SEEDS)])
    again = run_cli(["ingest", str(SEEDS)])
    assert again.exit_code == 0
    assert "nothing changed" in again.stdout
    assert "3 unchanged" in again.stdout


def test_edited_file_updates_its_posting_and_dropped_posting_is_removed(tmp_path):
    posting = tmp_path / "postings.md"
    shutil.copy(SEEDS / "job-postings.md", posting)
    _, first = ingest_json(str(posting))
    data_id = next(p["posting_id"] for p in first["postings"] if "Data Engineer" in p["title"])

    text = posting.read_text(encoding="utf-8")
    posting.write_text(text.replace("Experience with Kubernetes, docker", "Experience with Kubernetes, Helm and docker"), encoding="utf-8")
    _, second = ingest_json(str(posting))
    updated = [p for p in second["postings"] if p["outcome"] == "updated"]
    assert len(updated) == 1 and updated[0]["replaced"] == [data_id]
    ids = {p["id"] for p in json.loads(run_cli(["postings", "list", "--json"]).stdout)}
    assert data_id not in ids and updated[0]["posting_id"] in ids

    # Cut the AI product manager posting out of the file: it leaves the index.
    posting.write_text(text.split("## The AI Product Manager")[0], encoding="utf-8")
    _, third = ingest_json(str(posting))
    assert len(third["removed"]) == 1
    assert not any("Product Manager" in p["title"] for p in json.loads(run_cli(["postings", "list", "--json"]).stdout))


def test_remove_and_unknown_ids():
    _, report = ingest_json(str(SEEDS))
    posting_id = report["postings"][0]["posting_id"]
    assert run_cli(["remove", posting_id]).exit_code == 0
    missing = run_cli(["remove", posting_id])
    assert missing.exit_code == 1
    assert missing.stderr.strip().startswith("error:") and len(missing.stderr.strip().splitlines()) == 1
    assert run_cli(["postings", "show", "no-such-posting"]).exit_code == 1


def test_bad_files_are_reported_and_the_good_ones_still_ingest(tmp_path):
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 40)
    shutil.copy(SEEDS / "job-postings.md", tmp_path / "good.md")
    result, report = ingest_json(str(tmp_path))
    assert result.exit_code == 0
    assert sorted(Path(e["file"]).name for e in report["errors"]) == ["binary.txt", "empty.md"]
    assert sum(p["outcome"] == "added" for p in report["postings"]) == 3


def test_only_bad_files_exit_non_zero_with_one_line_each(tmp_path):
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    result = run_cli(["ingest", str(tmp_path / "empty.md")])
    assert result.exit_code == 1
    assert "empty.md" in result.stderr and "Traceback" not in result.stderr
    missing = run_cli(["ingest", str(tmp_path / "nope.md")])
    assert missing.exit_code != 0 and "nope.md" in missing.stderr and "Traceback" not in missing.stderr


def test_file_without_sections_is_indexed_as_other_with_a_warning(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "We are a small team building search for legal documents.\n\n"
        "You will write Python services and tune Elasticsearch relevance.\n\n"
        "Experience with Kubernetes is helpful.\n",
        encoding="utf-8",
    )
    result, report = ingest_json(str(notes))
    assert result.exit_code == 0
    assert report["warnings"] and "other" in report["warnings"][0]["message"]
    hits = json.loads(run_cli(["search", "Elasticsearch relevance tuning", "--json"]).stdout)
    assert hits[0]["section"] == "other"


def test_search_json_shape_and_filters():
    run_cli(["ingest", str(SEEDS)])
    hits = json.loads(run_cli(["search", "ストリーミング処理の経験", "-k", "2", "--json"]).stdout)
    assert len(hits) == 2
    assert set(hits[0]) >= {"id", "posting_id", "section", "text", "score"}
    assert "streaming" in hits[0]["text"]
    only_plus = json.loads(run_cli(["search", "GPU", "--section", "nice_to_have", "--json"]).stdout)
    assert only_plus and all(h["section"] == "nice_to_have" for h in only_plus)


@pytest.mark.parametrize("query", ["資深數據工程師", "Senior Data Engineer", "數據工程師"])
def test_bilingual_title_is_searchable_by_either_half(query):
    run_cli(["ingest", str(SEEDS)])
    hits = json.loads(run_cli(["search", query, "-k", "3", "--json"]).stdout)
    assert any("Data Engineer" in h["title"] for h in hits)


def test_doctor_reports_every_check_as_json():
    result = run_cli(["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert {"python", "data dir", "vector store", "embedder"} <= set(checks)
    assert checks["vector store"]["status"] == "ok"


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "prepbot", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ingest" in result.stdout


# Another process holding the store's sqlite database: chroma alone would wait for it without a time limit.
# The locker lets go by itself after 60 s, so a prepbot that waits instead of failing fails this test, not hangs it.
_LOCKER = """
import select, sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
select.select([sys.stdin], [], [], 60)  # until the test closes stdin
"""


@contextlib.contextmanager
def locked_by_another_process(database: Path):
    locker = subprocess.Popen([sys.executable, "-c", _LOCKER, str(database)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        yield
    finally:
        locker.stdin.close()
        locker.wait(timeout=30)


def test_locked_store_is_a_one_line_error_and_loses_nothing(tmp_path, isolated_home, monkeypatch):
    from chromadb.api.client import SharedSystemClient

    run_cli(["ingest", str(SEEDS)])
    listed = json.loads(run_cli(["postings", "list", "--json"]).stdout)
    hits = json.loads(run_cli(["search", "Kafka streaming", "--json"]).stdout)
    other = tmp_path / "other.md"
    other.write_text("# Platform Engineer\n\n## Requirements\n\n- Terraform and AWS in production\n", encoding="utf-8")

    # As a new process would: no store opened yet, and a short wait for the lock.
    monkeypatch.setattr("prepbot.index.LOCK_WAIT_S", 0.5)
    monkeypatch.setattr("prepbot.index._checked_stores", set())
    SharedSystemClient.clear_system_cache()
    with locked_by_another_process(isolated_home / "chroma" / "chroma.sqlite3"):
        for args in (["ingest", str(other)], ["search", "Kafka streaming"], ["postings", "list"]):
            result = run_cli(args)
            assert result.exit_code == 1, args
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
            assert "locked by another process" in lines[0] and "Traceback" not in result.stderr

    # Once the other process lets go, everything stored before is still there and the store works.
    assert json.loads(run_cli(["postings", "list", "--json"]).stdout) == listed
    assert json.loads(run_cli(["search", "Kafka streaming", "--json"]).stdout) == hits
    result, report = ingest_json(str(other))
    assert result.exit_code == 0 and [p["outcome"] for p in report["postings"]] == ["added"]
    assert len(json.loads(run_cli(["postings", "list", "--json"]).stdout)) == len(listed) + 1

