"""prepbot's local backend against bare llama-cpp-python: the same prompt, model, threads, n_ctx, n_batch,
max_tokens, temperature 0 and JSON schema, so the difference is what prepbot adds (langchain, budgeting, logging).

    python bench/llm.py [--model default|fast] [--threads N] [--runs 3] [--json]

Runs alternate between the two (the order flips every round) and both KV caches are cleared before each
run, so every run evaluates the whole prompt. Prompt tok/s = prompt tokens / time to the first token;
generation tok/s = tokens after the first / time from the first token to the last. Medians are reported;
"ratio" is prepbot's generation tok/s over the bare engine's (goal: at least 0.95).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from engine import bare_llama

from prepbot.config import get_settings
from prepbot.llm import choose_threads, get_llm
from prepbot.llm.backends.local.threads import use_passive_openmp
from prepbot.prompts import load_prompt

VARIABLES = {
    "role": "Senior Machine Learning Engineer",
    "requirement": "Experience in common machine learning frameworks (scikit-learn, transformers, onnx, PyTorch)",
    "section": "requirement",
    "language": "en",
    "kind": "technical",
    "difficulty": "medium",
}


def timed(run: Callable[[Callable[[str], None]], tuple[int, str]], prompt_tokens: int) -> dict:
    """Time one streamed run; ``run`` takes the token callback and returns (completion tokens, text)."""
    stamps: list[float] = []
    started = time.perf_counter()
    completion_tokens, text = run(lambda piece: stamps.append(time.perf_counter()))
    ended = time.perf_counter()
    first, last = stamps[0], stamps[-1]
    return {
        "prompt_tps": prompt_tokens / (first - started),
        "gen_tps": (len(stamps) - 1) / (last - first),
        "completion_tokens": completion_tokens,
        "latency_s": ended - started,
        "text": text,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="default | fast | a GGUF path")
    parser.add_argument("--threads", type=int, default=None, help="default: as prepbot would choose")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    use_passive_openmp()  # as prepbot loads it, for both engines
    settings = get_settings(model=args.model, cache=False)
    threads = args.threads or choose_threads(settings)
    settings = settings.with_overrides(threads=threads)

    started = time.perf_counter()
    llm = get_llm(settings)
    prepbot_load_s = time.perf_counter() - started
    prompt = load_prompt("question@v1", settings)
    max_tokens = prompt.spec.max_tokens
    messages = [m.model_dump() for m in prompt.render(VARIABLES)]
    schema = prompt.output_schema()
    prompt_tokens = llm.backend.count_messages(prompt.render(VARIABLES))

    started = time.perf_counter()
    # The same engine configuration as prepbot's, n_batch included: prompts split into different batches
    # round differently, and greedy decoding can then take another path, which would compare unlike work.
    bare = bare_llama(args.model, settings, threads)
    bare_load_s = time.perf_counter() - started

    def run_prepbot(on_token: Callable[[str], None]) -> tuple[int, str]:
        llm.backend.chat_model.llama.reset()
        generation = llm.generate("question@v1", VARIABLES, stream=on_token, no_cache=True)
        return generation.completion_tokens, generation.text

    def run_bare(on_token: Callable[[str], None]) -> tuple[int, str]:
        bare.reset()
        pieces = []
        for chunk in bare.create_chat_completion(
            messages=messages,
            response_format={"type": "json_object", "schema": schema},
            temperature=0,
            max_tokens=max_tokens,
            stream=True,
        ):
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                on_token(piece)
                pieces.append(piece)
        return len(pieces), "".join(pieces)

    results: dict[str, list[dict]] = {"prepbot": [], "bare": []}
    for round_number in range(args.runs):
        order = ["bare", "prepbot"] if round_number % 2 == 0 else ["prepbot", "bare"]
        for name in order:
            results[name].append(timed(run_prepbot if name == "prepbot" else run_bare, prompt_tokens))

    def median(name: str, key: str) -> float:
        return round(statistics.median(r[key] for r in results[name]), 2)

    report = {
        "model": args.model,
        "threads": threads,
        "n_ctx": settings.n_ctx,
        "max_tokens": max_tokens,
        "runs": args.runs,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": results["prepbot"][0]["completion_tokens"],
        "same_output": all(r["text"] == results["bare"][0]["text"] for r in results["prepbot"] + results["bare"]),
        "load_s": {"prepbot": round(prepbot_load_s, 2), "bare": round(bare_load_s, 2)},
        "prompt_tps": {"prepbot": median("prepbot", "prompt_tps"), "bare": median("bare", "prompt_tps")},
        "gen_tps": {"prepbot": median("prepbot", "gen_tps"), "bare": median("bare", "gen_tps")},
        "latency_s": {"prepbot": median("prepbot", "latency_s"), "bare": median("bare", "latency_s")},
    }
    report["ratio"] = round(report["gen_tps"]["prepbot"] / report["gen_tps"]["bare"], 3)
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"model {args.model}, {threads} threads, n_ctx {settings.n_ctx}, {prompt_tokens} prompt tokens, "
        f"{report['completion_tokens']} generated, {args.runs} runs each (medians)"
    )
    for name in ("bare", "prepbot"):
        print(
            f"  {name:8} load {report['load_s'][name]:5.2f} s   prompt {report['prompt_tps'][name]:6.1f} tok/s   "
            f"generation {report['gen_tps'][name]:5.1f} tok/s   latency {report['latency_s'][name]:5.2f} s"
        )
    print(f"  generation ratio prepbot/bare: {report['ratio']:.3f}   same output: {report['same_output']}")


if __name__ == "__main__":
    main()
