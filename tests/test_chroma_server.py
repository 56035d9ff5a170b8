"""The same ingest and search through a real chroma server (HttpClient), chosen by PREPBOT_CHROMA_URL alone.

.ci/run starts the server and passes its URL in PREPBOT_TEST_CHROMA_URL; run locally without it, the test
starts `chroma run` itself on a free loopback port.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from prepbot.config import Settings, get_settings
from prepbot.retrieval.index import RequirementIndex, sparse_dir
from tests.helpers import run_cli
from tests.test_index import DATA_ENGINEER

pytestmark = pytest.mark.server

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_heartbeat(url: str, deadline_s: float) -> None:
    import chromadb

    port = int(url.rsplit(":", 1)[1])
    end = time.monotonic() + deadline_s
    while True:
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
            return
        except Exception:
            if time.monotonic() > end:
                raise
            time.sleep(0.3)


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    given = os.environ.get("PREPBOT_TEST_CHROMA_URL")
    if given:
        _wait_for_heartbeat(given, 30)
        yield given
        return
    chroma = shutil.which("chroma")
    if chroma is None:
        pytest.fail("the `chroma` binary from the chromadb wheel is not on PATH")
    port = _free_port()
    process = subprocess.Popen(
        [
            chroma,
            "run",
            "--path",
            str(tmp_path_factory.mktemp("chroma-server")),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_heartbeat(url, 30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_ingest_and_search_through_a_chroma_server(chroma_url, monkeypatch):
    monkeypatch.setenv("PREPBOT_CHROMA_URL", chroma_url)
    monkeypatch.setenv("PREPBOT_COLLECTION", f"test-{uuid.uuid4().hex[:8]}")

    ingested = run_cli(["ingest", str(SEEDS), "--json"])
    assert ingested.exit_code == 0, ingested.output
    assert sum(p["outcome"] == "added" for p in json.loads(ingested.stdout)["postings"]) == 3

    listed = json.loads(run_cli(["postings", "list", "--json"]).stdout)
    assert len(listed) == 3

    hits = json.loads(run_cli(["search", "我用 Kafka 和 Flink 做過串流處理", "-k", "3", "--json"]).stdout)
    assert hits[0]["text"].startswith("Experience with streaming processing system")

    # Nothing was written locally: the store really is the server.
    assert not get_settings().chroma_dir.exists()


def test_clients_of_one_server_keep_their_sparse_indexes_in_step(chroma_url, tmp_path):
    """Two machines' clients of one store: each keeps its own sparse index, and sees the other's writes,
    an edit that keeps the item count included (the store's generation says it changed)."""
    collection = f"test-{uuid.uuid4().hex[:8]}"
    first, second = (
        RequirementIndex(Settings(home=tmp_path / name, chroma_url=chroma_url, collection=collection))
        for name in ("a", "b")
    )
    first.add_postings([DATA_ENGINEER])
    second._seen_generation = 0.0  # the next search asks the server at once (else within SERVER_STEP_CHECK_S)
    assert second.search("Cassandra Redis", k=1)[0].id == f"{DATA_ENGINEER.id}/requirement-3"

    edited = DATA_ENGINEER.model_copy(deep=True)
    edited.requirements[3].text = "Experience with Snowflake, dbt and ClickHouse."
    first.add_postings([edited])
    assert first.sparse.count == second.sparse.count == first.items.count()
    second._seen_generation = 0.0
    hits = second.search("ClickHouse Snowflake", k=1)
    assert hits[0].id == f"{DATA_ENGINEER.id}/requirement-3" and "ClickHouse" in hits[0].text
    assert second.sparse.search("Cassandra", 5) == []
    assert sparse_dir(first.settings) != sparse_dir(second.settings)
