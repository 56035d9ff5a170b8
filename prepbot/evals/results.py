"""results"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from prepbot.errors import PrepbotError

if TYPE_CHECKING:
    pass

REPORT_VERSION = 1


Value = float | list[float] | None  # a list: one value per sub-item (a file's postings), averaged as items


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
    notes: list[str] = Field(default_factory=list)  # what the suite said after its cases (a calibration)

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


def load_report(path: Path) -> EvalReport:
    try:
        return EvalReport.model_validate_json(Path(path).read_bytes())
    except OSError as exc:
        raise PrepbotError(f"{path}: cannot read the baseline ({exc.strerror or exc})") from None
    except ValidationError as exc:
        raise PrepbotError(f"{path}: not a prepbot eval JSON report ({first_error(exc)})") from None


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
