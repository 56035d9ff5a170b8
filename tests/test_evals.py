"""`prepbot eval`: config validation, the suite registry and matrix, the baseline gate, and the reports, with
the deterministic suites (parsing, retrieval) run for real on the eval datasets."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from pydantic import BaseModel

from prepbot import evals
from prepbot.config import get_settings
from prepbot.errors import PrepbotError, UsageError
from prepbot.evals import (
    CaseResult,
    EvalReport,
    Gate,
    Metric,
    MetricInfo,
    RunOptions,
    Suite,
    SuiteInfo,
    SuiteRun,
    metrics,
)
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
PARSING = [json.loads(line) for line in (ROOT / "evals" / "parsing.jsonl").read_text(encoding="utf-8").splitlines()]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def parsing_config(tmp_path: Path, *, thresholds: str = "{}") -> Path:
    """Two parsing cases, the second with a count no parser should give, so parse_accuracy is 0.5."""
    right = next(case for case in PARSING if case["file"].endswith("en-senior-backend-engineer.md"))
    wrong = json.loads(json.dumps(next(case for case in PARSING if case["file"].endswith("en-mlops-engineer.md"))))
    wrong["postings"][0]["counts"]["requirement"] = 99
    dataset = write(tmp_path / "parsing.jsonl", "\n".join(json.dumps(c, ensure_ascii=False) for c in (right, wrong)))
    return write(
        tmp_path / "eval.yaml",
        f"root: {ROOT}\nsuites:\n  parsing:\n    dataset: {dataset}\n    thresholds: {thresholds}\n",
    )


# --- config ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("suites: {parsing: {}}\nbogus: 1", "bogus: Extra inputs are not permitted"),
        ("suites: {nope: {}}", "unknown suite 'nope'"),
        ("suites: {}", "suites:"),
        ("suites: [parsing]", "suites:"),
        ("suites: {parsing: {thresholds: {recall@1: 0.5}}}", "suite 'parsing' has no metric 'recall@1'"),
        ("suites: {parsing: {thresholds: {parse_accuracy: high}}}", "parse_accuracy"),
        ("suites: {parsing: {variants: [question@v1]}}", "suite 'parsing' uses no prompt"),
        ("suites: {parsing: {tresholds: {}}}", "tresholds: Extra inputs are not permitted"),
        ("suites: {retrieval: {options: {depth: 1}}}", "suite 'retrieval' options: depth"),
        ("suites: {retrieval: {options: {k: 3}}}", "suite 'retrieval' options: k"),
        ("suites: {parsing: {}}\nbackends: [{name: x, modle: fast}]", "'modle' is not a prepbot setting"),
        (
            "suites: {parsing: {}}\nbackends: [{name: x, backend: llama}]",
            "backend 'x': backend: Input should be 'local'",
        ),
        ("suites: {parsing: {}}\nbackends: [{backend: local}]", "backends.0.name"),
        ("suites: {parsing: {}}\nbackends: [{name: a}, {name: a}]", "backend names must be unique"),
        ("suites: {parsing: {}}\nmax_drop: -1", "max_drop"),
        ("suites: {parsing: {\n", "invalid YAML"),
        ("- parsing\n- retrieval", "expected a mapping"),
    ],
)
def test_a_bad_config_is_one_line_naming_the_file(tmp_path, text, fragment):
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(PrepbotError) as caught:
        evals.load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and fragment in message and "\n" not in message


def test_a_missing_config_and_a_bad_one_through_the_cli(tmp_path):
    result = run_cli(["eval", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 1 and "absent.yaml: cannot read the eval config" in result.stderr
    bad = write(tmp_path / "bad.yaml", "suites: {nope: {}}")
    result = run_cli(["eval", str(bad)])
    assert result.exit_code == 1 and f"{bad}: unknown suite 'nope'" in " ".join(result.stderr.split())


def test_shipped_configs_load_with_root_relative_to_the_file():
    for name in ("default.yaml", "ci.yaml"):
        config = evals.load_config(ROOT / "evals" / name)
        assert config.root == ROOT
        assert set(config.suites) == {
            "parsing",
            "retrieval",
            "questions",
            "grading",
            "adversarial",
            "fit",
            "cv_questions",
        }


def test_backend_overrides_are_typed_settings_and_secrets_stay_masked(tmp_path):
    path = write(
        tmp_path / "eval.yaml",
        "suites: {parsing: {}}\nbackends: [{name: gpt, backend: openai, model: gpt-4o-mini, api_key: sk-secret, n_ctx: '2048'}]",
    )
    (backend,) = evals.load_config(path).backends
    assert backend.overrides()["n_ctx"] == 2048
    settings = get_settings().model_copy(update=backend.overrides())
    assert settings.resolved_api_key() == "sk-secret"
    assert "sk-secret" not in json.dumps(evals.load_config(path).model_dump(mode="json"))


# --- the registry and the matrix ---------------------------------------------------------------------------


class EchoCase(BaseModel):
    id: str


def echo_suite() -> Suite:
    """An LLM suite that calls no model: it reports what the runner handed it."""
    from prepbot.llm import Generation

    def run(case: EchoCase, context: evals.SuiteContext) -> CaseResult:
        if case.id == "broken":
            raise PrepbotError("the backend said no")
        generation = Generation(
            output="ok",
            text="ok",
            prompt=context.prompt("question"),
            backend=context.settings.backend,
            model=context.settings.model,
            prompt_tokens=10,
            completion_tokens=4,
            latency_s=0.5,
            cost_usd=None,
            cached=False,
        )
        return CaseResult(
            id=case.id,
            passed=True,
            values={"ok": 1.0, **evals.usage_values([generation])},
            got={
                "prompt": context.prompt("question"),
                "grade_prompt": context.prompt("grade"),
                "backend": context.settings.backend,
                "thread": threading.current_thread().name,
            },
        )

    return Suite(
        name="echo",
        description="echo",
        dataset="unused.jsonl",
        case_model=EchoCase,
        run=run,
        metrics=(Metric("ok", "cases that ran"), *evals.LLM_USAGE_METRICS),
        needs_llm=True,
        prompts=("question",),
    )


@pytest.fixture
def echo_config(tmp_path, monkeypatch):
    monkeypatch.setitem(evals.SUITES, "echo", echo_suite())
    dataset = write(tmp_path / "echo.jsonl", '{"id": "a"}\n{"id": "b"}\n{"id": "broken"}\n')
    return write(
        tmp_path / "eval.yaml",
        f"""root: {ROOT}
