"""Offline evals: hand-written cases (``evals/*.jsonl``) run over prompt variants x backends, aggregated into
metrics and compared with an earlier run, the regression gate of ``prepbot eval``.

A suite is a function ``(case, context) -> CaseResult`` plus what it declares (``Suite``): its dataset and
the pydantic model of one line of it, the metrics it produces with their direction and aggregation, whether
it needs an LLM and which prompts it uses (those a ``--variant`` can swap), and its options. ``register``
puts it in ``SUITES``; the config, the CLI and the reports take it from there. Suites that need no LLM run
once per eval; the others once per variant x backend, in a thread pool when the backend is a server.

Formulas live in metrics.py, rendering in reports.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from prepbot import __version__
from prepbot.evals import labels
from prepbot.evals import metrics
from prepbot.config import Settings
from prepbot.errors import PrepbotError, UsageError
from prepbot.postings import find_duplicates, parse_document
from prepbot.text import Language
from prepbot.postings.readers import read_documents

if TYPE_CHECKING:
    from prepbot.retrieval.index import PostingSummary, RequirementIndex
    from prepbot.llm import LLM, Generation
    from prepbot.postings import Posting

REPORT_VERSION = 1
DEFAULT_CONFIG = Path("evals/default.yaml")
# Float noise must not turn "equal to the baseline" into a drop.
_EPSILON = 1e-9

Value = float | list[float] | None  # a list: one value per sub-item (a file's postings), averaged as items


# --- results ---------------------------------------------------------------------------------------------


class CaseResult(BaseModel):
    """One case run once. ``values`` feed the suite's metrics; ``expected`` and ``got`` are what a reader
    compares when the case fails."""

    id: str
    passed: bool
    values: dict[str, Value] = Field(default_factory=dict)
    expected: Any = None
    got: Any = None
    error: str | None = None  # why the case could not run as meant (a PrepbotError); values may be empty
    slices: dict[str, str] = Field(default_factory=dict)  # e.g. {"lang": "ja"}: metrics are also split by these
    repeat: int = 0
    seconds: float = 0.0


class SuiteRun(BaseModel):
    """A suite on one variant x backend (both None for suites that need no LLM)."""

    suite: str
    variant: str | None
    backend: str | None
    metrics: dict[str, float | None]
    slices: dict[str, dict[str, dict[str, float | None]]] = Field(default_factory=dict)  # key -> value -> metrics
    cases: list[CaseResult]
    seconds: float

    @property
    def errors(self) -> int:
        return sum(1 for case in self.cases if case.error)


class MetricInfo(BaseModel):
    name: str
    description: str
    higher_is_better: bool
    gated: bool


class SuiteInfo(BaseModel):
    description: str
    dataset: str
    needs_llm: bool
    metrics: list[MetricInfo]
    thresholds: dict[str, float] = Field(default_factory=dict)


class Regression(BaseModel):
    suite: str
    variant: str | None
    backend: str | None
    metric: str
    value: float | None
    reason: Literal["threshold", "drop"]
    limit: float  # the threshold, or the baseline value
    higher_is_better: bool

    def describe(self) -> str:
        where = " · ".join(part for part in (self.suite, self.variant, self.backend) if part)
        value = "no value" if self.value is None else f"{self.value:.4g}"
        if self.reason == "threshold":
            bound = "floor" if self.higher_is_better else "ceiling"
            return f"{where}: {self.metric} = {value}, past its {bound} {self.limit:.4g}"
        return f"{where}: {self.metric} = {value}, baseline {self.limit:.4g}"


class Gate(BaseModel):
    baseline: str | None = None
    max_drop: float
    compared: int = 0  # metrics compared with the baseline
    regressions: list[Regression] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.regressions


class EvalReport(BaseModel):
    """Everything one eval run produced; its JSON is what ``--baseline`` reads back."""

    version: int = REPORT_VERSION
    started_at: str
    seconds: float
    prepbot_version: str
    commit: str | None
    host: str
    config_path: str | None
    config: dict[str, Any]
    options: dict[str, Any] = Field(default_factory=dict)  # what the command line added
    suites: dict[str, SuiteInfo]
    runs: list[SuiteRun]
    gate: Gate

    def run(self, suite: str, variant: str | None = None, backend: str | None = None) -> SuiteRun | None:
        return next((r for r in self.runs if (r.suite, r.variant, r.backend) == (suite, variant, backend)), None)


# --- suites ------------------------------------------------------------------------------------------------


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
    return value if isinstance(value, list) else [value]


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


# For LLM suites: record usage_values(generations) in each case's values and add these to the metrics.
_USAGE = {"higher_is_better": False, "gated": False}
LLM_USAGE_METRICS = (
    Metric("latency_p50", "median seconds of LLM time per case", aggregate=percentile_of("latency_s", 50), **_USAGE),
    Metric("latency_p95", "95th-percentile seconds per case", aggregate=percentile_of("latency_s", 95), **_USAGE),
    Metric("prompt_tokens", "prompt tokens, all cases", aggregate=sum_of("prompt_tokens"), **_USAGE),
    Metric("completion_tokens", "completion tokens, all cases", aggregate=sum_of("completion_tokens"), **_USAGE),
    Metric("cost_usd", "list-price USD, all cases (cache hits cost 0)", aggregate=sum_of("cost_usd"), **_USAGE),
    Metric("cache_hits", "share of LLM calls served from the call cache (an unchanged re-run: 1.0)",
           higher_is_better=True, gated=False, aggregate=lambda cases: _ratio(cases, "cached_calls", "calls")),
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

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)

    def on_labels(self, dataset: str) -> Suite:
        """The suite as it runs on a labels folder: that form's cases, function and metrics."""
        if self.labelled is None:
            raise ValueError(f"eval suite {self.name!r} reads no labels folder")
        form = self.labelled
        return dataclasses.replace(
            self, description=form.description, dataset=dataset, case_model=form.case_model, run=form.run,
            metrics=form.metrics, labelled=None,
        )  # fmt: skip

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
    load: Callable[[Path], list[BaseModel]]  # the folder -> cases
    case_model: type[BaseModel]
    run: Callable[[Any, SuiteContext], CaseResult]
    metrics: tuple[Metric, ...]


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
        self, settings: Settings, variant: str | None, options: BaseModel, no_cache: bool, resources: _Resources,
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


