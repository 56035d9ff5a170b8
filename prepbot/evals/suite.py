"""suite"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from prepbot.config import Settings
from prepbot.evals import metrics
from prepbot.evals.results import CaseResult, MetricInfo, SuiteInfo, Value

if TYPE_CHECKING:
    from prepbot.evals.stores import EvalStore, LabelledStore, _Resources
    from prepbot.llm import LLM, Generation

Aggregate = Callable[[list[CaseResult]], float | None]


def mean_of(key: str) -> Aggregate:
    """The mean over cases of ``values[key]``, a list counting as its items."""

    def aggregate(cases: list[CaseResult]) -> float | None:
        return metrics.mean(v for case in cases for v in _flat(case.values.get(key)))

    return aggregate


def sum_of(key: str) -> Aggregate:
    def aggregate(cases: list[CaseResult]) -> float | None:
        return metrics.total(v for case in cases for v in _flat(case.values.get(key)))

    return aggregate


def percentile_of(key: str, q: float) -> Aggregate:
    def aggregate(cases: list[CaseResult]) -> float | None:
        return metrics.percentile((v for case in cases for v in _flat(case.values.get(key))), q)

    return aggregate


def paired_of(
    label_key: str, predicted_key: str, function: Callable[[Sequence[float], Sequence[float]], float | None]
) -> Aggregate:
    """A metric of (label, prediction) pairs across cases: ``metrics.spearman``, ``mae``, ``within_tolerance``."""

    def aggregate(cases: list[CaseResult]) -> float | None:
        pairs = [
            (label, predicted)
            for case in cases
            if isinstance(label := case.values.get(label_key), float | int)
            and isinstance(predicted := case.values.get(predicted_key), float | int)
        ]
        return function([a for a, _ in pairs], [b for _, b in pairs]) if pairs else None

    return aggregate


def _flat(value: Value) -> list[float | None]:
    flat: list[float | None] = [*value] if isinstance(value, list) else [value]
    return flat


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    higher_is_better: bool = True
    # Whether --max-drop applies. Latency, tokens and cost change with the machine and the model's wording,
    # so they are reported and may have thresholds, but a baseline does not fail them.
    gated: bool = True
    aggregate: Aggregate | None = None  # default: the mean of the cases' values[name]

    def compute(self, cases: list[CaseResult]) -> float | None:
        return (self.aggregate or mean_of(self.name))(cases)

    def info(self) -> MetricInfo:
        return MetricInfo(
            name=self.name, description=self.description, higher_is_better=self.higher_is_better, gated=self.gated
        )


def judge_errors(what: str) -> Metric:
    """The count of verdicts an LLM judge could not give (``values["judge_errors"]`` per case, summed)."""
    return Metric(
        "judge_errors",
        f"{what} the judge gave no valid verdict on",
        higher_is_better=False,
        gated=False,
        aggregate=sum_of("judge_errors"),
    )


# For LLM suites: record usage_values(generations) in each case's values and add these to the metrics.
_USAGE = {"higher_is_better": False, "gated": False}


LLM_USAGE_METRICS = (
    Metric("latency_p50", "median seconds of LLM time per case", aggregate=percentile_of("latency_s", 50), **_USAGE),
    Metric("latency_p95", "95th-percentile seconds per case", aggregate=percentile_of("latency_s", 95), **_USAGE),
    Metric("prompt_tokens", "prompt tokens, all cases", aggregate=sum_of("prompt_tokens"), **_USAGE),
    Metric("completion_tokens", "completion tokens, all cases", aggregate=sum_of("completion_tokens"), **_USAGE),
    Metric("cost_usd", "list-price USD, all cases (cache hits cost 0)", aggregate=sum_of("cost_usd"), **_USAGE),
    Metric(
        "cache_hits",
        "share of LLM calls served from the call cache (an unchanged re-run: 1.0)",
        higher_is_better=True,
        gated=False,
        aggregate=lambda cases: _ratio(cases, "cached_calls", "calls"),
    ),
)


def _ratio(cases: list[CaseResult], numerator: str, denominator: str) -> float | None:
    below = metrics.total(v for case in cases for v in _flat(case.values.get(denominator)))
    above = metrics.total(v for case in cases for v in _flat(case.values.get(numerator)))
    return None if not below else (above or 0.0) / below


def usage_values(generations: Sequence[Generation]) -> dict[str, Value]:
    """A case's LLM time, tokens and cost, summed over its calls (the keys LLM_USAGE_METRICS read)."""
    return {
        "latency_s": sum(g.latency_s for g in generations),
        "prompt_tokens": metrics.total(g.prompt_tokens for g in generations),
        "completion_tokens": metrics.total(g.completion_tokens for g in generations),
        "cost_usd": metrics.total(g.cost_usd for g in generations),
        "calls": float(len(generations)),
        "cached_calls": float(sum(g.cached for g in generations)),
    }


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    dataset: str  # JSONL, relative to the config's root
    case_model: type[BaseModel]  # one line of the dataset; must have an ``id`` (a field or a property)
    run: Callable[[Any, SuiteContext], CaseResult]
    metrics: tuple[Metric, ...]
    needs_llm: bool = False
    prompts: tuple[str, ...] = ()  # prompt names the suite generates with; --variant name@vN swaps one
    options: type[BaseModel] = NoOptions  # the suite's `options:` in the config
    uses_judge: bool = False  # calls the config's judge (its prompt must exist before the run starts)
    judge_prompt: str = "prompt"  # which of the judge's prompts (a field of JudgeConfig) the suite's judge uses
    labelled: LabelledForm | None = None  # how it reads a folder of labels-*.json given as its `dataset`
    # called once with a run's results (e.g. to fit and record a calibration); returns lines to print
    finish: Callable[[list[CaseResult], SuiteContext], list[str]] | None = None

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)

    def on_labels(self, dataset: str) -> Suite:
        """The suite as it runs on a labels folder: that form's cases, function and metrics."""
        if self.labelled is None:
            raise ValueError(f"eval suite {self.name!r} reads no labels folder")
        form = self.labelled
        return dataclasses.replace(
            self,
            description=form.description,
            dataset=dataset,
            case_model=form.case_model,
            run=form.run,
            metrics=form.metrics,
            labelled=None,
        )

    def info(self, thresholds: dict[str, float]) -> SuiteInfo:
        return SuiteInfo(
            description=self.description,
            dataset=self.dataset,
            needs_llm=self.needs_llm,
            metrics=[m.info() for m in self.metrics],
            thresholds=thresholds,
        )


