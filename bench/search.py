"""Search at scale: query latency, ingest speed, memory and disk of stores of 10k, 100k and 1M items.

    python bench/search.py [--sizes 10000,100000,1000000] [--ingest-up-to 100000] [--queries 300]
                           [--postings ../shared/postings] [--keep DIR] [--json]

The stores are made from the real postings in ../shared/postings: they are read by prepbot, and each is then
written out again many times as a Markdown posting, varied (its numbers and technologies changed, 10-30% of
its items left out, the rest shuffled, a place added to its title) so that no copy is a duplicate of another;
the copies keep the postings' mix of languages (en, zh-CN, zh-TW, ja).

- Up to --ingest-up-to items the store is built by `prepbot ingest` itself (files read and parsed, items
  embedded by the real embedder, written to chroma and the sparse index), and the bare embedder then embeds
  the same texts in the same batches: ingest ratio = bare embedder time / ingest time (1.0 = no overhead).
- Larger stores are built by writing the parsed copies to the index directly with pooled vectors: each item
  gets the embedding of its base posting's item plus a little noise (embedding a million texts would take the
  embedder ~25 minutes here), so the store's shape is the real one but its ingest is not timed.

Then a fresh process opens each store and runs --queries short queries (2-5 words or 4-8 CJK characters of a
stored item) twice: within one posting and across all postings. It times prepbot's search (query embedded,
dense and sparse rankings fused) and the bare dense query: the same query embedded and chroma's `query`
alone with the same filter and depth. ratio = prepbot / bare at p50 and p95. It prints peak memory of the
searching process and disk per 1,000 items (chroma plus the sparse index).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HEADINGS = {  # section -> heading, by the language of the posting
    "en": {
        "about": "About the role",
        "responsibility": "Responsibilities",
        "requirement": "Requirements",
        "nice_to_have": "Nice to have",
        "benefit": "Benefits",
    },
    "zh-Hant": {
        "about": "關於職位",
        "responsibility": "工作內容",
        "requirement": "任職要求",
        "nice_to_have": "加分條件",
        "benefit": "福利",
    },
    "zh-Hans": {
        "about": "职位介绍",
        "responsibility": "岗位职责",
        "requirement": "任职要求",
        "nice_to_have": "加分项",
        "benefit": "福利待遇",
    },
    "ja": {
        "about": "ポジション概要",
        "responsibility": "業務内容",
        "requirement": "必須スキル",
        "nice_to_have": "歓迎スキル",
        "benefit": "待遇・福利厚生",
    },
}
PLACES = ["Taipei", "Tokyo", "Osaka", "Shanghai", "Shenzhen", "London", "Berlin", "Remote", "Hsinchu", "Fukuoka"]
TECH = [
    "Python", "Go", "Rust", "Java", "Kotlin", "TypeScript", "React", "Kafka", "Spark", "Flink", "Airflow", "dbt",
    "BigQuery", "Snowflake", "PostgreSQL", "MySQL", "Redis", "Kubernetes", "Docker", "Terraform", "AWS", "GCP",
    "Azure", "PyTorch", "TensorFlow", "Figma", "Salesforce", "HubSpot", "Tableau", "Looker",
]  # fmt: skip
_TECH = re.compile(r"\b(" + "|".join(re.escape(t) for t in TECH) + r")\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def base_postings(source: Path, home: Path) -> list:
    """The real postings as prepbot reads them (a throwaway store)."""
    from prepbot.config import Settings
    from prepbot.ingest import ingest
    from prepbot.retrieval.index import RequirementIndex

    index = RequirementIndex(Settings(home=home))
    files = sorted(str(p) for p in source.iterdir() if p.suffix in (".md", ".html", ".txt"))
    ingest(files, index, worker=False)
    return [index.get_posting(s.id) for s in index.list_postings()]


def vary(text: str, rng: random.Random) -> str:
    text = _NUMBER.sub(lambda m: str(rng.randint(1, 12)) if len(m.group()) < 3 else m.group(), text)
    return _TECH.sub(lambda m: rng.choice(TECH) if rng.random() < 0.5 else m.group(), text)


def varied_copy(posting, copy: int, rng: random.Random) -> tuple[str, list[tuple[object, str]]]:
    """A varied copy of a posting as Markdown, and its items (base item, varied text)."""
    headings = HEADINGS.get(posting.language, HEADINGS["en"])
    lines = [f"# {posting.title} ({rng.choice(PLACES)} {copy})", ""]
    kept: list[tuple[object, str]] = []
    for section, heading in headings.items():
        items = [item for item in posting.requirements if item.section == section]
        if not items:
            continue
        rng.shuffle(items)
        items = items[: max(1, round(len(items) * rng.uniform(0.7, 0.9)))] if len(items) > 2 else items
        lines += [f"## {heading}", ""]
        for item in items:
            text = vary(item.text, rng).replace("\n", " ")
            lines.append(f"- {text}")
            kept.append((item, text))
        lines.append("")
    return "\n".join(lines), kept


def write_copies(bases: list, items: int, folder: Path, rng: random.Random) -> int:
    """Markdown copies of the base postings, round-robin (the language mix kept), about ``items`` items."""
    folder.mkdir(parents=True)
    written, copy = 0, 0
    while written < items:
        posting = bases[copy % len(bases)]
        text, kept = varied_copy(posting, copy, rng)
        (folder / f"copy-{copy:07d}.md").write_text(text, encoding="utf-8")
        written += len(kept)
        copy += 1
    return copy


def build_by_ingest(folder: Path, home: Path) -> dict:
    """`prepbot ingest` of the copies, then the bare embedder on the same texts in the same batches."""
    from prepbot.config import Settings
    from prepbot.ingest import ingest
    from prepbot.retrieval.index import EMBED_BATCH, RequirementIndex, embedded_text

    index = RequirementIndex(Settings(home=home))
    started = time.perf_counter()
    report = ingest([str(folder)], index)
    ingest_s = time.perf_counter() - started
    if report.errors:
        sys.exit(f"ingest failed: {report.errors[0].file}: {report.errors[0].message}")
    postings = [index.get_posting(s.id) for s in index.list_postings()]
    texts = [embedded_text(item) for posting in postings for item in posting.requirements]
    titles = [posting.title for posting in postings]
    bare = type(index.embedder)(threads=index.embedder.threads)
    bare.embed(["warm-up: load the weights before timing"])
    started = time.perf_counter()
    for start in range(0, len(texts), EMBED_BATCH):
        bare.embed(texts[start : start + EMBED_BATCH])
    for start in range(0, len(titles), EMBED_BATCH):
        bare.embed(titles[start : start + EMBED_BATCH])
    bare_s = time.perf_counter() - started
    return {
        "built_by": "ingest",
        "postings": len(postings),
        "items": len(texts),
        "duplicates_skipped": report.count("duplicate"),
        "ingest_s": round(ingest_s, 1),
        "ingest_items_per_s": round(len(texts) / ingest_s, 1),
        "bare_embedder_s": round(bare_s, 1),
        "bare_embedder_items_per_s": round(len(texts) / bare_s, 1),
        "ingest_ratio": round(bare_s / ingest_s, 3),
        "build_peak_rss_mb": round(_peak_rss_mb(children=True), 1),
    }


def build_pooled(bases: list, items: int, home: Path, rng: random.Random) -> dict:
    """The copies parsed and written to the index directly, each item with its base item's vector + noise."""
    import numpy as np

    from prepbot.config import Settings
    from prepbot.postings import parse_document
    from prepbot.postings.readers import Document
    from prepbot.retrieval.index import RequirementIndex, embedded_text

    index = RequirementIndex(Settings(home=home))
    base_items = [item for posting in bases for item in posting.requirements]
    vectors = np.asarray(index.embedder.embed([embedded_text(i) for i in base_items]), dtype=np.float32)
    titles = np.asarray(index.embedder.embed([p.title for p in bases]), dtype=np.float32)
    pool = {id(item): vectors[k] for k, item in enumerate(base_items)}
    by_title = {p.title: titles[k] for k, p in enumerate(bases)}
    noise = np.random.default_rng(rng.randrange(2**32))
    written, copy, postings_written = 0, 0, 0
    started = time.perf_counter()
    while written < items:
        batch, lookup = [], {}
        while len(batch) < 200 and written < items:
            base = bases[copy % len(bases)]
            text, kept = varied_copy(base, copy, rng)
            document = Document(source=f"/bench/copy-{copy:07d}.md", text=text)
            for posting in parse_document(document, classifier=None).postings:
                batch.append(posting)
                lookup[posting.title] = by_title[base.title]
                for item, varied in kept:
                    lookup.setdefault(varied, pool[id(item)])
                written += len(posting.requirements)
            copy += 1

        def pooled(texts: list[str], lookup=lookup) -> list:
            base = np.stack([_pooled_vector(lookup, text, vectors, rng) for text in texts])
            noisy = base + noise.normal(0.0, 0.02, base.shape).astype(np.float32)
            return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).tolist()

        index.add_postings(batch, embed=pooled)
        postings_written += len(batch)
    return {
        "built_by": "pooled vectors",
        "postings": postings_written,
        "items": index.items.count(),
        "build_s": round(time.perf_counter() - started, 1),
        "build_peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def _pooled_vector(lookup: dict, text: str, vectors, rng: random.Random):
    vector = lookup.get(text.split("\n", 1)[0])
    return vector if vector is not None else vectors[rng.randrange(len(vectors))]


def make_queries(home: Path, count: int, rng: random.Random) -> list[dict]:
    """Short queries cut from stored items, each with the posting it came from."""
    from prepbot.config import Settings
    from prepbot.retrieval.index import RequirementIndex

    index = RequirementIndex(Settings(home=home))
    summaries = index.list_postings()
    queries = []
    while len(queries) < count:
        posting = index.get_posting(rng.choice(summaries).id)
        item = rng.choice(posting.requirements)
        if _CJK.search(item.text):
            chars = re.sub(r"\s+", "", item.text)
            width = rng.randint(4, 8)
            at = rng.randrange(max(1, len(chars) - width))
            query = chars[at : at + width]
        else:
            words = item.text.split()
            width = rng.randint(2, 5)
            at = rng.randrange(max(1, len(words) - width))
            query = " ".join(words[at : at + width])
        if query.strip():
            queries.append({"query": query[:100], "posting_id": posting.id, "language": posting.language})
    return queries


def measure(home: Path, queries: list[dict]) -> dict:
    """In a fresh process: open the store, warm up, then time prepbot's search and the bare dense query."""
    from prepbot.config import Settings
    from prepbot.retrieval.index import RequirementIndex

    started = time.perf_counter()
    index = RequirementIndex(Settings(home=home))
    open_s = time.perf_counter() - started
    for q in queries[:10]:
        index.search(q["query"], k=5)
        index.search(q["query"], posting_id=q["posting_id"], k=5)
    result = {"open_s": round(open_s, 2)}
    for scope in ("within_posting", "across_all"):
        timings = {"prepbot": [], "bare_dense": [], "embed": []}
        for q in queries:
            posting_id = q["posting_id"] if scope == "within_posting" else None
            where = {"posting_id": posting_id} if posting_id else None
            t0 = time.perf_counter()
            index.search(q["query"], posting_id=posting_id, k=5)
            t1 = time.perf_counter()
            vector = index.embedder.embed([q["query"]])
            t2 = time.perf_counter()
            depth = min(20, index.sparse.size(posting_id=posting_id))
            index.items.query(query_embeddings=vector, n_results=depth, where=where, include=[])
            t3 = time.perf_counter()
            timings["prepbot"].append(t1 - t0)
            timings["bare_dense"].append(t3 - t1)
            timings["embed"].append(t2 - t1)
        figures = {name: _percentiles(values) for name, values in timings.items()}
        figures["ratio_p50"] = round(figures["prepbot"]["p50_ms"] / figures["bare_dense"]["p50_ms"], 3)
        figures["ratio_p95"] = round(figures["prepbot"]["p95_ms"] / figures["bare_dense"]["p95_ms"], 3)
        result[scope] = figures
    result["search_peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return result


def _percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(p95 * 1000, 2)}


def _peak_rss_mb(children: bool = False) -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if children:
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return peak / 1024


def _disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="store sizes in items, comma-separated")
    parser.add_argument("--ingest-up-to", type=int, default=100_000, help="stores up to this size are built by ingest")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--postings", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "postings"))
    parser.add_argument("--keep", metavar="DIR", help="build the stores here and keep them (reused when present)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--measure", metavar="HOME", help=argparse.SUPPRESS)  # the fresh searching process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), json.loads(sys.stdin.read()))))
        return
    rng = random.Random(args.seed)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="prepbot-bench-search-"))
    root.mkdir(parents=True, exist_ok=True)
    bases = base_postings(Path(args.postings), root / "base")
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        home = root / f"store-{size}"
        built_file = home / "built.json"
        if built_file.exists():
            built = json.loads(built_file.read_text())
        elif size <= args.ingest_up_to:
            write_copies(bases, size, root / f"files-{size}", rng)
            built = _in_child(["--build-ingest", str(root / f"files-{size}"), str(home)])
        else:
            built = build_pooled(bases, size, home, rng)
        built_file.write_text(json.dumps(built))
        queries = make_queries(home, args.queries, random.Random(args.seed + size))
        measured = subprocess.run(
            [sys.executable, __file__, "--measure", str(home)],
            input=json.dumps(queries),
            capture_output=True,
            text=True,
            check=True,
        )
        figures = {"size": size, **built, **json.loads(measured.stdout)}
        figures["disk_mb_per_1k_items"] = round(_disk_mb(home) / built["items"] * 1000, 2)
        figures["languages"] = dict(sorted(Counter(q["language"] for q in queries).items()))
        results.append(figures)
        if not args.json:
            _print(figures)
    if args.json:
        print(json.dumps({"cores": os.cpu_count(), "results": results}))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


def _in_child(argv: list[str]) -> dict:
    """An ingest-built store is built in a child process, so its timing and memory are its own."""
    done = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "the build failed")
    return json.loads(done.stdout)


def _print(figures: dict) -> None:
    print(f"\n== {figures['size']:,} items ({figures['built_by']}) ==")
    for key, value in figures.items():
        if key in ("within_posting", "across_all"):
            print(f"{key:28} prepbot p50 {value['prepbot']['p50_ms']} ms, p95 {value['prepbot']['p95_ms']} ms; "
                  f"bare dense p50 {value['bare_dense']['p50_ms']} ms, p95 {value['bare_dense']['p95_ms']} ms; "
                  f"ratio p50 {value['ratio_p50']}, p95 {value['ratio_p95']}; "
                  f"query embedding p50 {value['embed']['p50_ms']} ms")  # fmt: skip
        else:
            print(f"{key:28} {value}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--build-ingest":
        print(json.dumps(build_by_ingest(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        main()
