"""An ingest run's ledger (prepbot/ledger.py): what a run knows of every posting lives on disk, the report of a
large run holds what changed and logs the rest, and the ledger file never outlives its run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prepbot.ledger import LEDGER_GLOB, Ledger
from prepbot.postings import Posting
from prepbot.postings.identity import is_near_duplicate
from tests.helpers import run_cli
from tests.test_ingest import open_store, write_postings
from tests.test_postings import parse_text


def posting(posting_id: str, texts: list[str]) -> Posting:
    [parsed] = parse_text(f"# {posting_id}\n\nRequirements:\n" + "".join(f"- {t}\n" for t in texts))
    return parsed.model_copy(update={"id": posting_id})


def test_a_near_duplicate_is_found_by_shared_items_on_disk(tmp_path):
    ledger = Ledger(tmp_path)
    texts = [f"Operate service {k} on Kubernetes" for k in range(10)]
    ledger.add_seen(posting("first", texts))
    assert ledger.seen_twin(posting("same-items", list(reversed(texts)))) == "first"  # same fingerprint
    assert ledger.seen_twin(posting("one-more", [*texts, "Write Go"])) == "first"  # Jaccard 10/11 >= 0.9
    assert ledger.seen_twin(posting("one-other", [*texts[:9], "Write Go"])) is None  # 9/11 < 0.9
    assert ledger.seen_fingerprint("first") == posting("first", texts).fingerprint
    ledger.discard_seen(posting("first", texts))
    assert ledger.seen_twin(posting("one-more", [*texts, "Write Go"])) is None
    ledger.close()
    assert not list(tmp_path.glob(LEDGER_GLOB))


def test_a_run_past_the_report_limit_reports_what_changed_and_logs_every_posting(tmp_path, monkeypatch):
    from prepbot.ingest import ingest

    monkeypatch.setattr("prepbot.ingest.REPORT_POSTINGS_MAX", 3)
    folder = write_postings(tmp_path / "postings", 5)
    index = open_store(tmp_path / "home")
    report = ingest([str(folder)], index, worker=False)
    assert report.counts == {"added": 5} and report.changed
    assert [p.title for p in report.postings] == [f"Platform Engineer {k}" for k in range(3)]
    assert [p.title for p in report.every_posting()] == [f"Platform Engineer {k}" for k in range(5)]

    write_postings(folder, 5, extra={4: "Write Go"})  # the last posting edited, the others unchanged
    report = ingest([str(folder)], index, worker=False)
    assert report.counts == {"unchanged": 4, "updated": 1}
    assert [(p.outcome, p.title) for p in report.postings] == [("updated", "Platform Engineer 4")]
    assert [p.outcome for p in report.every_posting()] == ["unchanged"] * 4 + ["updated"]
    assert report.log is not None and len(Path(report.log).read_text().splitlines()) == 5


def test_json_of_a_large_run_lists_every_posting(tmp_path, isolated_home, monkeypatch):
    monkeypatch.setattr("prepbot.ingest.REPORT_POSTINGS_MAX", 2)
    folder = write_postings(tmp_path / "postings", 4)
    result = run_cli(["ingest", str(folder), "--json"])
    report = json.loads(result.stdout)
    assert [p["title"] for p in report["postings"]] == [f"Platform Engineer {k}" for k in range(4)]
    assert report["counts"] == {"added": 4} and report["errors"] == [] and report["log"]

    again = run_cli(["ingest", str(folder)])  # counted from every posting, not from those the report holds
    assert again.stdout.startswith("4 unchanged; nothing changed")


def test_no_ledger_outlives_its_run_even_a_killed_one(tmp_path):
    from prepbot.ingest import ingest

    home = tmp_path / "home"
    home.mkdir()
    (home / LEDGER_GLOB.replace("*", "4242")).write_bytes(b"left by a run that was killed")
    folder = write_postings(tmp_path / "postings", 2)
    index = open_store(home)

    def interrupt(event: str, amount: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest([str(folder)], index, progress=interrupt, worker=False)
    assert not list(home.glob(LEDGER_GLOB))
    report = ingest([str(folder)], index, worker=False)
    assert report.counts == {"added": 2} and not list(home.glob(LEDGER_GLOB))


def test_the_twin_found_on_disk_is_the_one_a_comparison_with_every_posting_finds(tmp_path):
    """Prefix filtering looks up few keys; it must find exactly what comparing every pair finds."""
    import random

    rng = random.Random(5)
    pool = [f"Skill number {k} with tool {k % 7}" for k in range(40)]
    base = [rng.sample(pool, rng.randint(3, 25)) for _ in range(8)]
    ledger, earlier = Ledger(tmp_path), []
    for k in range(160):
        texts = list(rng.choice(base))
        for _ in range(rng.choice([0, 0, 1, 2])):  # a few items changed, dropped or added
            texts[rng.randrange(len(texts))] = rng.choice(pool)
        if rng.random() < 0.3:
            texts.append(rng.choice(pool))
        new = posting(f"p{k:03d}", texts)
        same = [p.id for p in earlier if p.fingerprint == new.fingerprint]
        near = sorted(p.id for p in earlier if is_near_duplicate(p, new))
        assert ledger.seen_twin(new) == (same[0] if same else near[0] if near else None)
        ledger.add_seen(new)
        earlier.append(new)
    ledger.close()
