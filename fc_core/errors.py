"""Errors raised by fc_core.

Every error a user can cause is one of these, with a message that names the
file, column, item and row involved and says how to fix it.

>>> issubclass(SchemaError, ValueError) and issubclass(DataError, ValueError)
True
"""
from __future__ import annotations


class ForecastError(Exception):
    """Base class of every error fc_core raises on purpose."""


class SchemaError(ForecastError, ValueError):
    """A schema, column mapping, domain or dataset type is wrong."""


class DataError(ForecastError, ValueError):
    """The data itself is wrong: unparseable values, duplicates, gaps without a rule."""


class ConfigError(ForecastError, ValueError):
    """A parameter is out of range or inconsistent (horizon, quantiles, windows)."""


class NotTrainedError(ForecastError, RuntimeError):
    """A predictor or AutoPredictor was used before ``train``."""


class ArtifactError(ForecastError, ValueError):
    """A saved artifact cannot be loaded: not written by fc_core, wrong version or wrong key."""


class TrainingStopped(ForecastError):
    """Raised by a progress callback to stop ``AutoPredictor.train`` between two steps
    (a Stop button); the AutoPredictor is left as it was before the call."""


class MissingDependencyError(ForecastError, ImportError):
    """An optional library is not installed; the message gives the install command."""

    def __init__(self, package: str, feature: str, pip_name: str | None = None):
        self.package = package
        pip_name = pip_name or package
        super().__init__(
            f"{feature} needs the optional package '{package}', which is not installed. "
            f"Install it with:  pip install '{pip_name}'"
        )


def require(module: str, feature: str, pip_name: str | None = None):
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``feature``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise MissingDependencyError(module.split(".")[0], feature, pip_name) from exc
