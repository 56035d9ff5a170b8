"""The interview grader on the local model: time to the first streamed token, to the score and to the full
grade, and generation speed against the bare engine on the very same prompts.

    python bench/grade.py [--model default|fast] [--threads N] [--cases 12] [--no-prewarm] [--json]

A fixed set of answers (every k-th case of evals/grading.jsonl, so all four languages and all grades are in
it) is graded through ``prepbot.grading.grade_answer`` with the cache off, one after another as in a session,
against the eval postings ingested into a temporary home. Then bare llama-cpp-python (same model file,
threads, n_ctx, n_batch, schema, max_tokens, temperature) runs the same rendered prompts in the same order.
As in `prepbot chat`, the grade prompt is prewarmed while the candidate would be typing: the part before the
answer is evaluated in the background once the question is known, and the clock starts when the answer is
sent ("after Enter"); the bench waits for the prewarm to finish first (typing an answer takes longer than that)
and reports how long it took. ``--no-prewarm`` times a cold grade instead, as ``prepbot grade`` runs it.
Medians and p95 are printed; "ratio" is prepbot's generation tok/s over the bare engine's, on the feedback
part (the score is a handful of tokens), the bare engine replaying the very messages prepbot sent. The goals for the
default model on 2 cores: first token <= 4 s, score <= 6 s (medians).
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="default | fast | a GGUF path")
    parser.add_argument("--threads", type=int, default=None, help="default: as prepbot would choose")
    parser.add_argument("--cases", type=int, default=12, help="how many graded answers")
    parser.add_argument(
        "--no-prewarm",
        dest="prewarm",
        action="store_false",
        help="no prewarm while the answer is typed: time a cold grade (as `prepbot grade`)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="prepbot-bench-grade-")
    os.environ["PREPBOT_HOME"] = home
    from prepbot.config import get_settings
    from prepbot.grading import PROMPT, grade_answer, prewarm
    from prepbot.ingest import ingest
    from prepbot.llm import choose_threads, get_llm
    from prepbot.prompts import load_prompt
    from prepbot.retrieval.index import RequirementIndex

    settings = get_settings(model=args.model, cache=False)
    threads = args.threads or choose_threads(settings)
    settings = settings.with_overrides(threads=threads)
    index = RequirementIndex(settings)
    ingest([str(ROOT / "evals/postings"), str(ROOT / "seeds")], index)
    by_file = {Path(s.source.split("#")[0]).name: s.id for s in index.list_postings()}
    rows = [json.loads(line) for line in (ROOT / "evals/grading.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if Path(r["posting_file"]).name in by_file]
    step = max(1, len(rows) // args.cases)
    cases = rows[::step][: args.cases]
    load = os.getloadavg()[0]

    llm = get_llm(settings)
    calls, measured = [], []
    for case in cases:
        stamps: list[float] = []
        posting_id = by_file[Path(case["posting_file"]).name]
        prewarm_s = None
        if args.prewarm:  # the question is on screen; the candidate types for longer than this takes
            began = time.perf_counter()
            handle = prewarm(
                settings, llm, index, question=case["question"], requirement_id=None, posting_id=posting_id
            )
            if handle is not None:
                handle.thread.join()
            prewarm_s = time.perf_counter() - began
        started = time.perf_counter()  # Enter
        grade = grade_answer(
            settings,
            question=case["question"],
            answer=case["answer"],
            posting_id=posting_id,
            index=index,
            llm=llm,
            no_cache=True,
            on_token=lambda piece: stamps.append(time.perf_counter()),  # noqa: B023  called during this iteration only
        )
        if not grade.generations:
            continue  # too short to need the model
        # Generation speed over the feedback (the score is a handful of tokens): its tokens after the first.
        feedback = stamps[grade.generations[0].completion_tokens or 0 :]
        measured.append(
            {
                "id": case["id"],
                "label": case["label"],
                "score": grade.score,
                "prewarm_s": prewarm_s,
                "first_token_s": stamps[0] - started,
                "score_s": grade.score_latency_s,
                "grade_s": grade.latency_s,
                "prompt_tokens": sum(g.prompt_tokens or 0 for g in grade.generations),
                "completion_tokens": sum(g.completion_tokens or 0 for g in grade.generations),
                "gen_tps": (len(feedback) - 1) / (feedback[-1] - feedback[0]) if len(feedback) > 1 else 0.0,
            }
        )
        calls.append([(g.messages, g.prompt) for g in grade.generations])

    llm.backend.chat_model.llama.reset()
    bare = bare_llama(args.model, settings, threads)
    bare_rates = []
    for case_calls in calls:  # the very messages prepbot sent, in order, so prefix reuse is the same
        for position, (messages, ref) in enumerate(case_calls):
            prompt = load_prompt(ref, settings)
            stamps = []
            for chunk in bare.create_chat_completion(
                messages=[m.model_dump() for m in messages],
                temperature=0,
                stream=True,
                **(
                    {"response_format": {"type": "json_object", "schema": schema}}
                    if (schema := prompt.output_schema())
                    else {}
                ),
                max_tokens=prompt.spec.max_tokens,
            ):
                if chunk["choices"][0]["delta"].get("content"):
                    stamps.append(time.perf_counter())
            if position == len(case_calls) - 1 and len(stamps) > 1:
                bare_rates.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    prompt = load_prompt(PROMPT, settings)

    def stat(key: str) -> dict[str, float]:
        values = [m[key] for m in measured]
        return {"median": round(statistics.median(values), 2), "p95": round(percentile(values, 0.95), 2)}

    report = {
        "model": args.model,
        "threads": threads,
        "cases": len(measured),
        "load_average": round(load, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "prompt": prompt.ref,
        "prewarm": args.prewarm,
        "first_token_s": stat("first_token_s"),
        "score_s": stat("score_s"),
        "grade_s": stat("grade_s"),
        **({"prewarm_s": stat("prewarm_s")} if args.prewarm else {}),
        "prompt_tokens_median": statistics.median(m["prompt_tokens"] for m in measured),
        "completion_tokens_median": statistics.median(m["completion_tokens"] for m in measured),
        "gen_tps": {
            "prepbot": round(statistics.median(m["gen_tps"] for m in measured), 2),
            "bare": round(statistics.median(bare_rates), 2),
        },
        "mean_abs_error": round(statistics.mean(abs(m["score"] - m["label"]) for m in measured), 2),
        "scores": {m["id"]: [m["label"], m["score"]] for m in measured},
    }
    report["ratio"] = round(report["gen_tps"]["prepbot"] / report["gen_tps"]["bare"], 3)
    if args.json:
        print(json.dumps(report))
        return
    when = "after Enter, the prompt prewarmed while typing" if args.prewarm else "cold, no prewarm"
    print(f"{prompt.ref} on {args.model}, {threads} threads, {len(measured)} answers ({when}), load average {load:.2f}")
    timed = (("first_token_s", "first token"), ("score_s", "score"), ("grade_s", "full grade"))
    for key, label in timed + ((("prewarm_s", "prewarm"),) if args.prewarm else ()):
        print(f"  {label:12} median {report[key]['median']:6.2f} s   p95 {report[key]['p95']:6.2f} s")
    print(
        f"  generation   prepbot {report['gen_tps']['prepbot']:.1f} tok/s   bare {report['gen_tps']['bare']:.1f} tok/s"
        f"   ratio {report['ratio']:.3f}"
    )
    print(
        f"  tokens       prompt {report['prompt_tokens_median']} / generated {report['completion_tokens_median']} (medians);"
        f"   mean |score - label| {report['mean_abs_error']}"
    )


if __name__ == "__main__":
    main()
