"""runner"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from prepbot import __version__
from prepbot.config import Settings
from prepbot.errors import PrepbotError, UsageError
from prepbot.evals import labels

if TYPE_CHECKING:
    pass
from prepbot.evals.config import BackendSpec, EvalConfig, SuiteConfig, check_variant
from prepbot.evals.gate import check_gate
from prepbot.evals.results import CaseResult, EvalReport, Gate, SuiteRun, first_error, load_report
from prepbot.evals.stores import _Resources
from prepbot.evals.suite import SUITES, Suite, SuiteContext
from prepbot.llm import capabilities_for


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
        suite, cases, path = load_datasets(chosen, conf, config.root)
        if conf.cases:
            by_id = {case_id(case): case for case in cases}
            if missing := [i for i in conf.cases if i not in by_id]:
                raise PrepbotError(f"{path}: suite {suite.name!r} `cases` names no case {missing[0]!r}")
            cases = [by_id[i] for i in dict.fromkeys(conf.cases)]
        if not suite.needs_llm:
            jobs.append(_Job(suite, conf, None, None, cases))
            continue
        given = [ref for ref in options.variants if ref.partition("@")[0] in suite.prompts]
        variants: list[str | None] = list(given or conf.variants) or [None]
        _check_prompts_exist(
            [v for v in variants if v] + ([getattr(config.judge, suite.judge_prompt)] if suite.uses_judge else []),
            settings,
        )
        jobs.extend(_Job(suite, conf, variant, backend, cases) for variant in variants for backend in backends)
    return jobs


def _backends(config: EvalConfig, options: RunOptions) -> list[BackendSpec]:
    if not options.backends:
        return config.backends or [BackendSpec(name="default")]
    kinds = TypeAdapter[Any](cast(Any, Settings.model_fields["backend"].annotation))
    chosen = []
    for name in options.backends:
        spec = next((b for b in config.backends if b.name == name), None)
        if spec is None:
            try:
                spec = BackendSpec.model_validate({"name": name, "backend": kinds.validate_python(name)})
            except ValidationError:
                known = ", ".join(b.name for b in config.backends) or "none in the config"
                raise UsageError(f"--backend {name}: not a backend in the config ({known}) nor a kind") from None
        chosen.append(spec)
    return chosen


def _check_prompts_exist(refs: list[str], settings: Settings) -> None:
    from prepbot.prompts import load_prompt

    for ref in refs:
        load_prompt(ref, settings)


def load_datasets(suite: Suite, conf: SuiteConfig, root: Path) -> tuple[Suite, list[BaseModel], Path]:
    """The suite's cases from its dataset, or from each dataset of a list (a labels folder and a JSONL, for a
    suite whose labelled form grades both): the form to run them with, the cases, the (first) path."""
    given = conf.dataset if isinstance(conf.dataset, list) else [conf.dataset or suite.dataset]
    if not given:
        raise PrepbotError(f"suite {suite.name!r}: `dataset` is an empty list")
    loaded = [load_dataset(suite, conf, root / name, name) for name in given]
    forms = {form.run for form, _ in loaded}
    labelled = next((form for form, _ in loaded if form.case_model is not suite.case_model), None)
    if len(forms) > 1 and not (suite.labelled and suite.labelled.accepts_jsonl):
        raise PrepbotError(f"suite {suite.name!r} cannot mix a labels folder with a JSONL dataset in one run")
    cases = [case for _, part in loaded for case in part]
    ids = [case_id(case) for case in cases]
    if duplicate := next((i for i in ids if ids.count(i) > 1), None):
        raise PrepbotError(f"suite {suite.name!r}: case id {duplicate!r} appears in two of its datasets")
    return labelled or loaded[0][0], cases, root / given[0]


def load_dataset(suite: Suite, conf: SuiteConfig, path: Path, name: str | None = None) -> tuple[Suite, list[BaseModel]]:
    """The suite in the form its dataset asks for (its JSONL, or a labels folder) and the dataset's cases."""
    if suite.labelled is None or path.is_file() or path.suffix == ".jsonl":
        form, cases = suite, load_cases(path, suite.case_model)
    else:
        where = Path(os.path.normpath(path))
        if not where.is_dir():
            raise PrepbotError(
                f"{where}: no such labels folder (suite {suite.name!r} `dataset`: a folder of "
                f"{labels.LABEL_FILES} or a .jsonl file)"
            )
        form = suite.on_labels(name or str(path))
        cases = list(suite.labelled.load(where))
    for metric in conf.thresholds:  # the config allowed the metrics of either form
        if form.metric(metric) is None:
            known = ", ".join(m.name for m in form.metrics)
            raise PrepbotError(
                f"{path}: suite {suite.name!r} on this dataset has no metric {metric!r} (it has: {known})"
            )
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
            raise PrepbotError(f"{path}: line {number}: {first_error(exc)}") from None
    ids = [case_id(case) for case in cases]
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
        job_settings,
        job.variant,
        job.suite.options.model_validate(job.conf.options),
        options.no_cache,
        resources,
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
            result = CaseResult(id=case_id(case), passed=False, error=str(exc))
        result.repeat, result.seconds = r, round(time.monotonic() - case_clock, 4)
        if progress:
            progress("case", 1)
        return result

    # llama.cpp runs one generation at a time in this process; a server takes several.
    declared = capabilities_for(job_settings).max_concurrency
    workers = min(config.concurrency or declared, declared) if job.suite.needs_llm else 1
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, work))
    else:
        results = [one(item) for item in work]
    notes = job.suite.finish(results, context) if job.suite.finish else []
    return SuiteRun(
        suite=job.suite.name,
        variant=job.variant if job.suite.needs_llm else None,
        backend=job.backend.name if job.backend else None,
        metrics=aggregate(job.suite, results),
        slices=_slices(job.suite, results),
        cases=results,
        seconds=round(time.monotonic() - clock, 3),
        notes=notes,
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


def case_id(case: BaseModel) -> str:
    """A case's ``id``: every case model has one, as a field or a property (``Suite.case_model``)."""
    return str(cast(Any, case).id)