class EvalStore:
    """The eval postings ingested into a throwaway home, once per run: what retrieval searches and what
    citations are checked against. Cases name postings by file (and ``title_contains``), items by
    ``(section, n)``; this turns those into the IDs of this run."""

    def __init__(self, settings: Settings, root: Path, paths: list[str]):
        from prepbot.retrieval.index import RequirementIndex
        from prepbot.ingest import ingest

        self.index: RequirementIndex = RequirementIndex(settings)
        report = ingest(posting_paths(root, paths), self.index)
        if report.errors:
            problem = report.errors[0]
            raise PrepbotError(f"eval postings: {problem.message}")
        self.root = root
        self._postings = self.index.list_postings()

    def posting(self, file: str, title_contains: str | None = None) -> PostingSummary:
        """The posting parsed from ``file`` (a dataset path), the one titled like ``title_contains`` if given."""
        from prepbot.retrieval.index import source_file

        path = str((self.root / file).resolve())
        candidates = [p for p in self._postings if source_file(p.source) == path]
        if title_contains is not None:
            candidates = [p for p in candidates if title_contains in p.title]
        if not candidates:
            which = f" titled like {title_contains!r}" if title_contains else ""
            raise PrepbotError(f"no posting{which} was parsed from {file} (is it in the config's `postings`?)")
        return candidates[0]

    @staticmethod
    def item_id(posting_id: str, section: str, n: int) -> str:
        return f"{posting_id}/{section}-{n}"


def posting_paths(root: Path, paths: list[str]) -> list[str]:
    """The config's ``postings`` on disk. A folder of hand labels (``labels-*.json`` beside the files, as
    ``../shared/postings``) gives the files its labels name, never the labels themselves: ingest reads JSON."""
    found: list[str] = []
    for path in paths:
        full = root / path
        if full.is_dir() and any(full.glob(labels.LABEL_FILES)):
            found.extend(str(file) for file in labels.labelled_files(full))
        else:
            found.append(str(full))
    return found


class FileRead(BaseModel):
    """What prepbot's ingest made of one posting file: its distinct postings in file order (as
    ``prepbot postings list`` and ``show`` give them after ``prepbot ingest FILE`` into an empty home), and the
    ingest's errors for it."""

    file: str
    postings: list[Any] = Field(default_factory=list)  # prepbot.postings.Posting, with its stored items
    errors: list[str] = Field(default_factory=list)

    def titles(self) -> list[str | None]:
        return [posting.title for posting in self.postings]


class LabelledStore:
    """Posting files of labels folders ingested by prepbot's own ingest into a throwaway home, each file on
    first use and on its own (check.py gives each file a fresh home, so a posting that repeats one of another
    file is still its own file's). A file that does not ingest yields no postings; its error is kept."""

    def __init__(self, settings: Settings):
        from prepbot.retrieval.index import RequirementIndex

        self.index: RequirementIndex = RequirementIndex(settings)
        self._read: dict[Path, FileRead] = {}
        self._lock = threading.Lock()

    def read(self, path: Path) -> FileRead:
        from prepbot.ingest import ingest

        path = Path(os.path.normpath(path))
        with self._lock:
            if path not in self._read:
                if not path.is_file():
                    raise PrepbotError(f"{path}: no such posting file (named in the labels)")
                report = ingest([str(path)], self.index, worker=False)
                # a duplicate within the file is left out, as the store holds it once; one of an earlier file's
                # posting is that posting, which this file's own home would hold
                ids = [o.duplicate_of if o.outcome == "duplicate" else o.posting_id for o in report.postings]
                stored = [self.index.get_posting(pid) for pid in dict.fromkeys(i for i in ids if i)]
                self._read[path] = FileRead(
                    file=str(path),
                    postings=[posting for posting in stored if posting is not None],
                    errors=[problem.message for problem in report.errors],
                )
            return self._read[path]


