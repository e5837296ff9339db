"""Entry points for the risk dbt Python models: breach probabilities for today, and the same
model judged at past origins it never saw (the calibration backtest)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capacity_forecaster.forecasting.panel import Panel, build_panel
from capacity_forecaster.frames import TableLike, to_pandas
from capacity_forecaster.progress import log as _log
from capacity_forecaster.risk.exceedance import (
    MIN_ORIGIN_DAYS,
    ExceedanceModel,
    PanelView,
    category_codes,
    train,
)
from capacity_forecaster.risk.settings import GRID_THRESHOLDS, RiskSettings

# Resolved thresholds (int_risk_thresholds_resolved columns) the marts classify with.
THRESHOLD_ROLES = {
    "high": "high_risk_threshold_pct",
    "very_high": "very_high_risk_threshold_pct",
    "consolidation_ceiling": "consolidation_peak_ceiling_pct",
}
# Crossing dates are computed for these roles only (a first-passage curve costs 1 row a day).
CROSSING_ROLES = ("high", "very_high")
SERVER_FOLDS = 3
# A temporal backtest (train on the past, judge the later origins) needs this many days
# beyond the longest window; shorter histories are judged by server folds instead.
TEMPORAL_BACKTEST_MIN_DAYS = 270
BACKTEST_SPAN_DAYS = 91  # temporal scheme: origins over the last quarter with known outcomes


@dataclass
class RiskInputs:
    view: PanelView
    thresholds: dict[str, np.ndarray]  # role -> (S,) resolved threshold per series
    origin: int  # the last well-covered day


def prepare(
    features: TableLike, servers: TableLike, calendar: TableLike, thresholds: TableLike
) -> RiskInputs:
    return inputs_from_panel(build_panel(features, servers, calendar), thresholds)


def inputs_from_panel(
    panel: Panel, thresholds: TableLike, codes: dict[str, dict[str, int]] | None = None
) -> RiskInputs:
    """RiskInputs for a panel; `codes` are a stored model's category codes (default: the panel's)."""
    resolved = to_pandas(thresholds)
    merged = panel.keys.merge(resolved, on=["archetype", "metric"], how="left")
    # Imported servers' archetype may be missing from the resolved table only if the
    # inventory changed mid-build; fall back to the fleet-wide defaults then.
    defaults = resolved.groupby("metric")[list(THRESHOLD_ROLES.values())].first()
    by_role = {}
    for role, column in THRESHOLD_ROLES.items():
        fallback = panel.keys["metric"].map(defaults[column]).to_numpy(dtype=float)
        by_role[role] = merged[column].to_numpy(dtype=float, na_value=np.nan)
        by_role[role] = np.where(np.isfinite(by_role[role]), by_role[role], fallback)
    view = PanelView(panel, codes if codes is not None else category_codes(panel))
    return RiskInputs(view, by_role, panel.origin_index())


def _series_thresholds(inputs: RiskInputs, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(series, threshold) pairs: the public grid plus each series' resolved thresholds."""
    grid = np.asarray(GRID_THRESHOLDS)
    pairs_s, pairs_x = [], []
    for s in series:
        own = [inputs.thresholds[role][s] for role in THRESHOLD_ROLES]
        values = np.unique(np.concatenate([grid, [v for v in own if np.isfinite(v)]]))
        pairs_s.append(np.full(values.size, s))
        pairs_x.append(values)
    if not pairs_s:
        return np.empty(0, int), np.empty(0)
    return np.concatenate(pairs_s), np.concatenate(pairs_x)


def first_passage(
    model: ExceedanceModel, view: PanelView, origin: int, series: np.ndarray, threshold: np.ndarray, days: int
) -> np.ndarray:
    """(len(series), days): F(k) = P(some day in 1..k exceeds the threshold), k = 1..days."""
    state = view.state(origin)
    curve = np.empty((series.size, days))
    for k in range(1, days + 1):
        curve[:, k - 1], _ = model.probability(view, state, series, threshold, k)
    # Trees give a step function in k; a running maximum keeps it a distribution function
    # even where extrapolation meets the fitted part.
    return np.maximum.accumulate(curve, axis=1)


