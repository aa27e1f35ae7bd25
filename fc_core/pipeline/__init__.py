"""Forecasting in production: ingest new data, monitor accuracy, retrain past a threshold, forecast, publish.

The subpackage, in the order a run uses it:

* :mod:`~fc_core.pipeline.config` - the YAML configuration, checked key by key;
* :mod:`~fc_core.pipeline.steps` - the steps as plain functions (list and read drops, check, quarantine, score,
  decide to retrain) and the run lock;
* :mod:`~fc_core.pipeline.catalog` - what each run did, so that a rerun does only what is missing;
* :mod:`~fc_core.pipeline.publish` - versioned publication to SQLite or PostgreSQL, and queries;
* :mod:`~fc_core.pipeline.core` - :class:`Pipeline`, which strings them together (one cycle per ``run``);
* :mod:`~fc_core.pipeline.cli` - ``python -m fc_core.pipeline run|status|query|history CONFIG`` and its exit codes;
* :mod:`~fc_core.pipeline.example` - the EC2 cache-pool example of the ``production_pipeline`` notebook.
"""
from __future__ import annotations

from .cli import exit_code, main
from .config import PipelineConfig, load_config
from .core import POINTS, Pipeline, RunResult
from .publish import PublicationError, query_forecast
from .steps import PipelineBusyError  # noqa: F401  (also importable from here, as before)

__all__ = ["Pipeline", "RunResult", "PipelineConfig", "load_config", "query_forecast", "main"]
