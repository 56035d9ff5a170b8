"""Ingest throughput: the whole pipeline (read, parse, dedup, embed, write to chromadb) against the raw embedder.

    python bench/ingest.py [--postings 2000] [--repeat N] [--worker auto|on|off] [--cold] [--json] [--profile FILE]

Writes N synthetic postings (English, Chinese and Japanese; ~10 items each) as Markdown files into a temp dir,
ingests them into a fresh temp store, and embeds exactly the same texts (items and titles, parsed from the same
files) with the bare embedder, once before and once after the pipeline, on the same embedder object (same
weights, same BLAS threads). ratio = raw embedder time (mean of the two) / pipeline time; 1.0 = no overhead,
the goal is >= 0.90. --repeat N runs the pipeline N times (each into a fresh store), the bare embedder before,
between and after them, and reports the median run (its figures) and every run's ratio ("ratios"). "embed_in_pipeline_s" is the time the pipeline spent inside the embedder, so
pipeline_s - embed_in_pipeline_s is what the rest (reading, parsing, look-ups, chroma writes) costs.
--worker: embedding shared with a worker process that overlaps the writes (on), in-process only (off), or as
ingest decides by size (auto, the default). With the worker, embed_in_pipeline_s adds this process's time in
the embedder and the worker's busy time (the two overlap each other and the rest); worker_load_s is the time
the worker took to load the model, which the in-process embedder did before the timing (its warm-up) unless
--cold; worker_failure says why the worker was given up for in-process embedding, if it was; taken_back_s is
the time this process spent embedding messages it took back from the worker's queue while it would have waited.
On a shared machine the numbers move with the load: the load average and the cores other processes kept
busy are printed with them.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

SKILLS = [
    "Python",
    "Go",
    "Kafka",
    "Spark",
    "Flink",
    "Airflow",
    "dbt",
    "BigQuery",
    "PostgreSQL",
    "Redis",
    "Kubernetes",
    "Docker",
    "Terraform",
    "PyTorch",
    "TensorFlow",
    "ONNX",
    "FastAPI",
    "gRPC",
    "Elasticsearch",
    "Snowflake",
]
EN = {
    "title": [
        "Senior Data Engineer",
        "Machine Learning Engineer",
        "Backend Engineer",
        "MLOps Engineer",
        "Data Analyst",
    ],
    "heads": ("Responsibilities", "Requirements", "Nice to have"),
    "items": [
        "Build and operate production pipelines with {a} and {b}.",
        "At least {n} years of experience with {a} in a team setting.",
        "Design services on {a}, monitored and deployed with {b}.",
        "Tune {a} jobs that process more than {n} TB a day.",
        "Own the on-call rotation for systems built on {a}.",
    ],
}
ZH = {
    "title": ["資深數據工程師", "機器學習工程師", "後端工程師", "資料分析師", "平台工程師"],
    "heads": ("工作內容", "任職要求", "加分條件"),
    "items": [
        "使用 {a} 與 {b} 建置並維運資料管線",
        "具備 {n} 年以上 {a} 開發經驗",
        "熟悉 {a} 的效能調校與監控，並能以 {b} 部署",
        "負責以 {a} 為核心的服務設計與上線",
        "與跨部門團隊合作，推動 {a} 平台導入",
    ],
}
JA = {
    "title": ["データエンジニア", "機械学習エンジニア", "バックエンドエンジニア", "SRE", "データアナリスト"],
    "heads": ("業務内容", "必須スキル", "歓迎スキル"),
    "items": [
        "{a} と {b} を用いたデータ基盤の構築と運用",
        "{a} を用いた開発経験 {n} 年以上",
        "{a} のパフォーマンスチューニング経験と {b} での運用",
        "{a} を中心としたサービスの設計とリリース",
        "他部署と連携した {a} 基盤の導入推進",
    ],
}


def synthetic_posting(k: int, rng: random.Random) -> str:
    lang = (EN, ZH, JA)[k % 3]
    lines = [f"# {rng.choice(lang['title'])} {k}", ""]
    for head, count in zip(lang["heads"], (3, 4, 3)):
        lines += [f"## {head}", ""]
        for i in range(count):
            a, b = rng.sample(SKILLS, 2)
            lines.append(
                f"{i + 1}. " + rng.choice(lang["items"]).format(a=a, b=b, n=rng.randint(1, 9)) + f" ({k}-{head}-{i})"
            )
        lines.append("")
    return "\n".join(lines)


class TimedEmbedder:
    """The pipeline's embedder, timed: how much of the pipeline is embedding."""

    def __init__(self, inner):
        self.inner = inner
        self.spec = inner.spec
        self.threads = getattr(inner, "threads", 1)
        self.seconds = 0.0

    @property
    def loaded(self):
        return getattr(self.inner, "loaded", False)

    def embed(self, texts):
        started = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - started


