"""The SQLite database, its migrations, and the call log that doubles as the cache."""

from __future__ import annotations

import json
from contextlib import closing

import pytest

from prepbot import db
from prepbot.config import get_settings
from prepbot.errors import PrepbotError
from prepbot.llm.backends.openai import cost_usd
from prepbot.llm.log import CallRecord, cached_call, log_call, now, recent_calls
from tests.helpers import run_cli


def record(**fields) -> CallRecord:
    defaults = dict(
        created_at=now(),
        backend="local",
        model="default",
        prompt="question@v1",
        inputs_hash="i",
        cache_key="k",
        output='{"a": 1}',
        prompt_tokens=10,
        completion_tokens=5,
        latency_s=1.5,
    )
    return CallRecord(**{**defaults, **fields})


def test_migrations_run_once_and_a_new_one_is_one_list_entry(monkeypatch):
    settings = get_settings()
    with closing(db.connect(settings)) as conn:
        applied = [tuple(r) for r in conn.execute("SELECT number, name FROM migrations ORDER BY number")]
        assert applied == [(m.number, m.name) for m in db.MIGRATIONS] and applied[0] == (1, "llm_calls")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.migrate(conn) == []
    following = len(db.MIGRATIONS) + 1
    monkeypatch.setattr(
        db,
        "MIGRATIONS",
        [
            *db.MIGRATIONS,
            db.Migration(
                following,
                "notes",
                """
        CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
        CREATE INDEX notes_body ON notes (body);
    """,
            ),
        ],
    )
    monkeypatch.setattr(db, "_migrated", set())
    with closing(db.connect(settings)) as conn:
        assert [r[0] for r in conn.execute("SELECT number FROM migrations")] == list(range(1, following + 1))
        conn.execute("INSERT INTO notes (body) VALUES ('x')")


def test_a_failing_migration_leaves_nothing_behind(monkeypatch):
    monkeypatch.setattr(
        db,
        "MIGRATIONS",
        [
            *db.MIGRATIONS,
            db.Migration(
                len(db.MIGRATIONS) + 1,
                "broken",
                """
        CREATE TABLE half (id INTEGER);
        THIS IS NOT SQL;
    """,
            ),
        ],
    )
    with pytest.raises(PrepbotError, match="cannot open or migrate the database .*syntax error"):
        db.connect(get_settings())
    monkeypatch.setattr(db, "MIGRATIONS", db.MIGRATIONS[:-1])
    monkeypatch.setattr(db, "_migrated", set())
    with closing(db.connect(get_settings())) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half" not in tables and "llm_calls" in tables


def test_recent_calls_newest_first():
    for n in range(5):
        log_call(record(output=f"out {n}"))
    calls = recent_calls(3)
    assert [c.output for c in calls] == ["out 4", "out 3", "out 2"]
    assert calls[0].id and calls[0].created_at.tzinfo is not None


def test_the_cache_only_serves_fresh_successes():
    log_call(record(cache_key="a", output="good"))
    log_call(record(cache_key="a", output="bad", error="invalid output"))
    log_call(record(cache_key="a", output="hit", cached=True))
    assert cached_call("a").output == "good"
    log_call(record(cache_key="b", output="partial", error="interrupted (Ctrl-C)"))
    assert cached_call("b") is None


def test_cost_from_the_price_table():
    assert cost_usd("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert cost_usd("gpt-4o-mini-2024-07-18", 1000, 0) == pytest.approx(0.00015)
    assert cost_usd("gpt-4o-2024-08-06", 1000, 0) == pytest.approx(0.0025)  # not mistaken for gpt-4o-mini
    assert cost_usd("default", 100, 100) is None
    assert cost_usd("gpt-4o", None, 10) is None


def test_cli_logs_table_and_json():
    log_call(record(output='{"text": "Why Spark?"}'))
    log_call(record(output=None, error="cannot reach http://127.0.0.1:9", backend="openai-compatible"))
    result = run_cli(["logs", "-n", "5"])
    assert result.exit_code == 0
    assert "cannot reach" in result.stdout and "Why Spark?" in result.stdout and "question@v1" in result.stdout
    listed = json.loads(run_cli(["logs", "--json", "-n", "1"]).stdout)
    assert len(listed) == 1 and listed[0]["error"].startswith("cannot reach")
