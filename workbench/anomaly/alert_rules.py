"""Alert rules: YAML files in ``pipelines/alerts/``, parsed into typed, documented models.

One file is one rule.  A rule says what to watch (a semantic-layer metric at a grain, optionally
per slice of a dimension), which detector scores it and how, when a score is an alert and how
severe, when to stay quiet, where the notifications go and how anomalies group into incidents.

Errors name the file, the line and the field (``pipelines/alerts/x.yml:12 (detector.params.window):
...``), exactly like the semantic model loader, because both use ruamel's line information.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from workbench.semantic.errors import ModelError
from workbench.specfile import SourceMap, keys_on_path, plain

SEVERITIES = ("info", "warning", "critical")
Severity = Literal["info", "warning", "critical"]
Grain = Literal["minute", "hour", "day", "week"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def severity_rank(s: str) -> int:
    return SEVERITIES.index(s)


class AlertRuleError(ModelError):
    """An alert rule file is invalid; the message names the file, line and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Strict):
    """What the job watches: one metric of a semantic namespace at one grain."""

    namespace: str = Field(
        "retail", description="Semantic namespace the job reads ('retail', later 'live')."
    )
    metric: str = Field(description="Metric (or measure) of the namespace.")
    grain: Grain = Field("hour", description="Time grain of the watched series.")
    time_dimension: str | None = Field(
        None, description="Time dimension; default: the model's default one."
    )
    slice_by: str | None = Field(
        None, description="Dimension to watch each value of separately (e.g. region)."
    )
    slices: list[str] | None = Field(
        None, description="Only these values of slice_by (default: every value seen)."
    )
    include_total: bool = Field(False, description="With slice_by, also watch the unsliced total.")
    where: list[str] = Field(
        default_factory=list, description="Extra filters (semantic-layer filter syntax)."
    )
    fill: Literal["auto", "zero", "none"] = Field(
        "auto",
        description="Empty buckets: 'zero' (counts, sums), 'none' (stay missing; detectors skip "
        "and report them) or 'auto' (zero for additive metrics, none for ratios).",
    )
    transform: Literal["none", "sqrt", "log1p"] = Field(
        "none",
        description="Applied before scoring: 'sqrt' or 'log1p' steady the variance of counts, so a "
        "quiet night and a busy evening are judged on the same scale. Values reported stay untransformed.",
    )
    lookback: int = Field(
        0,
        ge=0,
        description="Buckets re-read before the watermark on every run (late data); 0 = none.",
    )


class DetectorSpec(_Strict):
    name: str = Field(
        "seasonal",
        description="Registered detector name (workbench.anomaly.detectors.available()).",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Detector parameters (its Params model)."
    )

    @field_validator("name")
    @classmethod
    def _registered(cls, v: str) -> str:
        from workbench.anomaly.detectors import get_detector_class

        try:
            get_detector_class(v)
        except KeyError as e:
            raise ValueError(str(e.args[0])) from None
        return v

    @model_validator(mode="after")
    def _known(self):
        from workbench.anomaly.detectors import get_detector_class

        get_detector_class(self.name).Params(
            **self.params
        )  # raises a ValidationError located under detector.params
        return self


class QuietHours(_Strict):
    """A daily window in which notifications below ``allow_severity`` are held, not sent."""

    start: str = Field(description="HH:MM local time the quiet window starts.")
    end: str = Field(description="HH:MM local time it ends (may be past midnight).")
    days: list[Day] = Field(
        default_factory=lambda: list(DAYS), description="Days on which the window starts."
    )
    allow_severity: Severity | None = Field(
        "critical",
        description="Severity from which notifications go out anyway; null holds everything.",
    )

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", str(v)):
            raise ValueError(f"'{v}' is not a time of day HH:MM")
        return v

    def active(self, at: dt.datetime) -> bool:
        s = dt.time.fromisoformat(self.start)
        e = dt.time.fromisoformat(self.end)
        t = at.time()
        today = DAYS[at.weekday()]
        yesterday = DAYS[(at.weekday() - 1) % 7]
        if s <= e:
            return today in self.days and s <= t < e
        # Over midnight: the part after midnight belongs to the window that started yesterday.
        return (today in self.days and t >= s) or (yesterday in self.days and t < e)

    def holds(self, at: dt.datetime, severity: str) -> bool:
        if not self.active(at):
            return False
        return self.allow_severity is None or severity_rank(severity) < severity_rank(
            self.allow_severity
        )


