"""Slicing, search and messages behind the interactive panels (``fc_widgets``).

The panels stay thin: every control change calls one function or method here,
then draws with :mod:`fc_core.plotting`. Everything here is pure pandas/numpy and
fast enough for thousands of items: per-item slices come from precomputed row
positions, not from a scan of the whole frame.

>>> import pandas as pd
>>> idx = ItemIndex(pd.DataFrame({"item_id": ["client_2", "client_12", "client_1", "shop_1"]}))
>>> idx.labels
['client_1', 'client_2', 'client_12', 'shop_1']
>>> idx.search("client_1")
(['client_1', 'client_12'], 2)
>>> idx.search("2", limit=1)
(['client_2'], 2)
"""
from .data_files import (DEMO_DOMAINS, SOURCE_KEYS, apply_column_mapping, build_dataset_group,  # noqa: F401
                         check_column_mapping, demo_sources, error_rows, guess_column_mapping, looks_like_header,
                         preview_file, reader_options, summary_tables)
from .forecasts import ForecastView, band_choices, export_csv, quantile_columns  # noqa: F401
from .items import (ALL_ITEMS, DEFAULT_LIMIT, HistoryView, ItemIndex, envelope, item_labels,  # noqa: F401
                    natural_key, search_message, step_name)
from .leaderboard import (LEADERBOARD_INFO, blend_summary, ensemble_check_text, fallback_text,  # noqa: F401
                          metric_columns, progress_text, rank_leaderboard, training_steps)
from .windows import BACKTEST_META, WindowPlan, coverage_message, plan_windows  # noqa: F401

__all__ = ["ALL_ITEMS", "ItemIndex", "HistoryView", "ForecastView", "WindowPlan", "plan_windows",
           "coverage_message", "quantile_columns", "band_choices", "metric_columns", "rank_leaderboard",
           "export_csv", "training_steps", "progress_text", "ensemble_check_text", "blend_summary", "fallback_text", "guess_column_mapping", "apply_column_mapping", "error_rows",
           "item_labels", "natural_key", "search_message", "step_name", "preview_file", "looks_like_header",
           "reader_options", "check_column_mapping", "envelope", "demo_sources", "build_dataset_group", "summary_tables"]
