"""Offline evals: hand-written cases (``evals/*.jsonl``) run over prompt variants x backends, aggregated into
metrics and compared with an earlier run, the regression gate of ``prepbot eval``.

A suite is a function ``(case, context) -> CaseResult`` plus what it declares (``suite.Suite``): its dataset
and the pydantic model of one line of it, the metrics it produces with their direction and aggregation,
whether it needs an LLM and which prompts it uses (those a ``--variant`` can swap), and its options.
``register`` puts it in ``SUITES``; the config, the CLI and the reports take it from there. Suites that need
no LLM run once per eval; the others once per variant x backend, as many cases at once as the backend's
capabilities allow.

The framework: ``results`` (what a run produces), ``suite`` (Suite, Metric, SuiteContext, the registry),
``stores`` (the postings a suite runs on), ``config``, ``runner``, ``gate``; ``metrics`` the formulas,
``report`` the rendering, ``labels`` the hand labels of real postings. The suites live in ``suites/`` and
register when that package is imported, which this one does.
"""

from prepbot.evals import suites as _suites  # registers every suite
from prepbot.evals.config import DEFAULT_CONFIG, EvalConfig, SuiteConfig, check_suite_config, load_config
from prepbot.evals.gate import check_gate
from prepbot.evals.results import CaseResult, EvalReport, Gate, MetricInfo, SuiteInfo, SuiteRun, load_report
from prepbot.evals.runner import RunOptions, plan, run_eval
from prepbot.evals.stores import posting_paths
from prepbot.evals.suite import (
    LLM_USAGE_METRICS,
    SUITES,
    Metric,
    Suite,
    SuiteContext,
    mean_of,
    paired_of,
    register,
    usage_values,
)
from prepbot.evals.suites.parsing import load_labelled_files
from prepbot.evals.suites.retrieval import load_labelled_answers

__all__ = [
    "DEFAULT_CONFIG",
    "LLM_USAGE_METRICS",
    "SUITES",
    "CaseResult",
    "EvalConfig",
    "EvalReport",
    "Gate",
    "Metric",
    "MetricInfo",
    "RunOptions",
    "Suite",
    "SuiteConfig",
    "SuiteContext",
    "SuiteInfo",
    "SuiteRun",
    "check_gate",
    "check_suite_config",
    "load_config",
    "load_labelled_answers",
    "load_labelled_files",
    "load_report",
    "mean_of",
    "paired_of",
    "plan",
    "posting_paths",
    "register",
    "run_eval",
    "usage_values",
]
del _suites
