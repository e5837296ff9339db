"""dbt-duckdb plugin: prepares the machine before dbt opens its DuckDB connection.

Stages the bundled DuckDB extensions and creates the warehouse folder.

Listed under `plugins:` in profiles/profiles.yml, so a bare `dbt build` against s3:// works
offline as well as online.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from capacity_forecaster.duckdb_extensions import stage_bundled_extensions


class Plugin(BasePlugin):
    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        stage_bundled_extensions(config.get("extension_directory"))
        path = getattr(creds, "path", None)
        if path and path != ":memory:" and not str(path).startswith("md:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
