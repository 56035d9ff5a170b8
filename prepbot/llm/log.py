"""The LLM call log, which is also the response cache.

Every call is one row: successes, failures and cache hits alike. A deterministic call (temperature 0) is
answered from the newest successful row with the same cache key, which covers everything that decides the
output: backend (and server), model, prompt name@version, the rendered messages, the output schema, the
temperature and the token limit.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import closing
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from prepbot.config import Settings
from prepbot.db import connect


class CallRecord(BaseModel):
    id: int | None = None
    created_at: datetime
    backend: str
    model: str
    prompt: str  # name@version
    inputs_hash: str
    cache_key: str
    output: str | None = None  # the raw text, also when it failed validation
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float
    cost_usd: float | None = None
    cached: bool = False
    error: str | None = None
    logprobs: str | None = None  # JSON, when the call asked for token probabilities (see generation.TokenLogprob)


def digest(data: Any) -> str:
    """A stable hash of JSON-able data: key order and whitespace do not change it."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(timezone.utc)


def log_call(record: CallRecord, settings: Settings | None = None) -> int:
    row = record.model_dump(exclude={"id"})
    row["created_at"] = record.created_at.isoformat()
    columns, placeholders = ", ".join(row), ", ".join("?" * len(row))
    with closing(connect(settings)) as db:
        cursor = db.execute(f"INSERT INTO llm_calls ({columns}) VALUES ({placeholders})", tuple(row.values()))
        return int(cursor.lastrowid or 0)


def cached_call(cache_key: str, settings: Settings | None = None) -> CallRecord | None:
    """The newest successful, freshly generated call with this key (errors and hits are never sources)."""
    with closing(connect(settings)) as db:
        row = db.execute(
            "SELECT * FROM llm_calls WHERE cache_key = ? AND error IS NULL AND cached = 0 AND output IS NOT NULL"
            " ORDER BY id DESC LIMIT 1",
            (cache_key,),
        ).fetchone()
    return CallRecord(**dict(row)) if row else None


def recent_calls(n: int = 20, settings: Settings | None = None) -> list[CallRecord]:
    """The last n calls, newest first."""
    with closing(connect(settings)) as db:
        rows = db.execute("SELECT * FROM llm_calls ORDER BY id DESC LIMIT ?", (n,)).fetchall()
    return [CallRecord(**dict(row)) for row in rows]
