"""Forecast settings, parsed from the JSON the dbt Python models receive (built from vars).

Every key is required: a Python model never falls back to a silent default that could
shadow a project var.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from capacity_forecaster.config import ConfigError

TABULAR_MODELS = ("global_hgb", "random_forest", "gradient_boosting")
LOCAL_MODELS = ("seasonal_naive", "last_value", "moving_average", "prophet")
KNOWN_MODELS = (*LOCAL_MODELS, *TABULAR_MODELS, "amazon_forecast")
# Fixed by the forecast marts' contracts (yhat_lower_80_pct ... yhat_upper_95_pct).
INTERVAL_LEVELS = (0.8, 0.95)
ENGINES = ("local", "spark")


@dataclass(frozen=True)
class ForecastSettings:
    models: dict[str, dict[str, Any]]
    horizon_days: int
    holdout_fraction: float
    cv_folds: int
    min_history_days: int
    backtest_origins: int
    train_origin_stride_days: int
    horizons_per_origin: int
    max_train_rows_per_archetype: int
    max_train_rows_global: int
    prophet_backtest_servers_per_archetype: int
    n_jobs: int
    seed: int
    # Where per-series / per-group model work runs (capacity_forecaster.engines): "local"
    # (this process, joblib for Prophet) or "spark" (a session from spark_remote or spark_master).
    engine: str
    spark_remote: str | None
    spark_master: str | None

    @classmethod
    def from_json(cls, text: str) -> ForecastSettings:
        raw = json.loads(text) if isinstance(text, str) else dict(text)
        try:
            settings = cls(
                models=raw["models"],
                horizon_days=int(raw["horizon_days"]),
                holdout_fraction=float(raw["holdout_fraction"]),
                cv_folds=int(raw["cv_folds"]),
                min_history_days=int(raw["min_history_days"]),
                backtest_origins=int(raw["backtest_origins"]),
                train_origin_stride_days=int(raw["train_origin_stride_days"]),
                horizons_per_origin=int(raw["horizons_per_origin"]),
                max_train_rows_per_archetype=int(raw["max_train_rows_per_archetype"]),
                max_train_rows_global=int(raw["max_train_rows_global"]),
                prophet_backtest_servers_per_archetype=int(raw["prophet_backtest_servers_per_archetype"]),
                n_jobs=int(raw["n_jobs"]),
                seed=int(raw["seed"]),
                engine=str(raw["engine"]),
                spark_remote=raw["spark_remote"],
                spark_master=raw["spark_master"],
            )
        except KeyError as exc:
            raise ConfigError(f"forecast settings lack {exc.args[0]!r}") from exc
        unknown = set(settings.models) - set(KNOWN_MODELS)
        if unknown:
            raise ConfigError(f"unknown forecast model(s) {sorted(unknown)}; known: {KNOWN_MODELS}")
        if settings.enabled("amazon_forecast"):
            raise ConfigError(
                "forecast_models.amazon_forecast is enabled, but Amazon Forecast is not "
                "integrated in this build (and AWS closed the service to new customers); set "
                "forecast_models.amazon_forecast.enabled: false"
            )
        if settings.engine not in ENGINES:
            raise ConfigError(f"unknown forecast engine {settings.engine!r}; known: {ENGINES}")
        if not any(settings.enabled(m) for m in KNOWN_MODELS):
            raise ConfigError("no forecast model is enabled in var forecast_models")
        return settings

    @property
    def interval_levels(self) -> tuple[float, ...]:
        return INTERVAL_LEVELS

    def enabled(self, model: str) -> bool:
        return bool(self.models.get(model, {}).get("enabled", False))

    def params(self, model: str) -> dict[str, Any]:
        return {k: v for k, v in self.models.get(model, {}).items() if k != "enabled"}

    @property
    def enabled_models(self) -> list[str]:
        return [m for m in KNOWN_MODELS if self.enabled(m)]