@dataclass(frozen=True)
class LabelledForm:
    """A suite's other dataset: a folder of hand labels (``labels-*.json`` beside real posting files, read by
    labels.py), with cases, a run function and metrics of its own. A config selects it by giving the folder as
    the suite's ``dataset``."""

    description: str
    load: Callable[[Path], Sequence[BaseModel]]  # the folder -> cases
    case_model: type[BaseModel]
    run: Callable[[Any, SuiteContext], CaseResult]
    metrics: tuple[Metric, ...]
    accepts_jsonl: bool = False  # its run also takes the suite's JSONL cases (a config may list both datasets)


SUITES: dict[str, Suite] = {}


def register(suite: Suite) -> Suite:
    if suite.name in SUITES:
        raise ValueError(f"eval suite {suite.name!r} is registered twice")
    for declared in (suite.metrics, suite.labelled.metrics if suite.labelled else ()):
        if len({m.name for m in declared}) != len(declared):
            raise ValueError(f"eval suite {suite.name!r} declares a metric twice")
    SUITES[suite.name] = suite
    return suite


class SuiteContext:
    """What a suite's function gets besides its case: settings for the backend under test, the variant,
    the suite's options, paths, the shared eval store and the LLM."""

    def __init__(
        self,
        settings: Settings,
        variant: str | None,
        options: BaseModel,
        no_cache: bool,
        resources: _Resources,
        judge_field: str = "prompt",
    ):
        self.settings = settings  # the user's settings with the backend's overrides
        self._judge_field = judge_field
        self.variant = variant  # a prompt ref (question@v2) used instead of that prompt's highest version
        self.options = options
        self.no_cache = no_cache
        self._resources = resources
        self._llm: LLM | None = None
        self._lock = threading.Lock()

    def path(self, relative: str) -> Path:
        """A dataset's path (``evals/...``, ``seeds/...``) on disk."""
        return self._resources.root / relative

    def store(self) -> EvalStore:
        return self._resources.store()

    def labelled_store(self) -> LabelledStore:
        """The posting files of labels folders, each ingested on its own (the labelled forms of the suites)."""
        return self._resources.labelled_store()

    def prompt(self, name: str) -> str:
        """The prompt ref to use for ``name`` in this run."""
        if self.variant and self.variant.partition("@")[0] == name:
            return self.variant
        return name

    def llm(self) -> LLM:
        from prepbot.llm import get_llm

        with self._lock:
            if self._llm is None:
                self._llm = get_llm(self.settings)
            return self._llm

    def generate(self, prompt_name: str, variables: dict[str, Any], **limits: Any) -> Generation:
        """``LLM.generate`` with this run's variant and ``--no-cache`` (``limits``: max_tokens, temperature...)."""
        return self.llm().generate(self.prompt(prompt_name), variables, no_cache=self.no_cache, **limits)

    @property
    def judge_prompt(self) -> str:
        """The prompt ref this suite's LLM-as-judge metrics use (the config's ``judge.prompt``, or the field of
        the judge config the suite names)."""
        return getattr(self._resources.judge, self._judge_field)

    def judge_llm(self) -> LLM:
        """The judge: the config's ``judge.backend``, or else the backend under test."""
        spec = self._resources.judge_backend
        if spec is None:
            return self.llm()
        return self._resources.judge_llm(spec)

    def judge(self, variables: dict[str, Any]) -> Generation:
        return self.judge_llm().generate(self.judge_prompt, variables, no_cache=self.no_cache)

    @property
    def workdir(self) -> Path:
        """A temp dir for this eval run, removed when it ends."""
        return self._resources.workdir
