"""Time grids, missing values and aggregation (Amazon Forecast's featurization), vectorised.

Data live here as a :class:`SeriesBlock`: rows sorted by key and time, with the
key of each row as an integer code, timestamps as int64 nanoseconds and every
field as one array, so that checks and fills run without Python loops over rows.

Missing values (Amazon Forecast's ``FillMethods``)
--------------------------------------------------
For every series the time line splits into regions:

* ``frontfill``: before the series' first timestamp (target: always ``none``,
  nothing is added; related series: only where the target starts earlier);
* ``middlefill``: gaps between its first and last timestamp, and empty values;
* ``backfill``: after its last timestamp up to the dataset group's end (the last
  target timestamp of all items);
* ``futurefill`` (related series only): after the group's end, up to end + horizon.

Each region takes one of ``zero``, ``nan``, ``value`` (with ``<region>_value``),
``mean``, ``median``, ``min`` or ``max``, where the statistics are taken over the
observed values of the same series (item). The target defaults to
``middlefill=zero, backfill=zero``; related fields have no default, so a gap
there without a rule is a :class:`~fc_core.errors.DataError`. Filled target
points are marked in the ``_filled`` column.

What a filled target point means follows the fill method, as in Amazon Forecast,
whose models read a zero-filled point as a recorded zero and ignore a NaN-filled one:
``zero`` and ``value`` state a real value (an absent row of counts is a zero), so
those points are trained on and scored like observed ones; ``nan``, ``mean``,
``median``, ``min`` and ``max`` are estimates (:data:`ESTIMATE_METHODS`), marked
*estimated*: algorithms do not learn from them and backtests do not score them.

Aggregation
-----------
To a coarser frequency, with ``sum`` (default), ``avg``, ``first``, ``min`` or
``max``, on Amazon Forecast's boundaries (weeks start on Monday, months on the 1st,
years on 1 January, days at midnight) unless ``align`` moves them, like
Amazon's ``TimeAlignmentBoundary``: ``{"DayOfWeek": "SUNDAY"}`` for weeks,
``{"DayOfMonth": 15}`` for months, ``{"Month": "APRIL"}`` for years and
``{"Hour": 6}`` for days and longer. A bucket is labelled with its first instant.

>>> import numpy as np
>>> ts = np.array(["2024-01-06T10", "2024-01-07T00", "2024-01-08T05"], dtype="M8[ns]").view(np.int64)
>>> bucket_start(ts, "W").view("M8[ns]").astype(str).tolist()
['2024-01-01T00:00:00.000000000', '2024-01-01T00:00:00.000000000', '2024-01-08T00:00:00.000000000']
>>> bucket_start(ts, "W", {"DayOfWeek": "SUNDAY"}).view("M8[ns]").astype("M8[D]").astype(str).tolist()
['2023-12-31', '2024-01-07', '2024-01-07']
"""
from __future__ import annotations

from .aggregate import (AGG_METHODS, _MONTHS, _WEEKDAYS, aggregate_block, bucket_start, check_aggregation, parse_align,
                        partial_last_bucket)
from .blocks import (_CHUNK, DAY, DUPLICATE_METHODS, HOUR, MINUTE, SeriesBlock, _check_dup_method, concat_blocks,
                     reduce_groups, resolve_duplicates, sort_block, take_chunked)
from .fill import (ESTIMATE_METHODS, FILL_METHODS, FILL_REGION_CODES, RELATED_REGIONS, TARGET_DEFAULT_FILL,
                   TARGET_REGIONS, FillResult, FillRule, _fill_values, _key_stat, _raise_gap, _rule, fill_block,
                   parse_fill, parse_region_rules)
from .grid import _month_start, _months, _unit, check_grid, floor_steps, grid_time, infer_frequency

__all__ = ["SeriesBlock", "FillRule", "parse_fill", "fill_block", "bucket_start", "aggregate_block",
           "partial_last_bucket",
           "check_aggregation", "infer_frequency", "check_grid", "FILL_METHODS", "AGG_METHODS", "ESTIMATE_METHODS"]
