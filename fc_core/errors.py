"""Errors raised by fc_core.

Every error a user can cause is one of these, with a message that names the
file, column, item and row involved and says how to fix it.

>>> issubclass(SchemaError, ValueError) and issubclass(DataError, ValueError)
True
"""
from __future__ import annotations


# Machine-readable reasons (``ForecastError.reason``) for the errors that code handles, e.g. the
# notebooks' loader reading a file again another way. Code branches on these, never on the message,
# which is for people and may name any file, column or item.
NO_FREQUENCY = "no_frequency"
"""The frequency could not be inferred: no item has two time stamps."""
OFF_GRID = "off_grid"
"""A time stamp is not a whole number of frequency steps after its item's first one."""
BOUNDARIES_DIFFER = "boundaries_differ"
"""Weekly, monthly or yearly series start on different boundaries (weekdays, days of the month)."""
YEAR_START = "year_start"
"""Yearly data does not start on the 1st of a month."""
MISSING_COLUMNS = "missing_columns"
"""Required columns are missing; ``details``: ``columns`` (the missing names) and ``dataset_type``."""
METADATA_ITEMS_WITHOUT_TARGET = "metadata_items_without_target"
"""The item metadata names items that have no target series; ``details``: ``items`` (all of them)
and ``lines`` (the CSV lines of the first five, 1-based; None for a row not read from a CSV file)."""


class ForecastError(Exception):
    """Base class of every error fc_core raises on purpose.

    ``reason`` is one of the constants above (None for errors no code handles) and ``details`` the
    facts that go with it; both survive pickling (parallel workers).

    >>> e = DataError("no item has two timestamps", reason=NO_FREQUENCY)
    >>> (str(e), e.reason, e.details)
    ('no item has two timestamps', 'no_frequency', {})
    """

    reason: str | None = None

    def __init__(self, *args, reason: str | None = None, **details):
        super().__init__(*args)
        self.reason = reason
        self.details = details


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
