"""When to refit: the training cadence.

A build retrains a component (the forecast models, or the breach-probability model) when

* it is forced (`capfc build --retrain`, var force_retrain),
* there is no complete registered run to reuse (first build, a run that failed half-way,
  artifacts pruned or changed),
* the model configuration changed (the vars that shape training, hashed),
* the run is stale: trained `retrain_every_days` or more ago, or the forecast origin has
  moved that many days past the run's origin,
* data inside the run's training window changed (a backfill): the content fingerprint of a
  day the run trained on differs now. Days inside the late-data look-back before the run's
  origin are not compared: late rows there are ordinary (the daily facts reload them on every
  build), and a model that saw them a little early is not worth refitting for,
* the calendar features of the run's days changed (vars holidays, quarter_end_window_days),
* the origin moved back before the run's origin (data removed).

Otherwise it reuses the run of record: stored models score the new origin, and that run's
backtest, intervals and champions stand. Every applicable reason is recorded, not just one.

The fingerprint is per day and content-based (series key and value of every observed cell,
rounded to 1e-6, as an order-independent 64-bit sum), so it ignores a reload that changed
nothing (a full refresh) and sees any value that changed, whatever the load log says.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from capacity_forecaster.config import ConfigError
from capacity_forecaster.forecasting.panel import Panel

COMPONENTS = ("forecast", "risk")


@dataclass(frozen=True)
class CadenceSettings:
    retrain_every_days: int  # var retrain_every_days
    artifact_retention_days: int  # var artifact_retention_days
    late_data_lookback_days: int  # var late_data_lookback_days
    force_retrain: bool  # var force_retrain (capfc build --retrain)
    as_of: dt.datetime | None  # var as_of_timestamp: "now" for the age of a run

    @classmethod
    def from_json(cls, text: str | dict) -> CadenceSettings:
        raw = json.loads(text) if isinstance(text, str) else dict(text)
        try:
            as_of = raw["as_of_timestamp"]
            return cls(
                retrain_every_days=int(raw["retrain_every_days"]),
                artifact_retention_days=int(raw["artifact_retention_days"]),
                late_data_lookback_days=int(raw["late_data_lookback_days"]),
                force_retrain=bool(raw["force_retrain"]),
                as_of=dt.datetime.fromisoformat(str(as_of)) if as_of else None,
            )
        except KeyError as exc:
            raise ConfigError(f"cadence settings lack {exc.args[0]!r}") from exc


def config_digest(config: dict[str, Any]) -> tuple[str, str]:
    """Canonical JSON of the training configuration and its SHA-256."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return text, hashlib.sha256(text.encode()).hexdigest()


