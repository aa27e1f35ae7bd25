"""fc_core: Amazon Forecast's workflow as a library, on your own machine.

Heavy libraries (torch, gluonts, prophet, statsforecast) load only when an
algorithm that needs them runs, so ``import fc_core`` is fast.

>>> import fc_core
>>> fc_core.frequency.to_pandas_freq("H")
'h'
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> "module:attribute"; resolved on first access (PEP 562)
_LAZY = {
    "DatasetGroup": "fc_core.datasets:DatasetGroup",
    "read_dataset": "fc_core.datasets:read_dataset",
    "Schema": "fc_core.schema:Schema",
    "DOMAINS": "fc_core.schema:DOMAINS",
    "Panel": "fc_core.panel:Panel",
    "AutoPredictor": "fc_core.automl:AutoPredictor",
    "Forecast": "fc_core.forecast:Forecast",
    "make_estimator": "fc_core.algorithms.base:make_estimator",
    "available_algorithms": "fc_core.algorithms.base:available_algorithms",
    "load_predictor": "fc_core.algorithms.base:Predictor.load",
    "demo": "fc_core.demo",
    "metrics": "fc_core.metrics",
    "backtest": "fc_core.backtest",
    "frequency": "fc_core.frequency",
    "errors": "fc_core.errors",
    "plotting": "fc_core.plotting",
    "io": "fc_core.io",
    "views": "fc_core.views",
    "Pipeline": "fc_core.pipeline:Pipeline",
    "query_forecast": "fc_core.pipeline:query_forecast",
    "what_if": "fc_core.whatif:what_if",
    "lifecycle": "fc_core.lifecycle",
    "changepoints": "fc_core.changepoints",
    "costs": "fc_core.costs",
    "security": "fc_core.security",
    "hard_cases": "fc_core.hard_cases",
    "whatif": "fc_core.whatif",
    "workflow": "fc_core.workflow",
}


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'fc_core' has no attribute {name!r}")
    mod, _, attr = target.partition(":")
    obj = importlib.import_module(mod)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    globals()[name] = obj
    return obj


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = list(_LAZY)
