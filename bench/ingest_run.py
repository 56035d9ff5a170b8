"""One large ingest: 100k postings in one `prepbot ingest`, its memory over the run, and a resume after a kill.

    python bench/ingest_run.py [--count 100000] [--server] [--kill-at 0.5] [--keep DIR] [--json]

The postings are varied copies of the real postings in ../shared/postings, written one Markdown file each
(bench/search.py's copies: numbers and technologies changed, items left out and shuffled, the language mix
kept). One `prepbot ingest FOLDER` reads them all, as a user would run it. Every 2 s the bench samples the
resident memory of the ingest (its process and its embedding worker) and, with --server, of the chroma server
the store lives on (`chroma run` on loopback), and reads how many files the ingest journal has finished.

--kill-at F sends SIGKILL to the ingest once F of the files are finished, then runs the same command again:
the second run must skip the finished files unread and end with the store holding every posting once, its
sparse index in step (`prepbot doctor`).

It prints postings, items, wall time, items/s, the ingest's resident memory at each tenth of the run (the
largest sample in it) and its peak, the chroma server's peak, and what the resumed run skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load import free_port, http_ok, start
from search import base_postings, varied_copy

SAMPLE_S = 2.0


def write_postings(bases: list, count: int, folder: Path, rng: random.Random) -> None:
    """``count`` varied copies, a file each, 1,000 to a folder."""
    for copy in range(count):
        text, _ = varied_copy(bases[copy % len(bases)], copy, rng)
        shard = folder / f"{copy // 1000:04d}"
        shard.mkdir(parents=True, exist_ok=True)
        (shard / f"copy-{copy:07d}.md").write_text(text, encoding="utf-8")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def files_finished(home: Path) -> int:
    try:
        with sqlite3.connect(f"file:{home / 'prepbot.sqlite3'}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM ingested_files").fetchone()[0])
    except sqlite3.Error:
        return 0


def run_ingest(folder: Path, home: Path, env: dict, count: int, kill_at: float | None, server_pid: int | None):
    """One `prepbot ingest`, sampled; killed once ``kill_at`` of the files are finished. Its samples and rc."""
    command = [sys.executable, "-m", "prepbot", "ingest", str(folder)]
    with open(home.parent / f"ingest-{time.time():.0f}.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    started, samples = time.monotonic(), []
    while process.poll() is None:
        time.sleep(SAMPLE_S)
        done = files_finished(home)
        sample = {"t": round(time.monotonic() - started, 1), "files": done, "rss_mb": round(rss_mb(process.pid), 1)}
        if server_pid is not None:
            sample["server_rss_mb"] = round(rss_mb(server_pid), 1)
        samples.append(sample)
        if kill_at is not None and done >= kill_at * count:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return samples, "killed", time.monotonic() - started
    return samples, process.returncode, time.monotonic() - started


def by_tenth(samples: list[dict], count: int, key: str) -> list[float]:
    """The largest sample of ``key`` in each tenth of the files."""
    tenths = [0.0] * 10
    for sample in samples:
        k = min(9, sample["files"] * 10 // max(count, 1))
        tenths[k] = max(tenths[k], sample.get(key, 0.0))
    return tenths


VERIFY = """
import json
from prepbot.config import get_settings
from prepbot.retrieval.connect import connect, pages
from prepbot.retrieval.index import sparse_dir
from prepbot.retrieval.sparse import SparseIndex
settings = get_settings()
client = connect(settings)
items = client.get_collection(settings.collection)
postings = client.get_collection(settings.collection + "-postings")
posting_ids, items_expected = set(), 0
for page in pages(postings, include=["metadatas"]):
    posting_ids.update(page["ids"])
    items_expected += sum(sum(json.loads(m["counts"]).values()) for m in page["metadatas"])
sparse = SparseIndex(sparse_dir(settings))
sparse_postings = sparse.posting_ids()
print(json.dumps({"postings": len(posting_ids), "items": items.count(), "items_expected": items_expected,
                  "sparse_items": sparse.count,
                  "sparse_postings_not_in_store": len(sparse_postings - posting_ids),
                  "store_postings_not_in_sparse": len(posting_ids - sparse_postings)}))
"""


def verify(env: dict) -> dict:
    """The store as left, read straight from chroma and the sparse index (opening a RequirementIndex would put
    a sparse index out of step right first). Only the posting records are read: each says how many items it
    wrote, and their sum must be the item count (reading 1.5M items' metadata by offset took over 15 minutes)."""
    done = subprocess.run([sys.executable, "-c", VERIFY], env=env, capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="postings to ingest in one run")
    parser.add_argument("--server", action="store_true", help="the store on a chroma server (loopback)")
    parser.add_argument("--kill-at", type=float, help="SIGKILL the ingest at this share of files, then resume")
    parser.add_argument("--postings", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "postings"))
    parser.add_argument("--keep", metavar="DIR", help="work here and keep it")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="prepbot-ingest-run-"))
    root.mkdir(parents=True, exist_ok=True)
    folder, home = root / "postings", root / "home"
    if not folder.exists():
        write_postings(base_postings(Path(args.postings), root / "bases"), args.count, folder, random.Random(args.seed))
    env = {**os.environ, "PREPBOT_HOME": str(home), "PREPBOT_CONFIG": str(root / "no-config.toml")}
    env.pop("PREPBOT_CHROMA_URL", None)
    server = None
    if args.server:
        port = free_port()
        chroma = str(Path(sys.executable).with_name("chroma"))
        server = start(
            [chroma, "run", "--path", str(root / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
            root / "chroma.log",
            lambda: http_ok(f"http://127.0.0.1:{port}/api/v2/heartbeat"),
        )
        env["PREPBOT_CHROMA_URL"] = f"http://127.0.0.1:{port}"
    try:
        figures = measure(args, folder, home, env, server.pid if server else None)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value}")


def measure(args, folder: Path, home: Path, env: dict, server_pid: int | None) -> dict:
    runs = []
    samples, rc, wall = run_ingest(folder, home, env, args.count, args.kill_at, server_pid)
    runs.append({"rc": rc, "wall_s": round(wall, 1), "files_finished": files_finished(home)})
    if rc == "killed":
        resumed, rc, wall = run_ingest(folder, home, env, args.count, None, server_pid)
        runs.append({"rc": rc, "wall_s": round(wall, 1), "files_finished": files_finished(home)})
        offset = samples[-1]["t"] if samples else 0.0
        samples += [{**s, "t": s["t"] + offset} for s in resumed]
    (home.parent / "samples.json").write_text(json.dumps(samples))  # before the store is read (minutes at 1M)
    wall_s = sum(r["wall_s"] for r in runs)
    figures = {
        "postings_written": args.count,
        "server": bool(server_pid),
        "runs": runs,
        "store": verify(env),
        "wall_s": round(wall_s, 1),
        "ingest_rss_mb_by_tenth": by_tenth(samples, args.count, "rss_mb"),
        "ingest_peak_rss_mb": max((s["rss_mb"] for s in samples), default=0.0),
    }
    if server_pid is not None:
        figures["server_rss_mb_by_tenth"] = by_tenth(samples, args.count, "server_rss_mb")
    return figures


if __name__ == "__main__":
    main()
