"""Process settings for the dbt Python models, applied before any model library loads.

OpenMP threads that spin while waiting (the GNU default) are ruinous on a busy machine:
dbt runs two Python models at a time on two cores, and scikit-learn's gradient boosting
opens thousands of short parallel regions. Measured on the shared 2-core machine (load 12):
the breach-probability model trained in 140 s and scored in 30 s with spinning threads,
8.0 s and 1.8 s with passive ones (6.7 s / 1.5 s on one thread). OMP_WAIT_POLICY is read
once, when the OpenMP runtime loads, so it is set here, before scikit-learn is imported; an
explicit value in the environment wins.
"""

from __future__ import annotations

import os
from pathlib import Path

from capacity_forecaster.progress import log, quiet_third_party

_done = [False]


def _openmp_loaded() -> bool:
    try:
        return "libgomp" in Path("/proc/self/maps").read_text()
    except OSError:
        return False


def prepare_python_model() -> None:
    """Idempotent; every Python model calls it first (through shared_panel)."""
    quiet_third_party()
    if _done[0]:
        return
    _done[0] = True
    if "OMP_WAIT_POLICY" not in os.environ:
        if _openmp_loaded():
            log("note: OpenMP was loaded before OMP_WAIT_POLICY could be set; set OMP_WAIT_POLICY=PASSIVE")
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