class Route(BaseModel):
    """One destination: a registered notifier and its parameters (the notifier validates them)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    notifier: str = Field(description="Registered notifier: webhook, slack, email, inbox, ...")
    min_severity: Severity = Field("info", description="Only incidents at least this severe.")
    ignore_quiet_hours: bool = Field(
        False, description="Deliver even in quiet hours (e.g. the inbox)."
    )

    @property
    def params(self) -> dict[str, Any]:
        return {k: _expand_env(v) for k, v in (self.model_extra or {}).items()}

    @field_validator("notifier")
    @classmethod
    def _registered(cls, v: str) -> str:
        from workbench.anomaly.notifiers import get_notifier_class

        try:
            get_notifier_class(v)
        except KeyError as e:
            raise ValueError(str(e.args[0])) from None
        return v

    @model_validator(mode="after")
    def _known(self):
        from workbench.anomaly.notifiers import get_notifier_class

        get_notifier_class(self.notifier).Params(
            **{k: v for k, v in (self.model_extra or {}).items()}
        )
        return self


class IncidentPolicy(_Strict):
    group: str | None = Field(
        None,
        description="Anomalies of rules with the same group correlate into one incident "
        "(default: the rule's namespace).",
    )
    window_minutes: int = Field(
        180, gt=0, description="Anomalies this close in time join the same incident."
    )


class AlertRule(_Strict):
    """One alert rule (one YAML file in pipelines/alerts/)."""

    name: str = Field(description="Unique rule name.")
    description: str = Field("", description="What the rule is for.")
    enabled: bool = Field(True, description="Disabled rules are loaded and validated but not run.")
    source: SourceSpec = Field(
        description="The series to watch: namespace, metric, grain, slices, filters."
    )
    detector: DetectorSpec = Field(
        default_factory=DetectorSpec,
        description="Which registered detector scores the series, with its parameters.",
    )
    threshold: float = Field(
        0.9, gt=0, le=1, description="Detector score from which a point is an anomaly."
    )
    direction: Literal["both", "up", "down"] = Field(
        "both",
        description="Only deviations above ('up') or below ('down') the expected value; an "
        "anomaly with no expected value at all ('unknown') is kept by either.",
    )
    min_deviation: float = Field(
        0.0,
        ge=0,
        description="Ignore anomalies whose |value - expected| is below this (metric units).",
    )
    severity: Severity = Field("warning", description="Severity of an anomaly from this rule.")
    critical_above: float | None = Field(
        None, gt=0, le=1, description="Score from which the severity is raised to critical."
    )
    quiet_hours: list[QuietHours] = Field(
        default_factory=list, description="Windows in which notifications are held back."
    )
    routing: list[Route] = Field(default_factory=list, description="Where notifications go.")
    incident: IncidentPolicy = Field(
        default_factory=IncidentPolicy, description="How anomalies are grouped into one incident."
    )
    drill: list[str] = Field(
        default_factory=list,
        description="Dimensions for contribution analysis in the insight, in order.",
    )
    pipeline_heartbeat: bool = Field(
        False,
        description="Score only buckets the streaming pipeline feeding the namespace watched from "
        "start to end (running throughout, caught up after the bucket closed); the others are skipped, "
        "so a stopped or restarted pipeline is not an outage. Only the server's live detection loop sees "
        "pipeline heartbeats: elsewhere such a rule waits.",
    )
    path: str | None = Field(None, description="File the rule was loaded from (set by the loader).")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", v):
            raise ValueError(f"rule name '{v}' may only contain letters, digits, '_', '-' and '.'")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.critical_above is not None and self.critical_above < self.threshold:
            raise ValueError("critical_above must be at least threshold")
        if self.source.slices and not self.source.slice_by:
            raise ValueError("source.slices needs source.slice_by")
        return self

    @property
    def group(self) -> str:
        return self.incident.group or self.source.namespace

    def severity_for(self, score: float) -> str:
        if self.critical_above is not None and score >= self.critical_above:
            return "critical"
        return self.severity

    def held_at(self, at: dt.datetime, severity: str) -> bool:
        return any(q.holds(at, severity) for q in self.quiet_hours)

    def to_yaml(self) -> str:
        """The rule as YAML (what a notebook saves to pipelines/alerts/<name>.yml)."""
        import io

        data = self.model_dump(mode="json", exclude={"path"}, exclude_defaults=True)
        data["name"] = self.name
        data["source"] = self.source.model_dump(mode="json", exclude_defaults=True)
        data["source"]["metric"] = self.source.metric
        data["detector"] = self.detector.model_dump(mode="json")
        buf = io.StringIO()
        y = YAML()
        y.default_flow_style = False
        y.dump(data, buf)
        return buf.getvalue()


def _expand_env(v: Any) -> Any:
    """``${NAME}`` in route parameters comes from the environment (keeps secrets out of YAML)."""
    if isinstance(v, str):
        return re.sub(
            r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: os.environ.get(m.group(1), ""), v
        )
    return v


def parse_rule(text: str, file: str = "<string>") -> AlertRule:
    try:
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise AlertRuleError(f"invalid YAML: {e.problem}", file, line) from None
    src = SourceMap(file, root)
    if not isinstance(root, dict):
        raise AlertRuleError(
            "an alert rule file must be a mapping (name, source, detector, ...)", file, 1
        )
    data = plain(root)
    if "name" not in data and file != "<string>":
        data["name"] = Path(file).stem
    try:
        return AlertRule.model_validate({**data, "path": file if file != "<string>" else None})
    except ValidationError as e:
        raise _located(e, root, src, file) from None


def _located(e: ValidationError, root: Any, src: SourceMap, file: str) -> AlertRuleError:
    err = e.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    if loc[:1] == ("detector",) and len(loc) > 1 and loc[1] not in ("name", "params"):
        loc = ("detector", "params") + loc[1:]  # a detector Params error, raised in our validator
    nested_loc: tuple = ()
    msg = err["msg"].removeprefix("Value error, ")
    ctx_err = (err.get("ctx") or {}).get("error")
    if isinstance(
        ctx_err, ValidationError
    ):  # a detector/notifier Params error inside our validator
        inner = ctx_err.errors()[0]
        sub = "params" if loc and loc[0] == "detector" else None
        nested_loc = ((sub,) if sub else ()) + tuple(inner["loc"])
        msg = inner["msg"].removeprefix("Value error, ")
        if inner["type"] == "extra_forbidden":
            msg = f"unknown field '{inner['loc'][-1]}'"
        elif inner["type"] == "missing":
            msg = f"missing required field '{inner['loc'][-1]}'"
    elif err["type"] == "extra_forbidden":
        msg = f"unknown field '{loc[-1]}'"
    elif err["type"] == "missing":
        msg = f"missing required field '{loc[-1]}'"
    full = loc + nested_loc
    clean = tuple(p for p in full if isinstance(p, int) or p in keys_on_path(root, full))
    field = ".".join(str(p) for p in full) if full else None
    return AlertRuleError(msg, file, src.line(clean), field)


def load_rule(path: str | Path) -> AlertRule:
    path = Path(path)
    return parse_rule(path.read_text(encoding="utf-8"), str(path))


def load_rules(
    directory: str | Path = "pipelines/alerts", *, enabled_only: bool = False
) -> list[AlertRule]:
    """Every ``*.yml`` / ``*.yaml`` rule in ``directory``; names must be unique."""
    directory = Path(directory)
    out: dict[str, AlertRule] = {}
    for path in sorted(directory.glob("*.yml")) + sorted(directory.glob("*.yaml")):
        rule = load_rule(path)
        if rule.name in out:
            raise AlertRuleError(
                f"duplicate rule name '{rule.name}' (also in {out[rule.name].path})",
                str(path),
                1,
                "name",
            )
        out[rule.name] = rule
    rules = list(out.values())
    return [r for r in rules if r.enabled] if enabled_only else rules