def _first_day(curve: np.ndarray, level: float, within: int) -> np.ndarray:
    hit = curve[:, :within] >= level
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1.0, np.nan)


def score(inputs: RiskInputs, model: ExceedanceModel, settings: RiskSettings) -> pd.DataFrame:
    """Probabilities at today's origin for every live series, window and threshold."""
    view, origin = inputs.view, inputs.origin
    live = view.live(origin)
    state = view.state(origin)
    series, threshold = _series_thresholds(inputs, live)
    longest = max(settings.windows)
    curves = {
        role: first_passage(model, view, origin, live, inputs.thresholds[role][live], longest)
        for role in CROSSING_ROLES
    }
    keys = view.panel.keys
    frames = []
    for window in settings.windows:
        probability, extrapolated = model.probability(view, state, series, threshold, window)
        frame = pd.DataFrame(
            {
                "series": series,
                "window_days": window,
                "threshold_pct": threshold,
                "probability": np.clip(probability, 0.0, 1.0),
                "is_extrapolated": extrapolated,
                "days_to_likely_crossing": np.nan,
                "median_days_to_crossing": np.nan,
            }
        )
        for role, curve in curves.items():
            at = pd.Series(np.arange(live.size), index=live)
            likely = _first_day(curve, settings.probability_cutoff, window)
            median = _first_day(curve, 0.5, window)
            rows = np.flatnonzero(frame["threshold_pct"].to_numpy() == inputs.thresholds[role][series])
            idx = at.loc[series[rows]].to_numpy()
            frame.loc[rows, "days_to_likely_crossing"] = likely[idx]
            frame.loc[rows, "median_days_to_crossing"] = median[idx]
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out["server_id"] = keys["server_id"].to_numpy()[out["series"]]
    out["metric"] = keys["metric"].to_numpy()[out["series"]]
    out["origin_date"] = view.panel.dates[origin]
    out["model_rows_used"] = model.rows_used
    out["model_trained_windows"] = ",".join(str(w) for w in model.trained_windows)
    return out.drop(columns=["series"])


def breach_probabilities(
    features: TableLike, servers: TableLike, calendar: TableLike, thresholds: TableLike, settings_json: str
) -> pd.DataFrame:
    settings = RiskSettings.from_json(settings_json)
    inputs = prepare(features, servers, calendar, thresholds)
    rng = np.random.default_rng(settings.seed)
    model = train(inputs.view, settings, inputs.origin, rng)
    _log(
        f"risk model: {model.rows_used:,} training rows ({model.positives:,} crossings), windows "
        f"{list(model.trained_windows) or 'none'} trained, fitted in {model.fit_seconds}s"
    )
    if not model.trained_windows:
        _log("risk model: the history is too short to label any window; probabilities are the base rate")
    return score(inputs, model, settings)


# --- the calibration backtest ------------------------------------------------------------


def _backtest_origins(view: PanelView, window: int, first: int, last_day: int, stride: int) -> np.ndarray:
    last = last_day - window
    return np.arange(first, last + 1, stride) if last >= first else np.empty(0, dtype=int)