def changed_keys(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the settings that differ (e.g. forecast_models.prophet.enabled)."""
    out = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += changed_keys(a, b, f"{name}.")
        elif a != b:
            out.append(name)
    return out


# --- data fingerprint ----------------------------------------------------------------------

_MIX = np.uint64(0x9E3779B97F4A7C15)


def _series_hashes(panel: Panel) -> np.ndarray:
    keys = panel.keys["server_id"].astype(str) + "|" + panel.keys["metric"].astype(str)
    return np.array(
        [int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "little") for k in keys],
        dtype=np.uint64,
    )


def daily_fingerprint(panel: Panel, upto: int | None = None) -> dict[str, dict[str, str]]:
    """Per day up to index `upto`: 'values', a 64-bit content hash of the observed cells
    (only days that have data), and 'calendar', a hash of the day's calendar features
    (holidays, quarter-end window: vars that change the models' inputs for past days too)."""
    y = panel.y if upto is None else panel.y[: upto + 1]
    observed = np.isfinite(y)
    values = np.where(observed, np.round(y, 6), 0.0).astype(np.float64).view(np.uint64)
    with np.errstate(over="ignore"):
        cells = (values * _MIX) ^ (_series_hashes(panel)[None, :] * np.uint64(31))
        cells = np.where(observed, cells, np.uint64(0))
        sums = cells.sum(axis=1, dtype=np.uint64)
    counts = observed.sum(axis=1)
    days = [f"{d:%Y-%m-%d}" for d in panel.dates[: y.shape[0]]]
    calendar = panel.calendar.reindex(panel.dates[: y.shape[0]]).astype(str)
    rows = calendar.apply(lambda row: "|".join(row.to_numpy()), axis=1).to_numpy()
    return {
        "values": {days[d]: f"{int(sums[d]):016x}{int(counts[d]):x}" for d in range(len(days)) if counts[d]},
        "calendar": {
            day: hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
            for day, text in zip(days, rows, strict=True)
        },
    }


def changed_days(before: dict[str, str], after: dict[str, str], through: str) -> list[str]:
    """Days up to `through` (inclusive, ISO) whose fingerprint differs or that appeared or
    disappeared."""
    days = {d for d in set(before) | set(after) if d <= through}
    return sorted(d for d in days if before.get(d) != after.get(d))


def _span(days: list[str]) -> str:
    return days[0] if len(days) == 1 else f"{days[0]} .. {days[-1]}"


# --- the decision ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """The registered run a build could reuse (from the decision log)."""

    run_id: str
    trained_at: dt.datetime
    origin_date: dt.date
    config: dict[str, Any]
    fingerprint: dict[str, dict[str, str]]


@dataclass(frozen=True)
class Decision:
    component: str
    retrain: bool
    reason: str
    previous_run_id: str | None

    @property
    def verb(self) -> str:
        return "retrain" if self.retrain else "reuse"


def decide(
    component: str,
    previous: RunRecord | None,
    problem: str | None,
    config: dict[str, Any],
    fingerprint: dict[str, dict[str, str]],
    origin_date: dt.date,
    now: dt.datetime,
    settings: CadenceSettings,
) -> Decision:
    """Retrain or reuse `previous`, with every reason that applies. `problem` says why the
    previous run's artifacts cannot be used (None when they can)."""
    reasons = []
    if settings.force_retrain:
        reasons.append("forced (capfc build --retrain / var force_retrain)")
    if previous is None:
        return Decision(component, True, "; ".join([*reasons, "no registered run to reuse"]), None)
    run = previous.run_id
    if problem:
        reasons.append(f"run {run} cannot be reused: {problem}")
    keys = changed_keys(previous.config, config)
    if keys:
        shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
        reasons.append(f"model configuration changed since run {run} ({shown})")
    age = (now - previous.trained_at).total_seconds() / 86400
    every = settings.retrain_every_days
    if age >= every:
        reasons.append(f"run {run} is {age:.1f} days old (retrain_every_days = {every})")
    moved = (origin_date - previous.origin_date).days
    if moved >= every:
        reasons.append(
            f"the origin moved {moved} days past run {run}'s ({previous.origin_date}; "
            f"retrain_every_days = {every})"
        )
    if moved < 0:
        reasons.append(f"the origin moved back to {origin_date}, before run {run}'s {previous.origin_date}")
    through = previous.origin_date - dt.timedelta(days=settings.late_data_lookback_days)
    changed = changed_days(previous.fingerprint.get("values", {}), fingerprint["values"], through.isoformat())
    if changed:
        reasons.append(
            f"backfill: {len(changed)} day(s) inside run {run}'s training window changed ({_span(changed)})"
        )
    calendar = changed_days(
        previous.fingerprint.get("calendar", {}), fingerprint["calendar"], previous.origin_date.isoformat()
    )
    if calendar:
        reasons.append(
            f"calendar features changed on {len(calendar)} day(s) of run {run}'s window ({_span(calendar)}; "
            "vars holidays / quarter_end_window_days)"
        )
    if reasons:
        return Decision(component, True, "; ".join(reasons), run)
    return Decision(
        component,
        False,
        f"run {run} is {age:.1f} days old (< {every}), origin {moved} day(s) past it, same "
        "configuration, no backfill in its training window",
        run,
    )
