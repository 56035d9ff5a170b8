"""config"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from prepbot.config import Settings
from prepbot.errors import PrepbotError

if TYPE_CHECKING:
    pass
from prepbot.evals.results import first_error
from prepbot.evals.suite import SUITES, Suite

DEFAULT_CONFIG = Path("evals/default.yaml")


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
                extra[key] = TypeAdapter[Any](cast(Any, field_info.annotation)).validate_python(value)
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
    cv_prompt: str = Field(default="judge_cv", pattern=r"^[a-z][a-z0-9_]*(@v[1-9][0-9]*)?$")  # CV questions

    def spec(self, backends: Sequence[BackendSpec]) -> BackendSpec | None:
        if isinstance(self.backend, str):
            return next((b for b in backends if b.name == self.backend), None)
        return self.backend


class SuiteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # instead of the suite's own: a JSONL file, or a labels folder (parsing, retrieval, grading); grading also
    # takes a list of both (its labelled form grades the JSONL's cases too)
    dataset: str | list[str] | None = None
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
    # calls at once per run: at most this many, and at most what the backend declares (the local model: 1; a
    # server: its server_slots); unset: what the backend declares
    concurrency: int | None = Field(default=None, ge=1)
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
    forms = [suite] + ([suite.on_labels(str(conf.dataset or ""))] if suite.labelled else [])
    for metric in conf.thresholds:
        if all(form.metric(metric) is None for form in forms):
            known = ", ".join(dict.fromkeys(m.name for form in forms for m in form.metrics))
            raise ValueError(f"suite {suite.name!r} has no metric {metric!r} (it has: {known})")
    for ref in conf.variants:
        check_variant(suite, ref)
    try:
        suite.options.model_validate(conf.options)
    except ValidationError as exc:
        raise ValueError(f"suite {suite.name!r} options: {first_error(exc)}") from None


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
        raise PrepbotError(f"{path}: {first_error(exc)}") from None
    return config.model_copy(update={"root": (path.parent / config.root).resolve()})