class _Resources:
    """What the runs of one eval share: the root, a temp dir and the store built in it on first use, and the
    judge's LLM."""

    def __init__(
        self, settings: Settings, root: Path, postings: list[str], workdir: Path, judge: JudgeConfig | None = None,
        backends: Sequence[BackendSpec] = (),
    ):
        self.settings, self.root, self.postings, self.workdir = settings, root, postings, workdir
        self.judge = judge or JudgeConfig()
        self.judge_backend = self.judge.spec(backends)
        self._store: EvalStore | None = None
        self._labelled_store: LabelledStore | None = None
        self._judge_llm: LLM | None = None
        self._lock = threading.Lock()

    def judge_llm(self, spec: BackendSpec) -> LLM:
        from prepbot.llm import get_llm

        with self._lock:
            if self._judge_llm is None:
                self._judge_llm = get_llm(self.settings.model_copy(update=spec.overrides()))
            return self._judge_llm

    def store(self) -> EvalStore:
        with self._lock:
            if self._store is None:
                home = self.workdir / "home"
                settings = self.settings.model_copy(update={"home": home, "chroma_url": None})
                self._store = EvalStore(settings, self.root, self.postings)
            return self._store

    def labelled_store(self) -> LabelledStore:
        with self._lock:
            if self._labelled_store is None:
                home = self.workdir / "labelled-home"
                settings = self.settings.model_copy(update={"home": home, "chroma_url": None})
                self._labelled_store = LabelledStore(settings)
            return self._labelled_store


# --- config ------------------------------------------------------------------------------------------------


