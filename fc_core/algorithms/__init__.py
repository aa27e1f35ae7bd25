"""Algorithms behind one estimator/predictor contract; see :mod:`fc_core.algorithms.base`.

Modules are imported on first use, so ``import fc_core`` stays fast and torch,
gluonts or prophet load only when an algorithm that needs them runs.
"""
from .base import (  # noqa: F401
    Capabilities, Estimator, ForecastArrays, Predictor, available_algorithms, get_estimator_class,
    make_estimator, register,
)
