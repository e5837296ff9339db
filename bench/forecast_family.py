"""One forecasting family, end to end, in its own process (for a clean peak RSS):
backtest over the holdout + final fit + score, on a warehouse built by run_bench.py.

    python bench/forecast_family.py WAREHOUSE.duckdb FAMILY        # prints one JSON line
    python bench/forecast_family.py WAREHOUSE.duckdb same-rows      # HGB vs seed RF/GB
"""

from __future__ import annotations

import json
import sys
import time

import duckdb
import numpy as np

from capacity_forecaster.config import find_project_dir, load_vars
from capacity_forecaster.forecasting.backtest import plan_backtest, run_backtest, score, train_final
from capacity_forecaster.forecasting.intervals import leave_one_origin_out
from capacity_forecaster.forecasting.panel import build_panel, seasonal_naive_scale
from capacity_forecaster.forecasting.settings import TABULAR_MODELS, ForecastSettings
from capacity_forecaster.forecasting.tabular import DesignBuilder, make_estimator

FAMILIES = {
    "baselines": ["seasonal_naive", "moving_average"],
    "global_hgb": ["global_hgb"],
    "random_forest": ["random_forest"],
    "gradient_boosting": ["gradient_boosting"],
    "prophet": ["prophet"],
}


def settings_for(models: list[str]) -> ForecastSettings:
    cfg = load_vars(find_project_dir())
    chosen = {m: {**p, "enabled": m in models} for m, p in cfg["forecast_models"].items()}
    return ForecastSettings.from_json(
        json.dumps(
            {
                "models": chosen,
                "horizon_days": cfg["forecast_horizon_days"],
                "holdout_fraction": cfg["holdout_fraction"],
                "cv_folds": cfg["cv_folds"],
                "min_history_days": cfg["min_history_days"],
                "backtest_origins": cfg["backtest_origins"],
                "train_origin_stride_days": cfg["train_origin_stride_days"],
                "horizons_per_origin": cfg["horizons_per_origin"],
                "max_train_rows_per_archetype": cfg["max_train_rows_per_archetype"],
                "max_train_rows_global": cfg["max_train_rows_global"],
                "prophet_backtest_servers_per_archetype": cfg["prophet_backtest_servers_per_archetype"],
                "n_jobs": cfg["forecast_n_jobs"],
                "seed": cfg["forecast_seed"],
                "engine": cfg["forecast_engine"],
                "spark_remote": cfg["spark_remote"],
                "spark_master": cfg["spark_master"],
            }
        )
    )


def load_panel(path: str):
    with duckdb.connect(path, read_only=True) as con:
        return build_panel(
            con.sql("select * from main_intermediate.int_daily_features_computed").to_arrow_table(),
            con.sql("select * from main_staging.stg_raw__servers").to_arrow_table(),
            con.sql("select * from main_intermediate.int_calendar_days_generated").to_arrow_table(),
        )


def accuracy(backtest) -> dict:
    rows = backtest[~backtest.is_cold_start]
    scaled = (rows.actual_pct - rows.yhat_pct).abs() / rows.scale
    out = {}
    for model, group in rows.groupby("model"):
        s = scaled[group.index]
        h = group.horizon_days
        inside80 = group.actual_pct.between(group.yhat_lower_80_pct, group.yhat_upper_80_pct)
        inside95 = group.actual_pct.between(group.yhat_lower_95_pct, group.yhat_upper_95_pct)
        ae = (group.actual_pct - group.yhat_pct).abs()
        out[model] = {
            "mase": round(s.mean(), 3),
            "mase_01_07": round(s[h <= 7].mean(), 3),
            "mase_08_30": round(s[(h > 7) & (h <= 30)].mean(), 3),
            "mase_31_90": round(s[h > 30].mean(), 3),
            "coverage_80": round(inside80.mean(), 3),
            "coverage_95": round(inside95.mean(), 3),
            "mae_pct": round(ae.mean(), 3),
            "quarter_end_mae_ratio": round(ae[group.is_end_of_quarter].mean() / ae.mean(), 3),
            "n_forecasts": len(group),
        }
        if "native_lower_80_pct" in group and group.native_lower_80_pct.notna().any():
            native = group.actual_pct.between(group.native_lower_80_pct, group.native_upper_80_pct)
            out[model]["native_coverage_80"] = round(native[group.native_lower_80_pct.notna()].mean(), 3)
    return out


def family(path: str, name: str) -> dict:
    panel = load_panel(path)
    settings = settings_for(FAMILIES[name])
    quiet = lambda _: None  # noqa: E731
    started = time.perf_counter()
    backtest = leave_one_origin_out(run_backtest(panel, settings, quiet), settings.interval_levels)
    backtest_s = time.perf_counter() - started
    started = time.perf_counter()
    trained = train_final(panel, settings, quiet)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    scored = score(panel, trained, settings)
    score_s = time.perf_counter() - started
    series = int(panel.n_series)
    result = {
        "family": name,
        "series": series,
        "backtest_seconds": round(backtest_s, 1),
        "train_seconds": round(train_s, 1),
        "score_seconds": round(score_s, 1),
        "total_seconds": round(backtest_s + train_s + score_s, 1),
        "forecast_rows": len(scored),
        "accuracy": accuracy(backtest),
    }
    if name == "prophet":
        sampled = backtest[backtest.model == "prophet"].groupby(["server_id", "metric"]).ngroups
        fits = series + len(plan_backtest(panel, settings).origins) * sampled
        result["prophet_series_per_second"] = round(fits / (backtest_s + train_s), 2)
    return result


def same_rows(path: str) -> dict:
    """Seed RF / GB params vs the global HGB on identical training rows."""
    panel = load_panel(path)
    settings = settings_for(list(TABULAR_MODELS))
    plan = plan_backtest(panel, settings)
    builder = DesignBuilder(panel)
    x, y = builder.training_set(
        plan.split - 1,
        settings.horizon_days,
        settings.train_origin_stride_days,
        settings.horizons_per_origin,
        np.random.default_rng(0),
    )
    pick = np.random.default_rng(1).choice(y.size, min(y.size, 100_000), replace=False)
    x, y = x[pick], y[pick]
    scale = seasonal_naive_scale(panel.y, upto=plan.split - 1)
    out = {"training_rows": int(y.size)}
    for name in TABULAR_MODELS:
        estimator = make_estimator(
            name, settings.params(name), settings.n_jobs, settings.seed, builder.categorical
        )
        started = time.perf_counter()
        estimator.fit(x, y)
        fit_s = time.perf_counter() - started
        errors = []
        for origin in plan.origins:
            yhat = builder.predict(estimator, origin, plan.horizon, np.arange(panel.n_series))
            errors.append(np.abs(panel.y[origin + 1 : origin + 1 + plan.horizon].T - yhat) / scale[:, None])
        out[name] = {
            "fit_seconds": round(fit_s, 2),
            "params": settings.params(name),
            "holdout_mase": round(float(np.nanmean(np.concatenate(errors, axis=1))), 3),
        }
    hgb = out["global_hgb"]["fit_seconds"]
    for name in ("random_forest", "gradient_boosting"):
        out[name]["fit_time_vs_global_hgb"] = round(out[name]["fit_seconds"] / hgb, 1)
    return out


if __name__ == "__main__":
    path, what = sys.argv[1], sys.argv[2]
    print(json.dumps(same_rows(path) if what == "same-rows" else family(path, what)))