def _judged_rows(
    inputs: RiskInputs, model: ExceedanceModel, origin: int, window: int, series: np.ndarray
) -> pd.DataFrame:
    view = inputs.view
    top, labelled = view.window_max(origin, window)
    series = series[labelled[series]]
    if not series.size:
        return pd.DataFrame()
    state = view.state(origin)
    block = view.panel.y[origin + 1 : origin + 1 + window, series]
    frames = []
    for role, values in inputs.thresholds.items():
        x = values[series]
        probability, _ = model.probability(view, state, series, x, window)
        over = block > x[None, :]
        frames.append(
            pd.DataFrame(
                {
                    "series": series,
                    "threshold_role": role,
                    "threshold_pct": x,
                    "probability": probability,
                    "did_exceed": top[series] > x,
                    "is_breaching_at_origin": view.panel.y[origin, series] > x,
                    "was_over_last_7d": state.stats["max_7d"][series] > x,
                    "actual_first_day": np.where(over.any(axis=0), over.argmax(axis=0) + 1.0, np.nan),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    frame["origin_date"] = view.panel.dates[origin]
    frame["window_days"] = window
    return frame


def _no_backtest_rows() -> pd.DataFrame:
    """The backtest's columns with no rows: the marts still build, and say there is no evidence."""
    return pd.DataFrame(
        {
            "threshold_role": pd.Series(dtype="string"),
            "threshold_pct": pd.Series(dtype="float64"),
            "probability": pd.Series(dtype="float64"),
            "did_exceed": pd.Series(dtype="bool"),
            "is_breaching_at_origin": pd.Series(dtype="bool"),
            "was_over_last_7d": pd.Series(dtype="bool"),
            "actual_first_day": pd.Series(dtype="float64"),
            "origin_date": pd.Series(dtype="datetime64[ns]"),
            "window_days": pd.Series(dtype="int64"),
            "server_id": pd.Series(dtype="string"),
            "metric": pd.Series(dtype="string"),
            "archetype": pd.Series(dtype="string"),
            "validation_scheme": pd.Series(dtype="string"),
        }
    )


def backtest(inputs: RiskInputs, settings: RiskSettings, log: Callable[[str], None] = _log) -> pd.DataFrame:
    """Judge the model at past origins it did not train on.

    Long histories: temporal. The model is trained on windows that ended before the first
    judged origin, and judged at weekly origins over the last quarter with known outcomes.
    Short histories (weeks): server folds. Each fold's servers are judged at every origin by
    a model trained on the other servers (same period: common shocks are shared, stated in
    the mart as validation_scheme).
    """
    view = inputs.view
    rng = np.random.default_rng(settings.seed + 1)
    last_day = inputs.origin
    windows = [w for w in settings.windows if last_day - w >= MIN_ORIGIN_DAYS]
    if not windows:
        log("risk backtest skipped: no configured window fits in the history")
        return _no_backtest_rows()
    longest = max(windows)
    frames = []
    if last_day - longest >= TEMPORAL_BACKTEST_MIN_DAYS:
        scheme = "temporal"
        first = last_day - longest - BACKTEST_SPAN_DAYS
        model = train(view, settings, first, rng)
        for window in windows:
            for origin in _backtest_origins(view, window, first, last_day, 7):
                frames.append(_judged_rows(inputs, model, origin, window, view.live(origin)))
    else:
        scheme = "server_folds"
        servers = view.panel.keys["server_id"].to_numpy()
        order = {s: i for i, s in enumerate(sorted(set(servers)))}
        fold = np.array([order[s] % SERVER_FOLDS for s in servers])
        for k in range(SERVER_FOLDS):
            model = train(view, settings, last_day, rng, series_filter=fold != k)
            for window in windows:
                for origin in _backtest_origins(view, window, MIN_ORIGIN_DAYS - 1, last_day, 1):
                    live = view.live(origin)
                    frames.append(_judged_rows(inputs, model, origin, window, live[fold[live] == k]))
    frames = [f for f in frames if not f.empty]
    if not frames:
        log("risk backtest: no origin had a labelled window")
        return _no_backtest_rows()
    out = pd.concat(frames, ignore_index=True)
    keys = view.panel.keys
    out["server_id"] = keys["server_id"].to_numpy()[out["series"]]
    out["metric"] = keys["metric"].to_numpy()[out["series"]]
    out["archetype"] = keys["archetype"].to_numpy()[out["series"]]
    out["validation_scheme"] = scheme
    log(f"risk backtest ({scheme}): {len(out):,} judged series x origin x window x threshold rows")
    return out.drop(columns=["series"])


def risk_backtest_predictions(
    features: TableLike, servers: TableLike, calendar: TableLike, thresholds: TableLike, settings_json: str
) -> pd.DataFrame:
    settings = RiskSettings.from_json(settings_json)
    return backtest(prepare(features, servers, calendar, thresholds), settings)


def _panel_for_tests(panel: Panel, thresholds: dict[str, np.ndarray]) -> RiskInputs:
    """RiskInputs from an in-memory panel (tests and the bench)."""
    return RiskInputs(PanelView(panel, category_codes(panel)), thresholds, panel.origin_index())
