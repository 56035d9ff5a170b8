"""Schema-constrained sampling that checks the likeliest candidates first (prepbot.llm.backends.local.grammar), on the real fast
model: the same greedy replies as llama-cpp-python's own sampler, valid JSON when sampled, logits processors
still seeing the model's own logits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prepbot.config import get_settings
from prepbot.llm.backends.local.models import resolve_model
from prepbot.llm.backends.local.threads import use_passive_openmp
from prepbot.prompts import load_prompt

pytestmark = pytest.mark.e2e

REQUIREMENTS = [
    "Experience with Kafka, Spark Streaming or Apache Flink",
    "熟悉 PostgreSQL、BigQuery 等資料庫",
    "Pythonを用いた機械学習モデルの開発経験3年以上",
]


def _messages(requirement: str, language: str = "en") -> list[dict]:
    variables = {
        "role": "Data Engineer",
        "requirement": requirement,
        "section": "requirement",
        "language": language,
        "kind": "technical",
        "difficulty": "medium",
    }
    return [m.model_dump() for m in load_prompt("question@v2").render(variables)]


@pytest.fixture(scope="module")
def engines():
    use_passive_openmp()  # as prepbot loads the library
    from llama_cpp import Llama

    from prepbot.llm.backends.local.grammar import GrammarLlama

    path = str(resolve_model("fast", get_settings()))
    options = {"model_path": path, "n_ctx": 2048, "n_threads": 2, "n_batch": 128, "verbose": False}
    return Llama(**options), GrammarLlama(**options)


def test_greedy_replies_are_those_of_llama_cpp_pythons_sampler(engines):
    stock, fast = engines
    schema = load_prompt("question@v2").output_schema()
    for requirement in REQUIREMENTS:
        replies = [
            engine.create_chat_completion(
                messages=_messages(requirement),
                temperature=0,
                max_tokens=160,
                response_format={"type": "json_object", "schema": schema},
            )
            for engine in (stock, fast)
        ]
        assert replies[0]["choices"][0]["message"]["content"] == replies[1]["choices"][0]["message"]["content"]
    assert fast.last_grammar.steps > 20 and fast.last_grammar.full_checks < fast.last_grammar.steps / 4


def test_sampled_replies_are_schema_valid_and_processors_see_the_models_own_logits(engines):
    _, fast = engines
    seen: list[int] = []

    def count_finite(input_ids, scores):
        seen.append(int(np.isfinite(scores).sum()))
        return scores

    schema = load_prompt("question@v2").output_schema()
    for seed in (1, 2):
        reply = fast.create_chat_completion(
            messages=_messages(REQUIREMENTS[0], "ja"),
            temperature=0.8,
            seed=seed,
            max_tokens=300,
            logits_processor=[count_finite],
            response_format={"type": "json_object", "schema": schema},
        )
        draft = json.loads(reply["choices"][0]["message"]["content"])
        assert draft["text"] and 3 <= len(draft["rubric"]) <= 5
    assert seen and min(seen) == fast.n_vocab()  # nothing masked before the processors ran
