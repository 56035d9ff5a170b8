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

# OpenAI list prices in USD per million tokens (input, output) when this table was written; a dated
# snapshot ("gpt-4o-mini-2024-07-18") is priced as its family. Models not listed get no cost.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    "gpt-3.5-turbo": (0.50, 1.50),
}


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
    logprobs: str | None = None  # JSON, when the call asked for token probabilities (see llm.TokenLogprob)


def digest(data: Any) -> str:
    """A stable hash of JSON-able data: key order and whitespace do not change it."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def cost_usd(model: str, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
    families = [name for name in PRICES_PER_MTOK if model == name or model.startswith(name + "-")]
    if not families or prompt_tokens is None or completion_tokens is None:
        return None
    family = max(families, key=len)  # "gpt-4o-mini-2024-07-18" is gpt-4o-mini, not gpt-4o
    price_in, price_out = PRICES_PER_MTOK[family]
    return (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000


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