def embed_raw(embedder, texts: list[str], titles: list[str], batch: int) -> float:
    """The bare embedder on the same texts in the same batches as the pipeline (items by EMBED_BATCH, titles)."""
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.embed(texts[start : start + batch])
    embedder.embed(titles)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postings", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="pipeline runs, each into a fresh store, between runs of the bare embedder; "
        "the median ratio is reported (single runs move by 10%% on a shared VM)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--profile", metavar="FILE", help="write cProfile stats of the pipeline run to FILE")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="the pipeline's in-process embedder starts unloaded, as in a fresh `prepbot ingest`",
    )
    parser.add_argument(
        "--worker",
        choices=("auto", "on", "off"),
        default="auto",
        help="embed in a worker process during ingest (default: as ingest decides by size)",
    )
    args = parser.parse_args()

    import prepbot.ingest
    from prepbot.config import Settings
    from prepbot.ingest import ingest
    from prepbot.retrieval.embedders import EmbedWorker
    from prepbot.retrieval.index import EMBED_BATCH, RequirementIndex

    workers: list[EmbedWorker] = []

    class RecordedWorker(EmbedWorker):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            workers.append(self)

    prepbot.ingest.EmbedWorker = RecordedWorker
    from prepbot.llm import busy_cores
    from prepbot.postings import parse_document
    from prepbot.postings.readers import read_documents

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    busy_before = busy_cores(cores, window_s=1.0)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        postings_dir = Path(tmp) / "postings"
        postings_dir.mkdir()
        for k in range(args.postings):
            (postings_dir / f"posting-{k:05d}.md").write_text(synthetic_posting(k, rng), encoding="utf-8")
        parsed = [
            posting
            for path in sorted(postings_dir.iterdir())
            for document in read_documents(path)
            for posting in parse_document(document).postings
        ]
        texts = [item.text for posting in parsed for item in posting.requirements]
        titles = [posting.title for posting in parsed]

        raw = RequirementIndex(Settings(home=Path(tmp) / "warm-up")).embedder
        raw.embed(["warm-up: load the weights before timing"])
        raw_runs_s = [embed_raw(raw, texts, titles, EMBED_BATCH)]
        runs = []
        for repeat in range(args.repeat):
            index = RequirementIndex(Settings(home=Path(tmp) / f"home-{repeat}"))
            # --cold: the pipeline's embedder loads its weights inside the timing, as in a fresh `prepbot ingest`
            # (the worker always does: it is a new process)
            index.embedder = timed = TimedEmbedder(type(raw)(threads=raw.threads) if args.cold else raw)
            workers.clear()
            profiler = cProfile.Profile() if args.profile else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            report = ingest([str(postings_dir)], index, worker={"auto": None, "on": True, "off": False}[args.worker])
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            pipeline_s = time.perf_counter() - started
            raw_runs_s.append(embed_raw(raw, texts, titles, EMBED_BATCH))
            if report.errors:
                sys.exit(f"ingest failed: {report.errors[0].message}")
            items = index.items.count()
            if items != len(texts) or report.count("added") != len(parsed):
                sys.exit(
                    f"the pipeline stored {items} items of {len(parsed)} postings; the raw run embedded {len(texts)}"
                )
            worker = workers[-1] if workers else None
            runs.append(
                {
                    "pipeline_s": pipeline_s,
                    "timed_s": timed.seconds,
                    "worker": worker,
                    "raw_s": (raw_runs_s[-2] + raw_runs_s[-1]) / 2,  # the bare embedder just before and just after
                }
            )
            runs[-1]["ratio"] = runs[-1]["raw_s"] / pipeline_s

    ratios = [run["ratio"] for run in runs]
    middle = sorted(runs, key=lambda run: run["ratio"])[len(runs) // 2]  # the median run (upper, for an even count)
    pipeline_s, raw_s, worker = middle["pipeline_s"], middle["raw_s"], middle["worker"]
    worker_used = worker is not None and (worker.busy_s > 0 or worker.failure is not None)
    sentences = len(texts) + len(titles)
    result = {
        "postings": args.postings,
        "items": len(texts),
        "repeat": args.repeat,
        "pipeline_s": round(pipeline_s, 2),
        "pipeline_items_per_s": round(len(texts) / pipeline_s, 1),
        "embed_in_pipeline_s": round(middle["timed_s"] + (worker.busy_s if worker else 0.0), 2),
        "worker": worker_used,
        "worker_load_s": round(worker.load_s, 2) if worker and worker.load_s is not None else None,
        "worker_failure": worker.failure if worker else None,
        "taken_back_s": round(worker.stolen_s, 2) if worker else None,
        "embedder_s": round(raw_s, 2),
        "embedder_runs_s": [round(x, 2) for x in raw_runs_s],
        "embedder_sentences_per_s": round(sentences / raw_s, 1),
        "embedder_threads": getattr(raw, "threads", None),
        "blas_threads_limited": importlib.util.find_spec("threadpoolctl") is not None,
        "ratio": round(middle["ratio"], 3),
        "ratios": [round(x, 3) for x in ratios],
        "cold": args.cold,
        "goal": 0.90,
        "cores": cores,
        "busy_cores_before": round(busy_before, 2),
        "loadavg_1m": [load_before, os.getloadavg()[0] if hasattr(os, "getloadavg") else None],
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
        verdict = "meets" if result["ratio"] >= result["goal"] else "misses"
        print(
            f"\nratio {result['ratio']:.2f} = embedder time / pipeline time on the same texts: "
            f"{verdict} the goal (>= {result['goal']:.2f})"
        )


if __name__ == "__main__":
    main()
