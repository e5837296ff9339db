"""The breach-probability model: probability math on known distributions, monotonicity in the
threshold and the window, extrapolation, first passage, and the backtest's honesty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from capacity_forecaster.forecasting.panel import Panel
from capacity_forecaster.risk.exceedance import PanelView, category_codes, train
from capacity_forecaster.risk.features import series_state, tail_probability
from capacity_forecaster.risk.pipeline import RiskInputs, backtest, first_passage, score
from capacity_forecaster.risk.settings import RiskSettings

SETTINGS = RiskSettings(
    windows=(7, 14),
    probability_cutoff=0.3,
    max_train_rows=60_000,
    model_params={"max_iter": 150, "learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 40},
    n_jobs=1,
    seed=3,
)


def make_panel(y: np.ndarray, metric: str = "cpu") -> Panel:
    days, series = y.shape
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    keys = pd.DataFrame(
        {"server_id": [f"s{i:03d}" for i in range(series)], "metric": metric, "archetype": "web"}
    )
    calendar_days = pd.date_range(dates[0], dates[-1] + pd.Timedelta(days=120))
    quarter_end = calendar_days + pd.offsets.QuarterEnd(0)
    calendar = pd.DataFrame({"days_to_quarter_end": (quarter_end - calendar_days).days}, index=calendar_days)
    return Panel(dates, keys, y, {}, calendar)


def inputs_for(panel: Panel, high: float = 80.0) -> RiskInputs:
    n = panel.n_series
    thresholds = {
        "high": np.full(n, high),
        "very_high": np.full(n, high + 10),
        "consolidation_ceiling": np.full(n, 60.0),
    }
    return RiskInputs(PanelView(panel, category_codes(panel)), thresholds, panel.origin_index())


@pytest.fixture(scope="module")
def uniform_fleet() -> RiskInputs:
    """Series of iid daily values: uniform on [0, 100] (P(max_W > x) = 1 - (x/100)^W), and
    flat series at 20 % and 95 % (never / always above 80)."""
    rng = np.random.default_rng(0)
    uniform = rng.uniform(0, 100, size=(160, 120))
    flat_low = 20 + rng.normal(0, 0.5, size=(160, 20))
    flat_high = 95 + rng.normal(0, 0.5, size=(160, 20))
    return inputs_for(make_panel(np.hstack([uniform, flat_low, flat_high])))


@pytest.fixture(scope="module")
def uniform_backtest(uniform_fleet: RiskInputs) -> pd.DataFrame:
    return backtest(uniform_fleet, SETTINGS, log=lambda _: None)


@pytest.fixture(scope="module")
def uniform_model(uniform_fleet: RiskInputs):
    return train(uniform_fleet.view, SETTINGS, uniform_fleet.origin, np.random.default_rng(1))


def test_probabilities_match_known_distributions(uniform_fleet, uniform_model):
    view, origin = uniform_fleet.view, uniform_fleet.origin
    state = view.state(origin)
    uniform, low, high = np.arange(120), np.arange(120, 140), np.arange(140, 160)
    # thresholds on and between the training grid
    for x, window in [(80.0, 7), (95.0, 7), (90.0, 14), (75.0, 3), (92.5, 14)]:
        truth = 1 - (x / 100) ** window
        p, _ = uniform_model.probability(view, state, uniform, np.full(120, x), window)
        assert abs(p.mean() - truth) < 0.08, (x, window, p.mean(), truth)
    p_low, _ = uniform_model.probability(view, state, low, np.full(20, 80.0), 14)
    p_high, _ = uniform_model.probability(view, state, high, np.full(20, 80.0), 14)
    assert p_low.max() < 0.05
    assert p_high.min() > 0.95


def test_probability_falls_with_threshold_and_grows_with_window(uniform_fleet, uniform_model):
    view, origin = uniform_fleet.view, uniform_fleet.origin
    state = view.state(origin)
    series = np.arange(160)
    by_threshold = np.stack(
        [uniform_model.probability(view, state, series, np.full(160, x), 14)[0] for x in range(40, 100, 5)]
    )
    assert (np.diff(by_threshold, axis=0) <= 1e-12).all()
    by_window = np.stack(
        [uniform_model.probability(view, state, series, np.full(160, 85.0), w)[0] for w in (1, 3, 7, 14)]
    )
    assert (np.diff(by_window, axis=0) >= -1e-12).all()


def test_windows_beyond_the_history_are_extrapolated_with_a_constant_hazard(uniform_fleet, uniform_model):
    view, origin = uniform_fleet.view, uniform_fleet.origin
    state = view.state(origin)
    longest = max(uniform_model.trained_windows)
    series = np.arange(120)
    base, extrapolated = uniform_model.probability(view, state, series, np.full(120, 97.0), longest)
    long, is_extrapolated = uniform_model.probability(view, state, series, np.full(120, 97.0), 3 * longest)
    assert not extrapolated and is_extrapolated
    np.testing.assert_allclose(long, 1 - (1 - base) ** 3)


def test_first_passage_is_a_distribution_function(uniform_fleet, uniform_model):
    series = np.arange(160)
    curve = first_passage(
        uniform_model, uniform_fleet.view, uniform_fleet.origin, series, np.full(160, 90.0), 30
    )
    assert curve.shape == (160, 30)
    assert (np.diff(curve, axis=1) >= 0).all()
    assert ((curve >= 0) & (curve <= 1)).all()
    # flat at 95 %: crossing 90 % is likely on day 1; flat at 20 %: never within 30 days
    assert (curve[140:, 0] > 0.9).all() and (curve[120:140, -1] < 0.05).all()


def test_score_rows_and_likely_crossing_days(uniform_fleet, uniform_model):
    out = score(uniform_fleet, uniform_model, SETTINGS)
    key = ["server_id", "metric", "window_days", "threshold_pct"]
    assert not out.duplicated(key).any()
    assert set(out["window_days"]) == set(SETTINGS.windows)
    high = out[(out.threshold_pct == 80.0) & (out.window_days == 14)].set_index("server_id")
    hot = high.loc[[f"s{i:03d}" for i in range(140, 160)]]
    assert (hot["days_to_likely_crossing"] == 1).all()
    idle = high.loc[[f"s{i:03d}" for i in range(120, 140)]]
    assert idle["days_to_likely_crossing"].isna().all()
    # the grid threshold rows carry no crossing day (only the configured thresholds do)
    assert out.loc[out.threshold_pct == 55.0, "days_to_likely_crossing"].isna().all()


def test_tail_probability_extrapolates_an_exponential_tail():
    rng = np.random.default_rng(5)
    y = 40 + rng.exponential(5.0, size=(90, 400))  # P(y > x) = exp(-(x - 40) / 5)
    state = series_state(y, 89, 45)
    series = np.arange(400)
    per_day_truth = np.exp(-(70 - 40) / 5)
    p = tail_probability(state, series, np.full(400, 70.0), np.full(400, 1))
    assert abs(np.median(p) - per_day_truth) < 0.6 * per_day_truth  # beyond every observed peak
    assert (p > 0).all()


def test_single_class_history_falls_back_to_a_base_rate():
    panel = make_panel(np.full((60, 10), 10.0))
    model = train(inputs_for(panel).view, SETTINGS, panel.origin_index(), np.random.default_rng(0))
    assert model.estimator is None and 0 < model.base_rate < 0.01


def test_backtest_never_judges_with_a_model_that_saw_the_outcome(uniform_backtest):
    rows = uniform_backtest
    assert set(rows["validation_scheme"]) == {"server_folds"}  # 160 days: too short for temporal
    assert not rows.duplicated(["server_id", "metric", "origin_date", "window_days", "threshold_role"]).any()
    # the outcome is recomputed from the panel: a uniform series exceeds 90 % in 14 days often
    judged = rows[(rows.threshold_role == "very_high") & (rows.window_days == 14)]
    assert 0.6 < judged["did_exceed"].mean() < 0.95
    # out-of-fold probabilities are still informative (calibrated within a broad margin)
    assert abs(judged["probability"].mean() - judged["did_exceed"].mean()) < 0.1


def test_short_history_uses_server_folds_and_long_history_temporal():
    rng = np.random.default_rng(9)
    long = make_panel(np.clip(50 + rng.normal(0, 15, size=(420, 30)), 0, 100))
    settings = RiskSettings(**{**SETTINGS.__dict__, "windows": (30,)})
    rows = backtest(inputs_for(long), settings, log=lambda _: None)
    assert set(rows["validation_scheme"]) == {"temporal"}
    first_judged = rows["origin_date"].min()
    assert first_judged >= long.dates[long.origin_index() - 30 - 91]


def test_a_history_too_short_to_judge_still_has_the_backtest_columns(uniform_fleet, uniform_backtest):
    """An empty backtest keeps the judged rows' columns and types: the calibration mart's contract
    still builds (and says there is no evidence) on a fleet with a few weeks of history."""
    judged = uniform_backtest
    too_short = RiskSettings(**{**SETTINGS.__dict__, "windows": (400,)})
    empty = backtest(uniform_fleet, too_short, log=lambda _: None)
    assert empty.empty and list(empty.columns) == list(judged.columns)
    for column in ("server_id", "metric", "validation_scheme", "threshold_role"):
        assert pd.api.types.is_string_dtype(empty[column]), column