class BackendSpec(BaseModel):
    """A named set of Settings overrides: ``{name: local-fast, backend: local, model: fast}``."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)

    @model_validator(mode="after")
    def _settings_only(self) -> BackendSpec:
        extra = self.__pydantic_extra__ or {}
        for key, value in extra.items():
            field_info = Settings.model_fields.get(key)
            if field_info is None:
                raise ValueError(f"backend {self.name!r}: {key!r} is not a prepbot setting")
            try:
                extra[key] = TypeAdapter(field_info.annotation).validate_python(value)
            except ValidationError as exc:
                raise ValueError(f"backend {self.name!r}: {key}: {exc.errors()[0]['msg']}") from None
        return self

    def overrides(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


class JudgeConfig(BaseModel):
    """Who scores LLM-as-judge metrics: ``backend`` names one of ``backends`` or is a backend of its own
    (``{name: gpt, backend: openai, model: gpt-4o-mini}``, not run as a backend under test); none: each run's
    own backend judges."""

    model_config = ConfigDict(extra="forbid")

    backend: str | BackendSpec | None = None
    prompt: str = Field(default="judge", pattern=r"^[a-z][a-z0-9_]*(@v[1-9][0-9]*)?$")  # judges questions
    feedback_prompt: str = Field(default="judge_feedback", pattern=r"^[a-z][a-z0-9_]*(@v[1-9][0-9]*)?$")  # grades

    def spec(self, backends: Sequence[BackendSpec]) -> BackendSpec | None:
        if isinstance(self.backend, str):
            return next((b for b in backends if b.name == self.backend), None)
        return self.backend


class SuiteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str | None = None  # instead of the suite's own: a JSONL file, or a labels folder (parsing, retrieval)
    cases: list[str] = Field(default_factory=list)  # only these case IDs (a small CI subset); none: all
    variants: list[str] = Field(default_factory=list)  # prompt refs, name@vN
    thresholds: dict[str, float] = Field(default_factory=dict)  # floors (ceilings for lower-is-better metrics)
    options: dict[str, Any] = Field(default_factory=dict)


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: Path = Path("..")  # datasets and postings are relative to it; itself relative to the config file
    postings: list[str] = Field(default_factory=lambda: ["seeds/job-postings.md", "evals/postings"])
    suites: dict[str, SuiteConfig] = Field(min_length=1)
    backends: list[BackendSpec] = Field(default_factory=list)  # none: the user's settings as they are
    max_drop: float = Field(default=0.02, ge=0)
    repeat: int = Field(default=1, ge=1)
    concurrency: int = Field(default=4, ge=1)  # threads per run on a server backend (the local model: 1)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)  # LLM-as-judge metrics

    @field_validator("suites", mode="before")
    @classmethod
    def _empty_suites(cls, value: Any) -> Any:
        # `retrieval:` with nothing under it is the suite with its defaults
        return {name: conf or {} for name, conf in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _known(self) -> EvalConfig:
        for name, conf in self.suites.items():
            suite = SUITES.get(name)
            if suite is None:
                raise ValueError(f"unknown suite {name!r} (known: {', '.join(sorted(SUITES))})")
            check_suite_config(suite, conf)
        names = [b.name for b in self.backends]
        if len(set(names)) != len(names):
            raise ValueError("backend names must be unique")
        if isinstance(self.judge.backend, str) and self.judge.backend not in names:
            known = ", ".join(names) or "none"
            raise ValueError(f"judge.backend {self.judge.backend!r} is not in `backends` (known: {known})")
        return self


def check_suite_config(suite: Suite, conf: SuiteConfig) -> None:
    # which form runs (a JSONL dataset or a labels folder) is known once the dataset is found on disk (plan)
    forms = [suite] + ([suite.on_labels(conf.dataset or "")] if suite.labelled else [])
    for metric in conf.thresholds:
        if all(form.metric(metric) is None for form in forms):
            known = ", ".join(dict.fromkeys(m.name for form in forms for m in form.metrics))
            raise ValueError(f"suite {suite.name!r} has no metric {metric!r} (it has: {known})")
    for ref in conf.variants:
        check_variant(suite, ref)
    try:
        suite.options.model_validate(conf.options)
    except ValidationError as exc:
        raise ValueError(f"suite {suite.name!r} options: {_first_error(exc)}") from None


def check_variant(suite: Suite, ref: str) -> None:
    name, at, version = ref.partition("@")
    if not at or not version.startswith("v") or not version[1:].isdigit():
        raise ValueError(f"variant {ref!r} is not a prompt ref like question@v2")
    if name not in suite.prompts:
        uses = f"uses prompts {', '.join(suite.prompts)}" if suite.prompts else "uses no prompt"
        raise ValueError(f"variant {ref!r}: suite {suite.name!r} {uses}")


def load_config(path: Path) -> EvalConfig:
    """The config file validated; any problem is one line naming the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PrepbotError(f"{path}: cannot read the eval config ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise PrepbotError(f"{path}: invalid YAML{where}") from None
    if not isinstance(data, dict):
        raise PrepbotError(f"{path}: expected a mapping with `suites:` (see evals/README.md)")
    try:
        config = EvalConfig.model_validate(data)
    except ValidationError as exc:
        raise PrepbotError(f"{path}: {_first_error(exc)}") from None
    return config.model_copy(update={"root": (path.parent / config.root).resolve()})


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


# --- running -------------------------------------------------------------------------------------------


class RunOptions(BaseModel):
    """What the command line adds to a config."""

    suites: list[str] = Field(default_factory=list)  # none: every suite in the config
    variants: list[str] = Field(default_factory=list)  # replace the config's variants of the suites using them
    backends: list[str] = Field(default_factory=list)  # names from the config, or a backend kind (local...)
    repeat: int | None = None
    no_cache: bool = False
    baseline: Path | None = None
    max_drop: float | None = None


ProgressHook = Callable[[str, int], None]  # ("total", cases in the whole run) once, then ("case", 1) each


@dataclass
class _Job:
    suite: Suite
    conf: SuiteConfig
    variant: str | None
    backend: BackendSpec | None
    cases: list[BaseModel]


def run_eval(
    config: EvalConfig,
    options: RunOptions,
    settings: Settings,
    *,
    config_path: Path | None = None,
    progress: ProgressHook | None = None,
) -> EvalReport:
    """Run the matrix, aggregate, and gate against the thresholds and the baseline (if any)."""
    started, clock = datetime.now(timezone.utc), time.monotonic()
    baseline = load_report(options.baseline) if options.baseline else None
    jobs = plan(config, options, settings)
    repeat = options.repeat or config.repeat
    if progress:
        progress("total", sum(len(job.cases) * (repeat if job.suite.needs_llm else 1) for job in jobs))
    with tempfile.TemporaryDirectory(prefix="prepbot-eval-") as workdir:
        resources = _Resources(settings, config.root, config.postings, Path(workdir), config.judge, config.backends)
        runs = [_run_job(job, settings, options, config, repeat, resources, progress) for job in jobs]
    suites = {job.suite.name: job.suite.info(job.conf.thresholds) for job in jobs}
    max_drop = config.max_drop if options.max_drop is None else options.max_drop
    report = EvalReport(
        started_at=started.isoformat(timespec="seconds"),
        seconds=round(time.monotonic() - clock, 3),
        prepbot_version=__version__,
        commit=_commit(config.root),
        host=f"{platform.node()} ({platform.system()} {platform.machine()}, Python {platform.python_version()})",
        config_path=str(config_path) if config_path else None,
        config=config.model_dump(mode="json"),
        options=options.model_dump(mode="json"),
        suites=suites,
        runs=runs,
        gate=Gate(max_drop=max_drop),
    )
    report.gate = check_gate(report, baseline, max_drop, baseline_path=options.baseline)
    return report


def plan(config: EvalConfig, options: RunOptions, settings: Settings) -> list[_Job]:
    """The jobs (suite x variant x backend) with their cases loaded, or a one-line error before anything runs."""
    names = options.suites or list(config.suites)
    if unknown := [n for n in names if n not in SUITES]:
        raise UsageError(f"unknown suite {unknown[0]!r} (known: {', '.join(sorted(SUITES))})")
    selected = [SUITES[name] for name in dict.fromkeys(names)]
    for ref in options.variants:
        users = [suite for suite in selected if ref.partition("@")[0] in suite.prompts]
        if not users:
            raise UsageError(f"--variant {ref}: no selected suite uses prompt {ref.partition('@')[0]!r}")
        for suite in users:
            try:
                check_variant(suite, ref)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
    backends = _backends(config, options)
    jobs = []
    for chosen in selected:
        conf = config.suites.get(chosen.name) or SuiteConfig()
        path = config.root / (conf.dataset or chosen.dataset)
        suite, cases = load_dataset(chosen, conf, path)  # a labels folder runs the suite's labelled form
        if conf.cases:
            by_id = {case.id: case for case in cases}  # type: ignore[attr-defined]
            if missing := [i for i in conf.cases if i not in by_id]:
                raise PrepbotError(f"{path}: suite {suite.name!r} `cases` names no case {missing[0]!r}")
            cases = [by_id[i] for i in dict.fromkeys(conf.cases)]
        if not suite.needs_llm:
            jobs.append(_Job(suite, conf, None, None, cases))
            continue
        given = [ref for ref in options.variants if ref.partition("@")[0] in suite.prompts]
        variants: list[str | None] = list(given or conf.variants) or [None]
        _check_prompts_exist([v for v in variants if v] + ([getattr(config.judge, suite.judge_prompt)] if suite.uses_judge else []),
                            settings)  # fmt: skip
        jobs.extend(_Job(suite, conf, variant, backend, cases) for variant in variants for backend in backends)
    return jobs


def _backends(config: EvalConfig, options: RunOptions) -> list[BackendSpec]:
    if not options.backends:
        return config.backends or [BackendSpec(name="default")]
    kinds = TypeAdapter(Settings.model_fields["backend"].annotation)
    chosen = []
    for name in options.backends:
        spec = next((b for b in config.backends if b.name == name), None)
        if spec is None:
            try:
                spec = BackendSpec(name=name, backend=kinds.validate_python(name))
            except ValidationError:
                known = ", ".join(b.name for b in config.backends) or "none in the config"
                raise UsageError(f"--backend {name}: not a backend in the config ({known}) nor a kind") from None
        chosen.append(spec)
    return chosen


def _check_prompts_exist(refs: list[str], settings: Settings) -> None:
    from prepbot.prompts import load_prompt

    for ref in refs:
        load_prompt(ref, settings)


def load_dataset(suite: Suite, conf: SuiteConfig, path: Path) -> tuple[Suite, list[BaseModel]]:
    """The suite in the form its dataset asks for (its JSONL, or a labels folder) and the dataset's cases."""
    if suite.labelled is None or path.is_file() or path.suffix == ".jsonl":
        form, cases = suite, load_cases(path, suite.case_model)
    else:
        where = Path(os.path.normpath(path))
        if not where.is_dir():
            raise PrepbotError(f"{where}: no such labels folder (suite {suite.name!r} `dataset`: a folder of "
                               f"{labels.LABEL_FILES} or a .jsonl file)")  # fmt: skip
        form = suite.on_labels(conf.dataset or str(path))
        cases = suite.labelled.load(where)
    for metric in conf.thresholds:  # the config allowed the metrics of either form
        if form.metric(metric) is None:
            known = ", ".join(m.name for m in form.metrics)
            raise PrepbotError(f"{path}: suite {suite.name!r} on this dataset has no metric {metric!r} "
                               f"(it has: {known})")  # fmt: skip
    return form, cases


def load_cases(path: Path, model: type[BaseModel]) -> list[BaseModel]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise PrepbotError(f"{path}: cannot read the dataset ({exc.strerror or exc})") from None
    cases = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            cases.append(model.model_validate(json.loads(line)))
        except json.JSONDecodeError:
            raise PrepbotError(f"{path}: line {number} is not valid JSON") from None
        except ValidationError as exc:
            raise PrepbotError(f"{path}: line {number}: {_first_error(exc)}") from None
    ids = [case.id for case in cases]  # type: ignore[attr-defined]
    if duplicate := next((i for i in ids if ids.count(i) > 1), None):
        raise PrepbotError(f"{path}: case id {duplicate!r} appears twice")
    return cases


def _run_job(
    job: _Job,
    settings: Settings,
    options: RunOptions,
    config: EvalConfig,
    repeat: int,
    resources: _Resources,
    progress: ProgressHook | None,
) -> SuiteRun:
    clock = time.monotonic()
    job_settings = settings.model_copy(update=job.backend.overrides()) if job.backend else settings
    context = SuiteContext(
        job_settings, job.variant, job.suite.options.model_validate(job.conf.options), options.no_cache, resources,
        judge_field=job.suite.judge_prompt,
    )
    repeats = repeat if job.suite.needs_llm else 1  # a deterministic suite gives the same answer every time
    work = [(case, r) for r in range(repeats) for case in job.cases]

    def one(item: tuple[BaseModel, int]) -> CaseResult:
        case, r = item
        case_clock = time.monotonic()
        try:
            result = job.suite.run(case, context)
        except PrepbotError as exc:
            result = CaseResult(id=case.id, passed=False, error=str(exc))  # type: ignore[attr-defined]
        result.repeat, result.seconds = r, round(time.monotonic() - case_clock, 4)
        if progress:
            progress("case", 1)
        return result

    # llama.cpp runs one generation at a time in this process; a server takes several.
    workers = config.concurrency if job.suite.needs_llm and job_settings.backend != "local" else 1
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, work))
    else:
        results = [one(item) for item in work]
    return SuiteRun(
        suite=job.suite.name,
        variant=job.variant if job.suite.needs_llm else None,
        backend=job.backend.name if job.backend else None,
        metrics=aggregate(job.suite, results),
        slices=_slices(job.suite, results),
        cases=results,
        seconds=round(time.monotonic() - clock, 3),
    )


