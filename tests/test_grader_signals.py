"""The grader's signals and their combination, in code: probabilities read from replies, the answer's shape,
the fitted combination and its held-out choice, quotes checked against the answer, the batch mode's lines."""

from __future__ import annotations

import math
import random

import pytest

from prepbot.grading.checks import score_digit, yes_probability
from prepbot.grading.combination import Combination, choose, cross_validate, findings, fit, spearman
from prepbot.grading.feedback import feedback_fields, in_answer, to_you
from prepbot.grading.models import QuotedFeedback
from prepbot.grading.shape import shape
from prepbot.interview.batch import read_batch
from prepbot.llm.generation import Generation, TokenLogprob


def generation(text: str, top: dict[str, float] | None = None) -> Generation:
    places = [TokenLogprob(token=text, top={k: math.log(v) for k, v in top.items()})] if top else None
    return Generation(
        output=text,
        text=text,
        prompt="grade@v3",
        backend="fake",
        model="fake-model",
        prompt_tokens=1,
        completion_tokens=1,
        latency_s=0.0,
        cost_usd=None,
        cached=False,
        logprobs=places,
    )


def test_yes_probability_is_read_from_the_alternatives_not_the_word_written():
    assert yes_probability(generation("yes", {"yes": 0.3, "Yes": 0.1, "no": 0.4, "maybe": 0.2})) == 0.5
    assert yes_probability(generation("はい", {"はい": 0.6, "いいえ": 0.2})) == 0.75
    assert yes_probability(generation("no")) == 0.0  # a backend without probabilities: the word itself
    assert yes_probability(generation("perhaps")) == 0.5


def test_the_score_digit_comes_from_a_bare_digit_or_a_server_models_wordier_reply():
    assert score_digit(generation("4")) == 4
    assert score_digit(generation('{"score": 2}')) == 2
    assert score_digit(generation("Score: 5/5")) == 5
    assert score_digit(generation("x", {"x": 0.5, "3": 0.3, "4": 0.2})) == 3
    with pytest.raises(Exception, match="score 1-5"):
        score_digit(generation("none"))


def test_shape_sees_lists_of_names_and_numbers_in_every_language():
    soup = "I know Kafka, Flink, Spark, Airflow, dbt, Snowflake and BigQuery, always with performance in mind."
    story = "I moved our nightly batch to Flink, which cut the lag from 40 minutes to 90 seconds for 3 teams."
    assert shape(soup)["enumeration"] > shape(story)["enumeration"]
    assert shape(story)["digits"] == 1.0 and shape(soup)["digits"] == 0.0
    assert shape("熟悉Kafka、Flink、Spark、Airflow、dbt")["enumeration"] > 0.5
    assert shape("")["enumeration"] == 0.0


def test_a_fit_recovers_a_linear_rule_and_holds_up_on_postings_it_did_not_see():
    rng = random.Random(0)
    rows = [{"expected": rng.uniform(1, 5), "how": rng.random(), "noise": rng.random()} for _ in range(200)]
    labels = [0.5 * r["expected"] + 2.0 * r["how"] + rng.gauss(0, 0.1) for r in rows]
    model = fit(rows, labels, ["expected", "how"])
    assert model.weights == pytest.approx([0.5, 2.0], abs=0.05)
    assert model.raw({"expected": 5.0, "how": 1.0}) == pytest.approx(4.5, abs=0.1)
    assert model.score({"expected": 1.0, "how": 0.0}) == 1 and model.score({"expected": 5.0, "how": 2.0}) == 5
    assert model.raw({"expected": 3.0}) == pytest.approx(model.raw({"expected": 3.0, "how": model.means[1]}))
    groups = [f"posting-{i % 20}" for i in range(200)]
    held_out = cross_validate(rows, labels, groups, ["expected", "how"])
    assert spearman(labels, held_out) > 0.95


def test_choose_keeps_the_feature_set_that_ranks_best_held_out():
    rng = random.Random(1)
    rows = []
    for _ in range(150):
        soup = rng.random() < 0.4
        rows.append(
            {"expected": rng.uniform(3.5, 5), "enumeration": rng.uniform(0.5, 1) if soup else rng.random() * 0.3}
        )
    labels = [2.0 if r["enumeration"] > 0.45 else 5.0 for r in rows]
    choice = choose(rows, labels, [str(i % 10) for i in range(150)])
    assert "enumeration" in choice.combination.features and choice.name != "expected"
    assert (choice.held_out[choice.name]["spearman"] or 0) > (choice.held_out["expected"]["spearman"] or 0)
    assert "checks" not in choice.held_out  # no answer had the checks: that set is left out, not fitted on zeros


def test_findings_name_what_pulled_the_score_down():
    model = Combination(features=["expected", "enumeration"], weights=[1.0, -3.0], intercept=0.0, means=[3.0, 0.3])
    assert findings(model, {"expected": 4.0, "enumeration": 0.9}) == [
        "the answer lists names (tools, terms) rather than saying what was done with them"
    ]
    assert findings(model, {"expected": 4.0, "enumeration": 0.2}) == []


