"""Many users on one chroma server and one model server: throughput and p95 of `search` and `grade`.

    python bench/load.py [--clients 1,4,16] [--searches 30] [--grades 1] [--model default|fast]
                         [--deadline-s 600] [--json]

Everything runs on loopback: a chroma server (`chroma run`, from the chromadb wheel) and a model server
(`prepbot serve-model`: llama-cpp-python's server; requests queue for its one model). The eval postings and
the seeds are ingested into the server's store. Then for each N in --clients:

- search: N client processes, each with its own home (N users on N machines: each its own sparse index and
  embedder, one shared store), start together and run --searches short queries each;
- grade: N clients at once each grade --grades answers of evals/grading.jsonl through the
  openai-compatible backend (threads of this process: a grade waits on the model server).

Per N it prints requests, wall time, throughput (requests/s) and p50/p95 latency. Bounded: each phase has
--deadline-s, past which it is stopped and reported as cut short; the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], log: Path, ready, env: dict | None = None, wait_s: float = 180) -> subprocess.Popen:
    out = log.open("wb")
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + wait_s
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            sys.exit(f"{command[0]} did not start: {log.read_text(errors='replace')[-1500:]}")
        time.sleep(0.3)
    return process


def http_ok(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50_s": None, "p95_s": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_s": round(statistics.median(ordered), 3), "p95_s": round(p95, 3)}


def search_client(home: str, url: str, queries: list[dict], go, results) -> None:
    """One user: opens the shared store (building its own sparse index), then waits for the start."""
    from prepbot.config import Settings
    from prepbot.retrieval.index import RequirementIndex

    index = RequirementIndex(Settings(home=Path(home), chroma_url=url))
    index.search(queries[0]["query"], k=5)  # the embedder loaded before the clock starts
    results.put(("ready", None))
    go.wait()
    latencies = []
    for query in queries:
        started = time.perf_counter()
        index.search(query["query"], posting_id=query["posting_id"], k=5)
        latencies.append(time.perf_counter() - started)
    results.put(("done", latencies))


def search_phase(n: int, root: Path, url: str, queries: list[dict], per_client: int, deadline_s: float) -> dict:
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    clients = []
    for k in range(n):
        mine = [queries[(k * per_client + i) % len(queries)] for i in range(per_client)]
        home = root / f"search-{n}-{k}"
        clients.append(context.Process(target=search_client, args=(str(home), url, mine, go, results)))
    for client in clients:
        client.start()
    for _ in clients:
        results.get(timeout=deadline_s)
    started = time.perf_counter()
    go.set()
    latencies: list[float] = []
    finished = 0
    try:
        while finished < n:
            _, got = results.get(timeout=max(1.0, deadline_s - (time.perf_counter() - started)))
            latencies.extend(got)
            finished += 1
    except Exception:  # the deadline: report what finished
        pass
    wall = time.perf_counter() - started
    for client in clients:
        client.join(timeout=5)
        if client.is_alive():
            client.kill()
    return {
        "clients": n,
        "requests": len(latencies),
        "wall_s": round(wall, 2),
        "throughput_per_s": round(len(latencies) / wall, 2),
        **percentiles(latencies),
        "cut_short": finished < n,
    }


def grade_phase(n: int, settings, index, cases: list[dict], per_client: int, deadline_s: float) -> dict:
    from prepbot.grading import grade_answer
    from prepbot.llm import get_llm

    llm = get_llm(settings)

    def one_client(k: int) -> list[float]:
        times = []
        for i in range(per_client):
            case = cases[(k * per_client + i) % len(cases)]
            began = time.perf_counter()
            grade_answer(
                settings,
                question=case["question"],
                answer=case["answer"],
                posting_id=case["posting_id"],
                requirement_id=case["requirement_id"],
                index=index,
                llm=llm,
                no_cache=True,
            )
            times.append(time.perf_counter() - began)
        return times

    started = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(one_client, k) for k in range(n)]
        done, not_done = wait(futures, timeout=deadline_s)
        for future in not_done:
            future.cancel()
    wall = time.perf_counter() - started
    latencies = [t for future in done if future.exception() is None for t in future.result()]
    errors = [str(future.exception()) for future in done if future.exception() is not None]
    return {
        "clients": n,
        "requests": len(latencies),
        "wall_s": round(wall, 2),
        "throughput_per_min": round(len(latencies) / wall * 60, 2),
        **percentiles(latencies),
        "cut_short": bool(not_done),
        "errors": errors[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--searches", type=int, default=30, help="queries per search client")
    parser.add_argument("--grades", type=int, default=1, help="answers graded per grade client (0: no model server)")
    parser.add_argument("--model", default="default", help="the model the server serves: default | fast")
    parser.add_argument("--deadline-s", type=float, default=600.0, help="per phase")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(n) for n in args.clients.split(",")]

    root = Path(tempfile.mkdtemp(prefix="prepbot-bench-load-"))
    chroma_port, model_port = free_port(), free_port()
    chroma_url, base_url = f"http://127.0.0.1:{chroma_port}", f"http://127.0.0.1:{model_port}/v1"
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    servers = []
    try:
        servers.append(
            start(
                [chroma, "run", "--path", str(root / "chroma"), "--host", "127.0.0.1", "--port", str(chroma_port)],
                root / "chroma.log",
                lambda: http_ok(f"{chroma_url}/api/v2/heartbeat"),
            )
        )
        if args.grades:
            servers.append(
                start(
                    [sys.executable, "-m", "prepbot", "serve-model", "--model", args.model, "--port", str(model_port)],
                    root / "model.log",
                    lambda: http_ok(f"{base_url}/models"),
                    env={**os.environ, "PREPBOT_HOME": str(root / "server-home")},
                )
            )
        result = run_phases(args, sizes, root, chroma_url, base_url)
    finally:
        for server in servers:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"model server: prepbot serve-model --model {args.model}; {result['cores']} cores")
        for phase in ("search", "grade"):
            for row in result[phase]:
                rate = row.get("throughput_per_s", row.get("throughput_per_min"))
                unit = "/s" if "throughput_per_s" in row else "/min"
                print(
                    f"{phase:6} N={row['clients']:<3} {row['requests']:4} requests in {row['wall_s']:7.1f} s: "
                    f"{rate} {unit}, p50 {row['p50_s']} s, p95 {row['p95_s']} s"
                    + (" (cut short at the deadline)" if row["cut_short"] else "")
                )


def run_phases(args, sizes: list[int], root: Path, chroma_url: str, base_url: str) -> dict:
    from prepbot.config import Settings
    from prepbot.ingest import ingest
    from prepbot.retrieval.index import RequirementIndex

    home = root / "bench-home"
    index = RequirementIndex(Settings(home=home, chroma_url=chroma_url))
    ingest([str(ROOT / "evals/postings"), str(ROOT / "seeds")], index)
    by_file = {Path(s.source.split("#")[0]).name: s.id for s in index.list_postings()}
    rows = [json.loads(line) for line in (ROOT / "evals/grading.jsonl").read_text(encoding="utf-8").splitlines()]
    cases = []
    for row in rows:
        posting_id = by_file.get(Path(row["posting_file"]).name)
        posting = index.get_posting(posting_id) if posting_id else None
        wanted = row.get("requirement") or {}
        item = next(
            (r for r in (posting.requirements if posting else []) if (r.section, r.n) == (wanted.get("section"), wanted.get("n"))),
            None,
        )  # fmt: skip
        if item is not None:
            cases.append({**row, "posting_id": posting_id, "requirement_id": item.id})
    queries = [{"query": c["question"][:100], "posting_id": c["posting_id"]} for c in cases]
    settings = Settings(
        home=home,
        chroma_url=chroma_url,
        backend="openai-compatible",
        base_url=base_url,
        model=args.model,
        timeout_s=args.deadline_s,
        cache=False,
    )
    result = {"cores": os.cpu_count(), "model": args.model, "items": index.items.count(), "search": [], "grade": []}
    for n in sizes:
        result["search"].append(search_phase(n, root, chroma_url, queries, args.searches, args.deadline_s))
    for n in sizes if args.grades else []:
        result["grade"].append(grade_phase(n, settings, index, cases, args.grades, args.deadline_s))
    return result


if __name__ == "__main__":
    main()
