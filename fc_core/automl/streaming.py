"""Forecasts in item chunks: :meth:`AutoPredictor.forecast_chunks` and :meth:`AutoPredictor.forecast_to`.

For many items (issue 17: 100,000 daily series) the forecasts of all items need not be in memory at
once: each chunk of items is cut out of the packed panel, forecast by every retrained candidate the
blend needs, blended with the per-item choice exactly as :meth:`AutoPredictor.forecast` does, and
handed on (yielded, or written as one part file of a folder by :func:`fc_core.forecast.export_parts`).

A chunk's numbers equal ``forecast()``'s for every item with history, bit for bit, with these exceptions
(they hold for ``forecast(items=...)`` as well, since they depend on which items are forecast together):

* cold-start items (no observed history) are forecast as the average of the items with history in the
  same call, so in a chunk from that chunk's items (``forecast()`` uses all items);
* DeepAR+ draws the sample paths of all the items of a call from one random stream
  (``Predictor.shared_draws``): in chunks its forecasts are other draws from the same distributions (on
  60 synthetic retail items, 100 sample paths, its p50 moved by 3% of its total);
* MLP-QR computes in float32, and for a batch of a few items (a short last chunk) the matrix kernels add
  in another order: differences in the sixth significant digit.

``forecast_to`` warns of the first two and counts them in the folder's ``_forecast_parts.json``.
"""
from __future__ import annotations

import time
import warnings
from typing import Callable, Iterator

import numpy as np

from .. import costs
from ..algorithms.base import select_items, to_forecast_frame
from ..errors import ConfigError
from ..forecast import Forecast, export_parts
from .presets import _progress

#: Items per chunk by default: 10,000 items x 14 steps x 4 forecast types x a few candidates is tens of MB.
DEFAULT_CHUNK_ITEMS = 10_000


def _check_chunk_items(chunk_items) -> int:
    if isinstance(chunk_items, bool) or not isinstance(chunk_items, (int, np.integer)) or chunk_items < 1:
        raise ConfigError(f"chunk_items must be a positive whole number of items, got {chunk_items!r}.")
    return int(chunk_items)