def aggregate(suite: Suite, cases: list[CaseResult]) -> dict[str, float | None]:
    return {metric.name: _rounded(metric.compute(cases)) for metric in suite.metrics}


def _slices(suite: Suite, cases: list[CaseResult]) -> dict[str, dict[str, dict[str, float | None]]]:
    keys = list(dict.fromkeys(key for case in cases for key in case.slices))
    return {
        key: {
            value: aggregate(suite, [case for case in cases if case.slices.get(key) == value])
            for value in sorted({case.slices[key] for case in cases if key in case.slices})
        }
        for key in keys
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _commit(root: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


# --- the gate ------------------------------------------------------------------------------------------------


def load_report(path: Path) -> EvalReport:
    try:
        return EvalReport.model_validate_json(Path(path).read_bytes())
    except OSError as exc:
        raise PrepbotError(f"{path}: cannot read the baseline ({exc.strerror or exc})") from None
    except ValidationError as exc:
        raise PrepbotError(f"{path}: not a prepbot eval JSON report ({_first_error(exc)})") from None


def check_gate(
    report: EvalReport, baseline: EvalReport | None, max_drop: float, baseline_path: Path | None = None
) -> Gate:
    """Regressions: a metric past its configured threshold, or (with a baseline) a gated metric worse than the
    same suite x variant x backend's by more than ``max_drop`` (absolute), in the metric's direction."""
    gate = Gate(baseline=str(baseline_path) if baseline_path else None, max_drop=max_drop)
    for run in report.runs:
        info = report.suites[run.suite]
        directions = {m.name: m for m in info.metrics}
        for name, limit in info.thresholds.items():
            value = run.metrics.get(name)
            higher = directions[name].higher_is_better
            if value is None or (value < limit - _EPSILON if higher else value > limit + _EPSILON):
                gate.regressions.append(_regression(run, name, value, "threshold", limit, higher))
        before = baseline.run(run.suite, run.variant, run.backend) if baseline else None
        if before is None:
            continue
        for metric in info.metrics:
            old = before.metrics.get(metric.name)
            if not metric.gated or old is None:
                continue
            gate.compared += 1
            value = run.metrics.get(metric.name)
            drop = None if value is None else (old - value if metric.higher_is_better else value - old)
            if drop is None or drop > max_drop + _EPSILON:
                gate.regressions.append(_regression(run, metric.name, value, "drop", old, metric.higher_is_better))
    return gate


def _regression(
    run: SuiteRun,
    metric: str,
    value: float | None,
    reason: Literal["threshold", "drop"],
    limit: float,
    higher_is_better: bool,
) -> Regression:
    return Regression(
        suite=run.suite, variant=run.variant, backend=run.backend, metric=metric, value=value, reason=reason,
        limit=limit, higher_is_better=higher_is_better,
    )


# --- suite: parsing ------------------------------------------------------------------------------------------

CountedSection = Literal["responsibility", "requirement", "nice_to_have", "benefit"]
COUNTED_SECTIONS: tuple[CountedSection, ...] = ("responsibility", "requirement", "nice_to_have", "benefit")


class ExpectedPosting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title_contains: str
    language: Language
    company: str | None
    counts: dict[CountedSection, int]

    @field_validator("counts")
    @classmethod
    def _all_four(cls, counts: dict[str, int]) -> dict[str, int]:
        if missing := [s for s in COUNTED_SECTIONS if s not in counts]:
            raise ValueError(f"counts lacks {', '.join(missing)}")
        return counts


class ParsingCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    duplicates: int = Field(default=0, ge=0)
    postings: list[ExpectedPosting] = Field(min_length=1)

    @property
    def id(self) -> str:
        return self.file


def company_matches(expected: str | None, got: str | None) -> bool:
    """None only matches None (the parser must not invent an employer); names match as a case-insensitive
    substring either way, so アオバテック matches 株式会社アオバテック."""
    if expected is None or got is None:
        return expected is None and got is None
    a, b = expected.casefold(), got.casefold()
    return a in b or b in a


def run_parsing(case: ParsingCase, context: SuiteContext) -> CaseResult:
    parsed = [posting for doc in read_documents(context.path(case.file)) for posting in parse_document(doc).postings]
    dropped = {duplicate.source for _, duplicate in find_duplicates(parsed)}
    distinct = [posting for posting in parsed if posting.source not in dropped]
    unmatched = list(distinct)
    found, language, company, counts = [], [], [], []
    for expected in case.postings:
        posting = next((p for p in unmatched if expected.title_contains in p.title), None)
        if posting is not None:
            unmatched.remove(posting)
        got_counts = posting.counts() if posting else {}
        found.append(float(posting is not None))
        language.append(float(posting is not None and posting.language == expected.language))
        company.append(float(posting is not None and company_matches(expected.company, posting.company)))
        counts.append(float(posting is not None and all(got_counts.get(s, 0) == expected.counts[s] for s in COUNTED_SECTIONS)))
    dedup = float(len(dropped) == case.duplicates and len(distinct) == len(case.postings))
    everything = float(dedup == 1.0 and all(v == 1.0 for v in found + language + company + counts))
    return CaseResult(
        id=case.id,
        passed=everything == 1.0,
        values={
            "parse_accuracy": everything,
            "title_match": found,
            "count_accuracy": counts,
            "language_match": language,
            "company_match": company,
            "dedup_accuracy": dedup,
        },
        expected=case.model_dump(mode="json", exclude={"file"}),
        got={
            "duplicates": len(dropped),
            "postings": [
                {
                    "title": p.title,
                    "language": p.language,
                    "company": p.company,
                    "counts": {s: p.counts().get(s, 0) for s in COUNTED_SECTIONS},
                }
                for p in distinct
            ],
        },
        slices={"language": case.postings[0].language},
    )


# The parsing suite on a labels folder (``dataset: ../shared/postings``): real postings, scored as that folder's
# check.py scores them. One case per labelled file; its postings are read by prepbot's ingest, as check.py
# reads them through `prepbot ingest` and `prepbot postings show`.


class LabelledFileCase(BaseModel):
    """One labelled posting file: where it is and its labels."""

    path: Path  # the posting file on disk
    entry: labels.LabelledFile

    @property
    def id(self) -> str:
        return self.entry.file

    @property
    def language(self) -> str:
        return self.entry.postings[0].language  # every labelled file so far holds one language


def load_labelled_files(folder: Path) -> list[LabelledFileCase]:
    return [LabelledFileCase(path=folder / entry.file, entry=entry) for entry in labels.load_labels(folder)]


def core_counts(posting: Posting) -> dict[str, int]:
    return {kind: sum(item.section == kind for item in posting.requirements) for kind in labels.CORE_KINDS}


def run_labelled_parsing(case: LabelledFileCase, context: SuiteContext) -> CaseResult:
    read = context.labelled_store().read(case.path)
    parsed = [labels.ParsedPosting(title=p.title, counts=core_counts(p)) for p in read.postings]
    score = labels.score_file(case.entry, parsed)
    found = [s for s in score.postings if s.match is not None]
    return CaseResult(
        id=case.id,
        passed=score.boundaries_ok and all(s.passed for s in score.postings),
        values={
            "posting_pass": [float(s.passed) for s in score.postings],
            "title_found": [float(s.match is not None) for s in score.postings],
            # of the postings found only: how well their items are read, apart from finding them
            "counts_in_range": [float(bool(s.counts_ok)) for s in found],
            **{f"{kind}_in_range": [float(s.in_range[kind]) for s in found if s.in_range]
               for kind in labels.CORE_KINDS},  # fmt: skip
            "boundaries_ok": float(score.boundaries_ok),
        },
        expected={
            "postings": score.labelled,
            "labelled": [s.model_dump(mode="json", include={"label", "ranges"}) for s in score.postings],
        },
        got={
            "postings": [p.model_dump() for p in parsed],
            "failed": [s.model_dump(mode="json", include={"label", "title", "counts", "ranges", "why"})
                       for s in score.postings if not s.passed],  # fmt: skip
            **({"ingest_errors": read.errors} if read.errors else {}),
        },
        slices={"language": case.language},
    )


LABELLED_PARSING = LabelledForm(
    description="real posting files -> postings, scored against hand labels as their check.py does: titles "
    "found, items per core kind within the labelled ranges, no extra postings",
    load=load_labelled_files,
    case_model=LabelledFileCase,
    run=run_labelled_parsing,
    metrics=(
        Metric("posting_pass", "labelled postings read right: found by title, each core kind's item count in its "
               "labelled range, no extra postings in the file (check.py's pass)"),
        Metric("title_found", "labelled postings matched by a parsed title (bigram Jaccard >= 0.3; no title: the "
               "file's only posting)"),
        Metric("counts_in_range", "found postings whose responsibility, requirement and nice_to_have counts are all "
               "in range"),
        Metric("responsibility_in_range", "found postings whose responsibility count is in range"),
        Metric("requirement_in_range", "found postings whose requirement count is in range"),
        Metric("nice_to_have_in_range", "found postings whose nice_to_have count is in range"),
        Metric("boundaries_ok", "files read into exactly their labelled postings: each found, by a posting of its "
               "own, none extra"),
    ),
)


register(
    Suite(
        name="parsing",
        description="posting files -> postings: titles, language, company, items per section, deduplication",
        dataset="evals/parsing.jsonl",
        case_model=ParsingCase,
        run=run_parsing,
        metrics=(
            Metric("parse_accuracy", "files parsed entirely right (every posting, field and count; dedup)"),
            Metric("title_match", "expected postings found by title"),
            Metric("count_accuracy", "postings with all four section counts exact"),
            Metric("language_match", "postings with the expected language"),
            Metric("company_match", "postings with the expected company (or rightly none)"),
            Metric("dedup_accuracy", "files yielding the expected number of postings and dropped copies"),
        ),
        labelled=LABELLED_PARSING,
    )
)


# --- suite: retrieval --------------------------------------------------------------------------------------


class ItemRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    section: CountedSection
    n: int = Field(ge=1)


class RetrievalCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    posting_file: str
    title_contains: str | None = None
    query: str = Field(min_length=1)
    lang: Language
    expected: list[ItemRef] = Field(min_length=1)
    posting_lang: Language
    cross_lingual: bool
    latin_free: bool


class RetrievalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["posting", "all"] = "posting"  # search the case's posting (as prepbot does), or every posting
    depth: int = Field(default=10, ge=3, le=100)  # hits fetched; MRR counts ranks up to here


def run_retrieval(case: RetrievalCase, context: SuiteContext) -> CaseResult:
    options: RetrievalOptions = context.options  # type: ignore[assignment]
    store = context.store()
    try:
        posting = store.posting(case.posting_file, case.title_contains)
    except PrepbotError as exc:
        # the parser lost the posting, so search cannot find its items: a miss, not a case left out
        misses: dict[str, Value] = {"recall@1": 0.0, "recall@3": 0.0, "mrr": 0.0}
        return CaseResult(id=case.id, passed=False, values=misses, error=str(exc), slices=_retrieval_slices(case))
    expected = [store.item_id(posting.id, ref.section, ref.n) for ref in case.expected]
    scope = posting.id if options.scope == "posting" else None
    hits = store.index.search(case.query, posting_id=scope, k=options.depth)
    ranked = [hit.id for hit in hits]
    stored = store.index.get_requirements(expected)
    rank = next((r for r, rid in enumerate(ranked, 1) if rid in expected), None)
    values: dict[str, Value] = {
        "recall@1": metrics.hit_at_k(ranked, expected, 1),
        "recall@3": metrics.hit_at_k(ranked, expected, 3),
        "mrr": metrics.reciprocal_rank(ranked, expected),
    }
    return CaseResult(
        id=case.id,
        passed=values["recall@3"] == 1.0,
        values=values,
        expected={
            "query": case.query,
            "items": [{"id": rid, "text": stored[rid].text if rid in stored else None} for rid in expected],
        },
        got={"rank": rank, "top": [{"id": hit.id, "text": hit.text} for hit in hits[:3]]},
        slices=_retrieval_slices(case),
    )


def _retrieval_slices(case: RetrievalCase) -> dict[str, str]:
    return {
        "lang": case.lang,
        "posting_lang": case.posting_lang,
        "cross_lingual": str(case.cross_lingual).lower(),
        "latin_free": str(case.latin_free).lower(),
    }


# The retrieval suite on a labels folder: every strong and partial answer of the labelled answer sets is a
# query, searched within the parsed posting its label matched (as check.py --retrieval does: -k 3); a hit is
# the labelled item by labels.is_hit, on the hit's text or its group. An answer whose posting was not found
# is a miss.


class LabelledAnswerCase(BaseModel):
    """One strong or partial answer of a labelled posting: the query, and the item it should find."""

    path: Path  # the posting file on disk
    file: str
    posting: labels.LabelledPosting  # the labelled posting (its title finds the parsed one)
    posting_number: int  # from 1, in the file's labels
    set_number: int  # from 1, in the posting's answer sets
    item: str
    level: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.file}#{self.posting_number}/{self.set_number}/{self.level}"


def load_labelled_answers(folder: Path) -> list[LabelledAnswerCase]:
    cases = []
    for entry in labels.load_labels(folder):
        for number, posting in enumerate(entry.postings, 1):
            for set_number, answer_set, answer in labels.answers_to_search(posting):
                cases.append(LabelledAnswerCase(
                    path=folder / entry.file, file=entry.file, posting=posting, posting_number=number,
                    set_number=set_number, item=answer_set.item, level=answer.level, text=answer.text,
                ))  # fmt: skip
    ids = [case.id for case in cases]
    if duplicate := next((i for i in ids if ids.count(i) > 1), None):
        raise PrepbotError(f"{folder}: answer {duplicate!r} appears twice (two answers of one level in a set)")
    return cases


def run_labelled_retrieval(case: LabelledAnswerCase, context: SuiteContext) -> CaseResult:
    options: RetrievalOptions = context.options  # type: ignore[assignment]
    store = context.labelled_store()
    read = store.read(case.path)
    titles = read.titles()
    match = labels.match_posting(case.posting, titles)
    slices = {"language": case.posting.language, "level": case.level}
    expected = {"item": case.item, "posting": case.posting.title, "answer": case.text}
    if match is None:
        misses: dict[str, Value] = {"recall@1": 0.0, "recall@3": 0.0, "mrr": 0.0, "posting_found": 0.0}
        got = {"posting": None, "parsed": titles, **({"ingest_errors": read.errors} if read.errors else {})}
        return CaseResult(id=case.id, passed=False, values=misses, expected=expected, got=got, slices=slices)
    posting = read.postings[match]
    scope = posting.id if options.scope == "posting" else None
    hits = store.index.search(case.text, posting_id=scope, k=labels.HIT_K)
    rank = labels.hit_rank(case.item, [(hit.text, hit.group) for hit in hits])
    values: dict[str, Value] = {
        "recall@1": float(rank == 1),
        "recall@3": float(rank is not None),
        "mrr": 1.0 / rank if rank else 0.0,
        "posting_found": 1.0,
    }
    return CaseResult(
        id=case.id,
        passed=rank is not None,
        values=values,
        expected=expected,
        got={"posting": posting.title, "rank": rank,
             "top": [{"id": hit.id, "text": hit.text, "group": hit.group} for hit in hits]},  # fmt: skip
        slices=slices,
    )


LABELLED_RETRIEVAL = LabelledForm(
    description="labelled answers (strong, partial) -> the item they answer, searched within their parsed "
    "posting (top 3, check.py's hit rule)",
    load=load_labelled_answers,
    case_model=LabelledAnswerCase,
    run=run_labelled_retrieval,
    metrics=(
        Metric("recall@1", "strong/partial answers whose first hit in their posting is the labelled item"),
        Metric("recall@3", "strong/partial answers with the labelled item in the top 3 (check.py --retrieval)"),
        Metric("mrr", "mean reciprocal rank of the labelled item within the top 3 (0 beyond)"),
        Metric("posting_found", "answers whose labelled posting was parsed (the others are misses)"),
    ),
)


register(
    Suite(
        name="retrieval",
        description="query -> the requirement items it matches, by prepbot's hybrid (dense + BM25) search",
        dataset="evals/retrieval.jsonl",
        case_model=RetrievalCase,
        run=run_retrieval,
        metrics=(
            Metric("recall@1", "queries whose first hit is a right item"),
            Metric("recall@3", "queries with a right item in the top 3"),
            Metric("mrr", "mean reciprocal rank of the first right item (0 past the search depth)"),
        ),
        options=RetrievalOptions,
        labelled=LABELLED_RETRIEVAL,
    )
)


# --- the LLM suites (questions, grading, adversarial) live in suites.py; importing it registers them -------

from prepbot.evals import suites as _suites  # noqa: E402,F401
