"""`prepbot fit` on the local model: seconds for one CV's fit map against one posting, and the same model
calls on the bare engine.

    python bench/fit.py [--model default|fast] [--repeat 3] [--cv evals/cvs/en-data-engineer-taipei.md]
                        [--posting seeds/job-postings.md] [--title "Senior Data Engineer"] [--json]

The posting file is ingested into a temporary home and the CV added; then ``prepbot.cv.fit.fit`` runs
``--repeat`` times with the cache off (the model loaded once, before the clock starts, as in a session that
has it loaded; the first run's load time is reported apart). Then bare llama-cpp-python (same model file,
threads, n_ctx, n_batch) replays the very messages prepbot sent, with the same one-token, top-logprobs
requests (the engine's own top-k needs logits_all, which slows it, so it is not asked), in the same order. "ratio" is the bare engine's seconds over prepbot's on those calls: 1.0 means
prepbot adds nothing to the engine's time; the rest of a fit (retrieval, embedding, the store) is reported
as overhead. The goal for the default model on 2 cores: a fit map in <= 60 s (median).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from engine import bare_llama

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="default | fast | a GGUF path")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cv", default="evals/cvs/en-data-engineer-taipei.md")
    parser.add_argument("--posting", default="seeds/job-postings.md")
    parser.add_argument("--title", default="Senior Data Engineer", help="a words of the posting's title")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    os.environ["PREPBOT_HOME"] = tempfile.mkdtemp(prefix="prepbot-bench-fit-")
    from prepbot.config import get_settings
    from prepbot.cv import fit as fits
    from prepbot.cv import parse_cv, read_cv
    from prepbot.cv.store import CVStore
    from prepbot.ingest import ingest
    from prepbot.llm import choose_threads, get_llm
    from prepbot.retrieval.index import RequirementIndex

    settings = get_settings(model=args.model, cache=False)
    threads = choose_threads(settings)
    settings = settings.with_overrides(threads=threads)
    index = RequirementIndex(settings)
    ingest([str(ROOT / args.posting)], index)
    posting = next(s for s in index.list_postings() if args.title in s.title)
    cv = parse_cv(read_cv(ROOT / args.cv), str(ROOT / args.cv))
    CVStore(index).add(cv)
    began = time.perf_counter()
    llm = get_llm(settings)
    llm.backend.chat_model.llama  # noqa: B018  load the model before the clock starts
    load_s = time.perf_counter() - began
    load = os.getloadavg()[0]

    runs, calls = [], []
    generate = llm.generate
    for _ in range(args.repeat):
        recorded: list = []

        def recording(*a, _kept=recorded, **k):  # type: ignore[no-untyped-def]
            generation = generate(*a, **k)
            _kept.append(generation)
            return generation

        llm.generate = recording  # type: ignore[method-assign]
        started = time.perf_counter()
        fit_map = fits.fit(settings, posting_id=posting.id, cv_id=cv.id, index=index, llm=llm, no_cache=True)
        runs.append({"fit_s": time.perf_counter() - started, "llm_s": sum(g.latency_s for g in recorded)})
        calls = [g.messages for g in recorded]
    llm.generate = generate  # type: ignore[method-assign]

    llm.backend.chat_model.llama.reset()
    bare = bare_llama(args.model, settings, threads)
    started = time.perf_counter()
    for messages in calls:
        bare.create_chat_completion(
            messages=[m.model_dump() for m in messages], temperature=0, max_tokens=1
        )  # the engine reports no top tokens without logits_all (a slower model); prepbot reads them itself
    bare_s = time.perf_counter() - started

    fit_s = statistics.median(r["fit_s"] for r in runs)
    llm_s = statistics.median(r["llm_s"] for r in runs)
    verdicts = {v: sum(1 for item in fit_map.items if item.verdict == v) for v in ("covered", "partly", "not_shown")}
    report = {
        "model": args.model,
        "threads": threads,
        "posting": posting.title,
        "cv": cv.name,
        "items": len(fit_map.items),
        "calls": len(calls),
        "load_average": round(load, 2),
        "model_load_s": round(load_s, 2),
        "fit_s": {"median": round(fit_s, 2), "runs": [round(r["fit_s"], 2) for r in runs]},
        "llm_s_median": round(llm_s, 2),
        "bare_s": round(bare_s, 2),
        "ratio": round(bare_s / llm_s, 3) if llm_s else None,
        "overhead_s": round(fit_s - llm_s, 2),
        "verdicts": verdicts,
        "coverage": fit_map.coverage,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    print(f"fit on {args.model}, {threads} threads: {cv.name} x {posting.title} ({len(fit_map.items)} items)")
    print(f"  fit map      median {fit_s:6.2f} s over {len(runs)} runs {report['fit_s']['runs']} (goal <= 60 s)")
    print(
        f"  model calls  {len(calls)} per map: prepbot {llm_s:.2f} s, bare engine {bare_s:.2f} s, ratio {report['ratio']}"
    )
    print(f"  overhead     {report['overhead_s']:.2f} s (retrieval, embedder, store); model load {load_s:.2f} s")
    print(f"  verdicts     {verdicts}; load average {load:.2f}")


if __name__ == "__main__":
    main()