ANSWER = "I added a composite index with CREATE INDEX CONCURRENTLY and checked the plan with EXPLAIN ANALYZE."


def test_a_claim_whose_quote_is_not_in_the_answer_is_dropped_and_counted():
    written = QuotedFeedback.model_validate(
        {
            "rubric": [
                {"point": "index", "met": True, "quote": "CREATE INDEX  CONCURRENTLY"},
                {"point": "plan", "met": True, "quote": "ran pg_stat_statements"},
                {"point": "rollback", "met": False, "quote": ""},
            ],
            "strengths": [
                {"text": "Concrete", "quote": "“checked the plan with EXPLAIN ANALYZE”"},
                {"text": "Measured the speed-up", "quote": "it got 10x faster"},
            ],
            "gaps": ["No rollback"],
            "better_answer": "Also say how to roll back.",
            "follow_up": "How would the candidate roll the index back?",
        }
    )
    fields = feedback_fields([], written, ANSWER)
    assert [m.met for m in fields["rubric"]] == [True, False, False]
    assert fields["rubric"][0].quote == "CREATE INDEX CONCURRENTLY"
    assert fields["strengths"] == ["Concrete"]
    assert fields["strength_quotes"] == ["checked the plan with EXPLAIN ANALYZE"]
    assert fields["unsupported_claims"] == 2
    assert fields["follow_up"] == "How would you roll the index back?"
    assert all(quote in ANSWER for quote in fields["strength_quotes"])


def test_a_stronger_answer_that_repeats_the_answer_is_dropped():
    from prepbot.grading.feedback import echoes

    assert echoes(ANSWER + " That is all.", ANSWER)
    assert not echoes("Say how you would roll the index back and how you watched the lock waits.", ANSWER)
    assert echoes("我加了复合索引并用执行计划检查", "我加了复合索引并用执行计划检查了一遍")


def test_quotes_and_the_second_person():
    assert in_answer("「索引」", "我加了索引") == "索引"
    assert in_answer("x", ANSWER) is None  # too short to show anything
    assert to_you("What would the candidate's first step be?") == "What would your first step be?"
    assert to_you("候选人如何处理回滚？") == "你如何处理回滚？"


def test_a_batch_file_reads_every_line_and_says_which_are_not_answers():
    rows = read_batch('{"question": "Q?", "answer": "A", "posting": "p1", "id": "a"}\n\nnot json\n{"answer": "A"}\n')
    assert [row_id for row_id, _ in rows] == ["a", "3", "4"]
    assert rows[1][1] == "line 3 is not valid JSON"
    assert "question" in str(rows[2][1])


def test_the_grading_eval_reads_every_kind_of_the_shared_answers_beside_the_jsonl():
    from pathlib import Path

    from prepbot.evals.config import SuiteConfig
    from prepbot.evals.runner import load_datasets
    from prepbot.evals.suite import SUITES

    root = Path(__file__).resolve().parents[1]
    shared = root.parent / "shared" / "postings"
    if not shared.is_dir():
        pytest.skip("../shared/postings is not beside the checkout")
    suite = SUITES["grading"]
    form, cases, _ = load_datasets(suite, SuiteConfig(dataset=["../shared/postings", "evals/grading.jsonl"]), root)
    kinds = {getattr(case, "level", None) or getattr(case, "kind", None) for case in cases}
    assert {"strong", "partial", "weak", "drift", "keyword_soup", "terse_correct", "misconception"} <= kinds
    assert len(cases) > 400 and form.metric("spearman_spw") and form.metric("unsupported_claims")
    with pytest.raises(Exception, match="cannot mix"):
        load_datasets(SUITES["retrieval"], SuiteConfig(dataset=["../shared/postings", "evals/retrieval.jsonl"]), root)


def test_grade_answers_scores_a_file_with_one_json_line_each(fake_llm, fake_chat, tmp_path):
    import json

    from prepbot.config import get_settings
    from prepbot.retrieval.index import RequirementIndex
    from tests.helpers import run_cli
    from tests.test_grading import ANSWER, KAFKA, checks_replies
    from tests.test_questions import DATA

    RequirementIndex(get_settings()).add_postings([DATA])
    lines = [
        {
            "id": "one",
            "question": "How would you keep Kafka consumer lag low?",
            "answer": ANSWER,
            "posting": DATA.id,
            "requirement": KAFKA,
        },
        {"id": "two", "question": "Q?", "answer": ANSWER, "posting": "no-such-posting"},
    ]
    answers = tmp_path / "answers.jsonl"
    answers.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    fake_chat.enqueue("4", *checks_replies())  # the score alone: no feedback call
    result = run_cli(["grade", "--answers", str(answers)])
    assert result.exit_code == 1  # one line could not be scored
    out = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [o["id"] for o in out] == ["one", "two"] and out[0]["score"] == 4 and "error" in out[1]
    assert set(out[0]["signals"]) >= {"sim_question", "digits", "enumeration"}
    assert len(fake_chat.calls) == 1 + len(checks_replies())
    assert run_cli(["grade", "--answers", str(answers), "--question", "Q?"]).exit_code != 0
