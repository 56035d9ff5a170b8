"""A large ingest cut short continues where it stopped; finished, unchanged files are not read again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from prepbot.config import Settings
from prepbot.retrieval.index import RequirementIndex
from tests.helpers import run_cli

HEADS = {
    "en": ("Responsibilities", "Requirements", "Nice to have"),
    "zh": ("工作內容", "任職要求", "加分條件"),
    "ja": ("業務内容", "必須スキル", "歓迎スキル"),
}
TOOLS = ["Kafka", "Spark", "Flink", "dbt", "BigQuery", "Redis", "Kubernetes", "Terraform", "PyTorch", "Go"]


def posting_text(k: int) -> str:
    language = ("en", "zh", "ja")[k % 3]
    lines = [f"# {['Data Engineer', '資料工程師', 'データエンジニア'][k % 3]} {k}", ""]
    for head, count in zip(HEADS[language], (3, 4, 3)):
        lines += [f"## {head}", ""]
        for i in range(count):
            tool = TOOLS[(k + i) % len(TOOLS)]
            text = {
                "en": f"Build and run {tool} systems for team {k}, area {i}.",
                "zh": f"使用 {tool} 建置第 {k} 組的第 {i} 項服務",
                "ja": f"{tool} を用いたチーム {k} の第 {i} 基盤の構築",
            }[language]
            lines.append(f"- {text}")
        lines.append("")
    return "\n".join(lines)


def write_postings(folder: Path, count: int) -> None:
    folder.mkdir()
    for k in range(count):
        (folder / f"posting-{k:04d}.md").write_text(posting_text(k), encoding="utf-8")


def finished_files(home: Path) -> int:
    database = home / "prepbot.sqlite3"
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(database, timeout=1) as db:
            return db.execute("SELECT count(*) FROM ingested_files").fetchone()[0]
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def test_an_ingest_killed_midway_continues_where_it_stopped(tmp_path, monkeypatch):
    folder, home = tmp_path / "postings", tmp_path / "home"
    write_postings(folder, 600)  # 6,000 items: the worker embeds, and the first flush comes well before the end
    env = {**os.environ, "PREPBOT_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "prepbot", "ingest", str(folder), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while finished_files(home) == 0 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the ingest and its embedding worker, mid-run
    process.wait()
    done_before = finished_files(home)
    assert 0 < done_before < 600, done_before

    monkeypatch.setenv("PREPBOT_HOME", str(home))
    resumed = run_cli(["ingest", str(folder), "--json"])
    assert resumed.exit_code == 0, resumed.output
    report = json.loads(resumed.stdout)
    assert report["skipped_files"] == done_before  # those were not read again
    outcomes = [p["outcome"] for p in report["postings"]]
    assert len(outcomes) == 600 and set(outcomes) <= {"added", "unchanged"}

    # nothing half-written: every posting whole, the sparse index in step with the store
    index = RequirementIndex(Settings(home=home))
    summaries = index.list_postings()
    assert len(summaries) == 600 and all(sum(s.counts.values()) == 10 for s in summaries)
    assert index.items.count() == index.sparse.count == 6000

    again = json.loads(run_cli(["ingest", str(folder), "--json"]).stdout)
    assert again["skipped_files"] == 600


def test_only_changed_files_are_read_again(tmp_path, monkeypatch):
    folder = tmp_path / "postings"
    write_postings(folder, 3)
    monkeypatch.setenv("PREPBOT_HOME", str(tmp_path / "home"))
    first = json.loads(run_cli(["ingest", str(folder), "--json"]).stdout)
    assert first["skipped_files"] == 0

    edited = folder / "posting-0000.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("team 0,", "team zero,"), encoding="utf-8")
    second = json.loads(run_cli(["ingest", str(folder), "--json"]).stdout)
    assert second["skipped_files"] == 2
    assert sorted(p["outcome"] for p in second["postings"]) == ["unchanged", "unchanged", "updated"]

    # a posting removed from the store is read again from its (unchanged) file, as before
    removed = next(p["posting_id"] for p in first["postings"] if p["source"].endswith("posting-0002.md"))
    assert run_cli(["remove", removed]).exit_code == 0
    third = json.loads(run_cli(["ingest", str(folder), "--json"]).stdout)
    assert third["skipped_files"] == 2
    assert [p["posting_id"] for p in third["postings"] if p["outcome"] == "added"] == [removed]
