"""The scale benchmarks run end to end at a small size (their figures come from full-size runs: README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POSTINGS = ROOT.parent / "shared" / "postings"


def run_bench(*argv: str, timeout: float = 600) -> dict:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / argv[0]), *argv[1:], "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not POSTINGS.is_dir(), reason="needs ../shared/postings")
def test_the_search_bench_builds_stores_both_ways_and_times_both_scopes(tmp_path):
    result = run_bench(
        "search.py", "--sizes", "400,900", "--ingest-up-to", "400", "--queries", "20", "--keep", str(tmp_path)
    )
    ingested, pooled = result["results"]
    assert ingested["built_by"] == "ingest" and pooled["built_by"] == "pooled vectors"
    assert ingested["items"] >= 380 and pooled["items"] >= 880
    assert 0 < ingested["ingest_ratio"] < 3 and ingested["ingest_items_per_s"] > 0
    for figures in (ingested, pooled):
        for scope in ("within_posting", "across_all"):
            timing = figures[scope]
            assert 0 < timing["prepbot"]["p50_ms"] <= timing["prepbot"]["p95_ms"]
            assert timing["ratio_p50"] > 0 and timing["bare_dense"]["p95_ms"] > 0
        assert figures["disk_mb_per_1k_items"] > 0 and figures["search_peak_rss_mb"] > 0
        assert len(figures["languages"]) >= 3  # the real postings' mix of languages is kept


@pytest.mark.server
def test_the_load_bench_runs_many_search_clients_against_one_chroma_server():
    result = run_bench("load.py", "--clients", "1,3", "--searches", "4", "--grades", "0")
    assert [row["clients"] for row in result["search"]] == [1, 3]
    assert [row["requests"] for row in result["search"]] == [4, 12]
    assert all(row["p95_s"] > 0 and not row["cut_short"] for row in result["search"])
    assert result["grade"] == []


@pytest.mark.skipif(not POSTINGS.is_dir(), reason="needs ../shared/postings")
def test_the_large_ingest_bench_kills_resumes_and_leaves_the_store_whole(tmp_path):
    result = run_bench("ingest_run.py", "--count", "300", "--kill-at", "0.4", "--keep", str(tmp_path / "run"))
    store = result["store"]
    assert result["runs"][-1]["rc"] == 0 and result["runs"][-1]["files_finished"] == 300
    assert 280 <= store["postings"] <= 300 and store["items"] == store["items_expected"] == store["sparse_items"] > 0
    assert store["sparse_postings_not_in_store"] == 0 == store["store_postings_not_in_sparse"]
    assert result["ingest_peak_rss_mb"] > 0