class _StreamingMixin:
    """The AutoPredictor's chunked forecasts (they use its retrained candidates and per-item choice)."""

    def _rows_to_forecast(self, items=None, data=None):
        """The panel to forecast (the training data, or ``data``) and the positions of the items asked for."""
        self._check()
        panel = self.panel if data is None else self._panel_of(data)
        if items is None:
            return panel, np.arange(panel.n_series)
        want = set(select_items(panel, items).keys.astype(str).apply(tuple, axis=1))
        key = panel.keys.astype(str).apply(tuple, axis=1)
        return panel, np.flatnonzero(key.isin(want).to_numpy())

    def _forecast_rows(self, panel, rows, choice) -> Forecast:
        """One chunk: the forecasts of ``panel``'s series at ``rows``, as :meth:`forecast` makes them."""
        sub = panel.select(rows)
        out = self._combine(self._candidate_arrays(sub), sub, choice=choice[rows])
        return Forecast(to_forecast_frame(sub, out, self.forecast_types), sub.key_columns, self.target_field,
                        sub.frequency, info={"weights": dict(self.weights_)})

    def forecast_chunks(self, chunk_items: int = DEFAULT_CHUNK_ITEMS, items=None, data=None) -> Iterator[Forecast]:
        """Forecasts of all items (or ``items``, of ``data``) as :class:`~fc_core.forecast.Forecast` objects of
        at most ``chunk_items`` items each, in the data's item order, one chunk computed per step of the
        iteration (so only one chunk's forecasts are in memory). Concatenated they are :meth:`forecast`'s
        rows, except as the module doc says (cold-start items, DeepAR+'s draws, MLP-QR's float32).

        Raises
        ------
        ConfigError
            For a ``chunk_items`` that is not a positive whole number, or an item not in the data.
        """
        chunk_items = _check_chunk_items(chunk_items)
        panel, rows = self._rows_to_forecast(items, data)
        choice = self._choice_for(panel)
        for a in range(0, len(rows), chunk_items):
            with self._parallel():  # not held between steps: the caller runs its own code there
                fc = self._forecast_rows(panel, rows[a:a + chunk_items], choice)
            yield fc

    def forecast_to(self, path, chunk_items: int = DEFAULT_CHUNK_ITEMS, fmt: str = "parquet", items=None,
                    data=None, timestamps: str = "amazon", progress: bool = True,
                    callback: Callable[[dict], None] | None = None) -> str:
        """Forecast item chunk by chunk and write each chunk as one part file of the folder ``path``
        (CreateForecastExportJob for data too large to hold all its forecasts in memory).

        The folder holds ``part-00000.parquet`` ... in :meth:`Forecast.export`'s layout (keys, ``date``,
        ``p10``, ``p50``, ``p90``, ``mean``) and ``_forecast_parts.json``; read it with
        ``pd.read_parquet(path)``. It appears at ``path`` only when complete (written beside it, then
        renamed): Ctrl-C, an error, or :class:`~fc_core.errors.TrainingStopped` raised by ``callback``
        leaves no part of it there. ``progress`` shows a bar over the chunks; ``callback`` receives a dict
        (``stage`` ``"forecast"``, ``chunk``, ``chunks``, ``items_done``, ``items``, ``elapsed``) after
        each chunk is written. See :meth:`forecast_chunks` for ``chunk_items``, ``items`` and ``data``,
        and :func:`fc_core.forecast.export_parts` for ``fmt``, ``timestamps`` and the folder.

        Returns the folder's path.
        """
        chunk_items = _check_chunk_items(chunk_items)
        panel, rows = self._rows_to_forecast(items, data)
        n_chunks = -(-len(rows) // chunk_items)
        cold = int(((panel.lengths[rows] == 0) | (panel.observed_counts()[rows] == 0)).sum()) if n_chunks > 1 else 0
        if cold:
            warnings.warn(f"{cold} cold-start item(s) (no observed history) are forecast from the items with history "
                          f"in their own chunk of {chunk_items} items, not from all items as forecast() does; "
                          "give chunk_items >= the item count to use all items.", UserWarning, stacklevel=2)
        drawn = [a for a, p in self.predictors_.items() if getattr(p, "shared_draws", False)] if n_chunks > 1 else []
        if drawn:
            warnings.warn(f"{', '.join(drawn)} draw(s) the sample paths of all the items of a call from one random "
                          "stream: in chunks their forecasts are other draws than forecast()'s (the same distributions).",
                          UserWarning, stacklevel=2)
        info = {"chunk_items": chunk_items, "algorithms": list(self.predictors_), "weights": dict(self.weights_),
                "cold_start_items_from_chunk_donors": cold, "drawn_per_chunk": drawn}
        t0 = time.perf_counter()
        done = [0, 0, 0]  # chunks, items, rows

        def chunks():
            choice = self._choice_for(panel)
            for a in range(0, len(rows), chunk_items):
                bar.set_description(f"forecast chunk {a // chunk_items + 1}/{n_chunks}")
                yield self._forecast_rows(panel, rows[a:a + chunk_items], choice)

        def on_part(part: dict):
            done[0], done[1], done[2] = done[0] + 1, done[1] + part["items"], done[2] + part["rows"]
            bar.update(1)
            if callback is not None:
                callback({"stage": "forecast", "chunk": part["part"], "chunks": n_chunks, "items_done": done[1],
                          "items": len(rows), "elapsed": time.perf_counter() - t0})

        if self.__dict__.get("cost_log_") is None:
            self.cost_log_ = costs.CostLog()
        bar = _progress(n_chunks, progress, "forecast")
        try:
            with self._parallel(), costs.measure("forecast", self.cost_log_, kind="forecast",
                                                 label="+".join(self.algorithms)) as m:
                out = export_parts(chunks(), path, fmt=fmt, timestamps=timestamps, info=info, on_part=on_part)
                ntypes = len(self.forecast_types)
                m.update(n_series=done[1], n_forecast_types=ntypes, n_forecast_values=done[2] * ntypes)
        finally:
            bar.close()
        return out
