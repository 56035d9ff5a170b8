"""Ingest throughput: the whole pipeline (read, parse, dedup, embed, write to chromadb) against the raw embedder.

    python bench/ingest.py [--postings 2000] [--json]

Writes N synthetic postings (English, Chinese and Japanese; ~10 items each) as Markdown files into a temp dir,
ingests them into a fresh temp store, then embeds exactly the same texts (items and titles) with the bare
embedder. Prints items/s for the pipeline, sentences/s for the embedder, and their ratio (1.0 = no overhead).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

SKILLS = [
    "Python", "Go", "Kafka", "Spark", "Flink", "Airflow", "dbt", "BigQuery", "PostgreSQL", "Redis", "Kubernetes",
    "Docker", "Terraform", "PyTorch", "TensorFlow", "ONNX", "FastAPI", "gRPC", "Elasticsearch", "Snowflake",
]
EN = {
    "title": ["Senior Data Engineer", "Machine Learning Engineer", "Backend Engineer", "MLOps Engineer", "Data Analyst"],
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
            lines.append(f"{i + 1}. " + rng.choice(lang["items"]).format(a=a, b=b, n=rng.randint(1, 9)) + f" ({k}-{head}-{i})")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postings", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()

    from prepbot.config import Settings
    from prepbot.embedders import get_embedder
    from prepbot.index import RequirementIndex
    from prepbot.ingest import ingest

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        postings_dir = Path(tmp) / "postings"
        postings_dir.mkdir()
        for k in range(args.postings):
            (postings_dir / f"posting-{k:05d}.md").write_text(synthetic_posting(k, rng), encoding="utf-8")

        index = RequirementIndex(Settings(home=Path(tmp) / "home"))
        embedder = index.embedder
        embedder.embed(["warm-up: load the weights before timing"])

        started = time.perf_counter()
        report = ingest([str(postings_dir)], index)
        pipeline_s = time.perf_counter() - started
        if report.errors:
            sys.exit(f"ingest failed: {report.errors[0].message}")

        texts = [item.text for p in report.postings for item in index.get_posting(p.posting_id).requirements]
        titles = [p.title for p in report.postings]
        items = len(texts)

        raw = get_embedder("use")
        started = time.perf_counter()
        batch = 256
        for start in range(0, len(texts), batch):
            raw.embed(texts[start : start + batch])
        raw.embed(titles)
        raw_s = time.perf_counter() - started

    result = {
        "postings": args.postings,
        "items": items,
        "pipeline_s": round(pipeline_s, 2),
        "pipeline_items_per_s": round(items / pipeline_s, 1),
        "embedder_s": round(raw_s, 2),
        "embedder_sentences_per_s": round((items + len(titles)) / raw_s, 1),
        "ratio": round(raw_s / pipeline_s, 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
        print("ratio = embedder time / pipeline time on the same texts (goal >= 0.90)")


if __name__ == "__main__":
    main()
