"""Risk-model settings, parsed from the JSON the dbt Python models receive (built from vars).

Every key is required, as for the forecasting settings: a Python model never falls back to a
silent default that could shadow a project var.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from capacity_forecaster.config import ConfigError

# Windows and thresholds the model learns from, besides the configured ones. A spread of both
# teaches it how the chance of a crossing grows with the window and falls with the threshold,
# so any threshold a planner asks about (fct_breach_probabilities) is answered by one model.
TRAINING_WINDOWS = (1, 3, 7, 14, 30, 60, 90)
TRAINING_THRESHOLDS = (30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 85.0, 90.0, 95.0, 98.0)
# Thresholds every live series is scored at for the public probability grid.
GRID_THRESHOLDS = tuple(float(x) for x in range(50, 100, 5))


@dataclass(frozen=True)
class RiskSettings:
    windows: tuple[int, ...]  # var risk_windows
    probability_cutoff: float  # var breach_probability_cutoff
    max_train_rows: int  # var max_train_rows_risk
    model_params: dict[str, Any]  # var risk_model
    n_jobs: int
    seed: int

    @classmethod
    def from_json(cls, text: str | dict) -> RiskSettings:
        raw = json.loads(text) if isinstance(text, str) else dict(text)
        try:
            settings = cls(
                windows=tuple(sorted(int(w) for w in raw["windows"])),
                probability_cutoff=float(raw["probability_cutoff"]),
                max_train_rows=int(raw["max_train_rows"]),
                model_params=dict(raw["model_params"]),
                n_jobs=int(raw["n_jobs"]),
                seed=int(raw["seed"]),
            )
        except KeyError as exc:
            raise ConfigError(f"risk settings lack {exc.args[0]!r}") from exc
        if not settings.windows or not 0 < settings.probability_cutoff < 1:
            raise ConfigError("risk_windows must be non-empty and breach_probability_cutoff in (0, 1)")
        return settings

    @property
    def training_windows(self) -> tuple[int, ...]:
        return tuple(sorted(set(TRAINING_WINDOWS) | set(self.windows)))