suites:
  echo: {{dataset: {dataset}, variants: [question@v1]}}
  parsing: {{}}
backends:
  - {{name: server, backend: openai-compatible, base_url: "http://127.0.0.1:9/v1"}}
  - {{name: local-fast, backend: local, model: fast}}
concurrency: 3
""",
    )


def test_llm_suites_run_per_variant_and_backend_and_deterministic_ones_once(echo_config):
    events: list[tuple[str, int]] = []
    config = evals.load_config(echo_config)
    report = evals.run_eval(config, RunOptions(repeat=2), get_settings(), progress=lambda e, n: events.append((e, n)))

    assert [(r.suite, r.variant, r.backend) for r in report.runs] == [
        ("echo", "question@v1", "server"),
        ("echo", "question@v1", "local-fast"),
        ("parsing", None, None),
    ]
    server, local, parsing = report.runs
    assert len(server.cases) == 6 and [c.repeat for c in server.cases] == [0, 0, 0, 1, 1, 1]
    assert len(parsing.cases) == len(PARSING)  # a deterministic suite is not repeated
    assert events[0] == ("total", 6 + 6 + len(PARSING)) and len(events) == 1 + 6 + 6 + len(PARSING)

    ran = [c for c in server.cases if not c.error]
    assert {c.got["prompt"] for c in ran} == {"question@v1"} and {c.got["grade_prompt"] for c in ran} == {"grade"}
    assert {c.got["backend"] for c in ran} == {"openai-compatible"}
    assert {c.got["backend"] for c in local.cases if not c.error} == {"local"}
    # a server takes several requests at once; the in-process model one at a time
    assert all(c.got["thread"] != "MainThread" for c in ran)
    assert all(c.got["thread"] == "MainThread" for c in local.cases if not c.error)

    broken = [c for c in server.cases if c.id == "broken"]
    assert len(broken) == 2 and all(not c.passed and c.error == "the backend said no" for c in broken)
    assert server.errors == 2
    assert server.metrics["ok"] == 1.0  # over the cases that produced values
    assert server.metrics["latency_p50"] == 0.5 and server.metrics["latency_p95"] == 0.5
    assert server.metrics["prompt_tokens"] == 40 and server.metrics["completion_tokens"] == 16
    assert server.metrics["cost_usd"] is None  # no backend priced the calls


def test_variant_and_backend_flags(echo_config):
    config = evals.load_config(echo_config)
    report = evals.run_eval(config, RunOptions(suites=["echo"], backends=["local"]), get_settings())
    assert [(r.variant, r.backend) for r in report.runs] == [("question@v1", "local")]  # a kind, not a config name
    with pytest.raises(UsageError, match="no selected suite uses prompt 'grade'"):
        evals.run_eval(config, RunOptions(variants=["grade@v1"]), get_settings())
    with pytest.raises(UsageError, match="--backend nope"):
        evals.run_eval(config, RunOptions(backends=["nope"]), get_settings())
    with pytest.raises(UsageError, match="unknown suite 'nope'"):
        evals.run_eval(config, RunOptions(suites=["nope"]), get_settings())
    with pytest.raises(PrepbotError, match="unknown prompt 'question@v999'"):
        evals.run_eval(config, RunOptions(variants=["question@v999"]), get_settings())


def test_aggregates_over_cases():
    graded = [(1, 1), (3, 2), (5, 5), (4, None)]  # the last case produced no grade: left out of the pairs
    cases = [CaseResult(id=str(i), passed=True, values={"label": a, "grade": b}) for i, (a, b) in enumerate(graded)]
    assert evals.paired_of("label", "grade", metrics.mae)(cases) == pytest.approx(1 / 3)
    assert evals.paired_of("label", "grade", metrics.spearman)(cases) == pytest.approx(1.0)
    assert evals.paired_of("label", "missing", metrics.mae)(cases) is None
    # a list counts as its items: a file with three postings weighs three times a file with one
    per_posting = [
        CaseResult(id="a", passed=False, values={"x": [1.0, 0.0, 1.0]}),
        CaseResult(id="b", passed=False, values={"x": 0.0}),
    ]
    assert evals.mean_of("x")(per_posting) == 0.5


# --- the gate ------------------------------------------------------------------------------------------------


def made_up_report(value: float, *, higher_is_better: bool = True, thresholds: dict | None = None) -> EvalReport:
    info = SuiteInfo(
        description="made up",
        dataset="x.jsonl",
        needs_llm=True,
        thresholds=thresholds or {},
        metrics=[
            MetricInfo(name="score", description="", higher_is_better=higher_is_better, gated=True),
            MetricInfo(name="latency_p95", description="", higher_is_better=False, gated=False),
        ],
    )
    run = SuiteRun(
        suite="s",
        variant="question@v2",
        backend="local",
        metrics={"score": value, "latency_p95": 1.0},
        cases=[],
        seconds=0.0,
    )
    return EvalReport(
        started_at="2026-01-01T00:00:00+00:00",
        seconds=0,
        prepbot_version="0",
        commit=None,
        host="h",
        config_path=None,
        config={},
        suites={"s": info},
        runs=[run],
        gate=Gate(max_drop=0.02),
    )


def test_gate_drops_in_each_metric_direction():
    now = made_up_report(0.80)
    assert evals.check_gate(now, made_up_report(0.80), 0.02).passed
    assert evals.check_gate(now, made_up_report(0.82), 0.02).passed  # exactly max_drop is allowed
    failed = evals.check_gate(now, made_up_report(0.83), 0.02)
    assert [(r.metric, r.reason, r.limit) for r in failed.regressions] == [("score", "drop", 0.83)]
    assert failed.compared == 1  # latency is not gated by a baseline
    assert "s · question@v2 · local: score = 0.8, baseline 0.83" in failed.regressions[0].describe()

    lower = made_up_report(1.30, higher_is_better=False)  # e.g. MAE
    assert evals.check_gate(lower, made_up_report(1.40, higher_is_better=False), 0.02).passed  # improved
    assert not evals.check_gate(lower, made_up_report(1.25, higher_is_better=False), 0.02).passed


def test_gate_thresholds_are_floors_or_ceilings():
    assert evals.check_gate(made_up_report(0.7, thresholds={"score": 0.7}), None, 0.02).passed
    below = evals.check_gate(made_up_report(0.69, thresholds={"score": 0.7}), None, 0.02)
    assert [(r.metric, r.reason) for r in below.regressions] == [("score", "threshold")]
    ceiling = made_up_report(2.0, thresholds={"latency_p95": 0.5})
    assert [r.metric for r in evals.check_gate(ceiling, None, 0.02).regressions] == ["latency_p95"]
    missing = made_up_report(0.9, thresholds={"score": 0.5})
    missing.runs[0].metrics["score"] = None
    assert not evals.check_gate(missing, None, 0.02).passed  # a metric that was not measured passes nothing


def test_baseline_gate_through_the_cli(tmp_path):
    config = parsing_config(tmp_path)
    first = run_cli(["eval", str(config), "--json"])
    assert first.exit_code == 0, first.stderr
    report = json.loads(first.stdout)
    (run,) = report["runs"]
    assert run["metrics"]["parse_accuracy"] == 0.5 and run["metrics"]["count_accuracy"] == 0.5

    same = write(tmp_path / "same.json", first.stdout)
    result = run_cli(["eval", str(config), "--json", "--baseline", str(same)])
    assert result.exit_code == 0 and json.loads(result.stdout)["gate"]["compared"] == 6

    run["metrics"]["parse_accuracy"] = 0.6
    higher = write(tmp_path / "higher.json", json.dumps(report))
    result = run_cli(["eval", str(config), "--baseline", str(higher)])
    assert result.exit_code == 1
    assert "parsing: parse_accuracy = 0.5, baseline 0.6" in result.stdout
    result = run_cli(["eval", str(config), "--json", "--baseline", str(higher), "--max-drop", "0.2"])
    assert result.exit_code == 0

    result = run_cli(["eval", str(config), "--baseline", str(write(tmp_path / "junk.json", "{}"))])
    assert result.exit_code == 1 and "junk.json: not a prepbot eval JSON report" in result.stderr


def test_a_threshold_fails_the_run_without_a_baseline(tmp_path):
    result = run_cli(["eval", str(parsing_config(tmp_path, thresholds="{parse_accuracy: 0.9}")), "--json"])
    assert result.exit_code == 1
    (regression,) = json.loads(result.stdout)["gate"]["regressions"]
    assert regression["metric"] == "parse_accuracy" and regression["reason"] == "threshold"
    assert "parse_accuracy = 0.5, past its floor 0.9" in result.stderr


# --- reports -------------------------------------------------------------------------------------------------


def test_reports_in_every_format(tmp_path):
    config = parsing_config(tmp_path)
    outs = [tmp_path / "out" / f"report.{suffix}" for suffix in ("json", "md", "html")]
    result = run_cli(["eval", str(config), *(arg for out in outs for arg in ("--out", str(out)))])
    assert result.exit_code == 0, result.stderr
    assert "parse_accuracy" in result.stdout and "1/2" in result.stdout  # the terminal table

    report = evals.load_report(outs[0])
    (run,) = report.runs
    failing = next(case for case in run.cases if not case.passed)
    assert failing.id.endswith("en-mlops-engineer.md")
    assert failing.expected["postings"][0]["counts"]["requirement"] == 99
    assert failing.got["postings"][0]["counts"]["requirement"] == 8

    markdown = outs[1].read_text(encoding="utf-8")
    assert "| run | parse_accuracy ↑ | title_match ↑ |" in markdown
    assert f"`{failing.id}`" in markdown and '"requirement": 99' in markdown

    html = outs[2].read_text(encoding="utf-8")
    assert html.count("<svg") == len(report.suites["parsing"].metrics)  # a chart per metric
    assert f'id="parsing-{failing.id}" class="failed"' in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")

    result = run_cli(["eval", str(config), "--out", str(tmp_path / "report.txt")])
    assert result.exit_code == 2 and "chosen by the suffix" in result.stderr


# --- the deterministic suites on the real datasets -------------------------------------------------------


def test_ci_config_runs_parsing_and_retrieval(tmp_path):
    # the deterministic suites only: the LLM suites of ci.yaml need the real model (CI runs them)
    result = run_cli(["eval", str(ROOT / "evals" / "ci.yaml"), "--suite", "parsing", "--suite", "retrieval", "--json"])
    report = json.loads(result.stdout)
    parsing, retrieval = (report["runs"][i] for i in (0, 1))
    assert (parsing["suite"], retrieval["suite"]) == ("parsing", "retrieval")
    assert len(parsing["cases"]) == 11 and len(retrieval["cases"]) == 111
    assert set(retrieval["metrics"]) == {"recall@1", "recall@3", "mrr"}
    assert set(retrieval["slices"]) == {"lang", "posting_lang", "cross_lingual", "latin_free"}
    assert set(retrieval["slices"]["lang"]) == {"en", "zh-Hant", "zh-Hans", "ja"}
    metrics = retrieval["metrics"]
    assert 0 < metrics["recall@1"] <= metrics["mrr"] <= metrics["recall@3"] <= 1
    case = next(c for c in retrieval["cases"] if c["id"] == "ret-d-06")
    assert case["expected"]["items"][0]["id"].endswith("/requirement-5") and case["expected"]["items"][0]["text"]
    assert result.exit_code == (0 if report["gate"]["regressions"] == [] else 1)
    # the store lived in a temp dir, not in the user's home
    assert not (get_settings().home / "chroma").exists()


def test_a_retrieval_case_on_a_posting_that_was_not_parsed_is_a_miss(tmp_path):
    case = {
        "id": "lost",
        "posting_file": "evals/postings/ja-backend-engineer.md",
        "query": "Kafka",
        "lang": "en",
        "expected": [{"section": "requirement", "n": 1}],
        "posting_lang": "ja",
        "cross_lingual": True,
        "latin_free": False,
    }
    dataset = write(tmp_path / "retrieval.jsonl", json.dumps(case))
    config = write(
        tmp_path / "eval.yaml",
        f"root: {ROOT}\npostings: [evals/postings/en-mlops-engineer.md]\nsuites:\n  retrieval: {{dataset: {dataset}}}\n",
    )
    report = evals.run_eval(evals.load_config(config), RunOptions(), get_settings())
    (result,) = report.runs[0].cases
    assert not result.passed and "no posting was parsed from evals/postings/ja-backend-engineer.md" in result.error
    assert report.runs[0].metrics == {"recall@1": 0.0, "recall@3": 0.0, "mrr": 0.0}
