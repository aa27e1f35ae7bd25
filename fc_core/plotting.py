"""Matplotlib charts shared by the widgets and the notebooks.

Every function returns a ``matplotlib.figure.Figure`` and never calls
``plt.show()``; titles, axis labels and legends name the item, the quantiles and
the target.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError

BAND_COLOR = "#1f77b4"
ACTUAL_COLOR = "#222222"


def _figure(ax=None, figsize=(10, 3.6)):
    import matplotlib

    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    matplotlib.rcParams.setdefault("figure.dpi", 100)
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot(1, 1, 1)


def history_of(data, item_id=None, target_field: str | None = None, **dimensions) -> pd.Series:
    """The target of one item (and dimension values) as a time-indexed Series, or the sum
    over all items when ``item_id`` is None. ``data`` is a DatasetGroup or a canonical frame."""
    frame = getattr(data, "target", data)
    keys = getattr(data, "key_columns", None) or [frame.columns[0]]
    target = target_field or getattr(data, "target_field", None) or frame.columns[-1]
    mask = pd.Series(True, index=frame.index)
    filters = dict(dimensions)
    if item_id is not None:
        filters[keys[0]] = item_id
    for col, val in filters.items():
        mask &= frame[col].astype(str) == str(val)
    if item_id is not None and not mask.any():
        raise ConfigError(f"item {item_id!r} {dimensions or ''} is not in the data.")
    sel = frame.loc[mask, ["timestamp", target]]
    return sel.groupby("timestamp")[target].sum().sort_index()


def quantile_pairs(columns: Sequence[str]) -> list[tuple[str, str]]:
    """Symmetric quantile column pairs, outermost first: ``[("p10", "p90")]`` for p10/p50/p90."""
    qs = sorted((float(c[1:]), c) for c in columns if c.startswith("p") and _is_num(c[1:]))
    pairs = []
    i, j = 0, len(qs) - 1
    while i < j:
        if qs[i][0] < 50 < qs[j][0]:
            pairs.append((qs[i][1], qs[j][1]))
        i, j = i + 1, j - 1
    return pairs


def _is_num(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def plot_forecast(forecast, item_id, history=None, interval: tuple[str, str] | None = None,
                  actuals: pd.Series | pd.DataFrame | None = None, history_points: int | None = None,
                  ax=None, title: str | None = None, target_label: str | None = None, **dimensions):
    """Fan chart of one item: history, quantile bands, median, mean, and actuals when known.

    Parameters
    ----------
    forecast : Forecast or DataFrame
        Forecast frame with ``timestamp`` and quantile columns.
    item_id : str
        The item to draw.
    history : DatasetGroup or DataFrame, optional
        Past values drawn before the forecast.
    interval : (str, str), optional
        The band to draw, e.g. ``("p10", "p90")``; default every symmetric pair.
    actuals : Series or DataFrame, optional
        Values over the forecast period (backtests).
    history_points : int, optional
        Draw only the last so many points of history (default 4 horizons).
    """
    frame = getattr(forecast, "frame", forecast)
    keys = getattr(forecast, "key_columns", None) or [frame.columns[0]]
    f = frame[frame[keys[0]].astype(str) == str(item_id)]
    for col, val in dimensions.items():
        f = f[f[col].astype(str) == str(val)]
    if f.empty:
        raise ConfigError(f"no forecast for item {item_id!r} {dimensions or ''}.")
    f = f.sort_values("timestamp")
    fig, ax = _figure(ax)
    if history is not None:
        h = history_of(history, item_id, **dimensions)
        n = history_points if history_points is not None else 4 * len(f)
        h = h.iloc[-n:] if n else h.iloc[:0]
        ax.plot(h.index, h.values, color=ACTUAL_COLOR, lw=1.1, label="history")
    cols = [c for c in f.columns if c not in (*keys, "timestamp")]
    pairs = [interval] if interval else quantile_pairs(cols)
    for k, (lo, hi) in enumerate(pairs):
        if lo not in f.columns or hi not in f.columns:
            raise ConfigError(f"the forecast has no {lo}/{hi} columns; it has {cols}.")
        ax.fill_between(f["timestamp"], f[lo], f[hi], color=BAND_COLOR, alpha=0.18 + 0.12 * k,
                        lw=0, label=f"{lo} to {hi}")
    if "p50" in f.columns:
        ax.plot(f["timestamp"], f["p50"], color=BAND_COLOR, lw=1.6, label="p50 (median)")
    if "mean" in f.columns:
        ax.plot(f["timestamp"], f["mean"], color="#ff7f0e", lw=1.2, ls="--", label="mean")
    if actuals is not None:
        a = actuals
        if isinstance(a, pd.DataFrame):
            tcol = [c for c in a.columns if c not in (*keys, "timestamp")][0]
            a = a.set_index("timestamp")[tcol]
        ax.plot(a.index, a.values, color="#d62728", lw=1.2, marker=".", ms=3, label="actual")
    label = target_label or getattr(history, "target_field", None) or "target"
    ax.set_title(title or f"Forecast for {item_id}" + "".join(f", {k}={v}" for k, v in dimensions.items()))
    ax.set_xlabel("time")
    ax.set_ylabel(label)
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    ax.grid(alpha=0.25)
    return fig


def plot_backtest_windows(data, windows, item_id=None, ax=None, title: str | None = None):
    """The data's timeline (one item, or all items summed) with backtest windows shaded."""
    h = history_of(data, item_id)
    fig, ax = _figure(ax)
    ax.plot(h.index, h.values, color=ACTUAL_COLOR, lw=0.9, label=f"{item_id}" if item_id else "all items (sum)")
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
    for w in windows:
        c = colors[w.index % len(colors)]
        ax.axvspan(w.start, w.end, color=c, alpha=0.25, label=f"backtest window {w.index + 1}")
        ax.axvline(w.cutoff, color=c, lw=0.8, ls=":")
    label = getattr(data, "target_field", "target")
    ax.set_title(title or f"Backtest windows over {'item ' + str(item_id) if item_id else 'all items (sum)'}")
    ax.set_xlabel("time")
    ax.set_ylabel(label)
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    ax.grid(alpha=0.25)
    return fig


def plot_leaderboard(board: pd.DataFrame, metric: str = "AverageWeightedQuantileLoss", ax=None):
    """Horizontal bars of one metric per algorithm, best marked."""
    from .metrics import metric_goal, ranking_score

    b = board.dropna(subset=[metric])
    score = ranking_score(metric, b[metric]).to_numpy()
    order = np.argsort(-score, kind="stable")  # best at the top
    b, score = b.iloc[order], score[order]
    fig, ax = _figure(ax, figsize=(7, 0.45 * len(b) + 1.2))
    colors = ["#2ca02c" if s == score.min() else "#7f7f7f" for s in score]
    ax.barh(b["algorithm"], b[metric], color=colors)
    for y, v in enumerate(b[metric]):
        ax.text(v, y, f" {v:.4g}", va="center", fontsize=8)
    ax.set_xlabel(f"{metric} ({metric_goal(metric)})")
    ax.set_title(f"Leaderboard by {metric} (best in green)")
    return fig


def plot_series(data, items: Sequence, ax=None, title: str | None = None):
    """Several items' history on one chart (dataset preview)."""
    fig, ax = _figure(ax)
    for it in items:
        h = history_of(data, it)
        ax.plot(h.index, h.values, lw=0.9, label=str(it))
    ax.set_title(title or f"{len(items)} item(s)")
    ax.set_xlabel("time")
    ax.set_ylabel(getattr(data, "target_field", "target"))
    if items:
        ax.legend(loc="upper left", fontsize=8, ncol=4)
    ax.grid(alpha=0.25)
    return fig


def plot_accuracy_history(history: pd.DataFrame, metric: str = "AverageWeightedQuantileLoss",
                          threshold: float | None = None, ax=None, title: str | None = None):
    """A pipeline's monitored error over time, with the threshold and the retrainings.

    Parameters
    ----------
    history : DataFrame
        One row per scored forecast (:meth:`fc_core.pipeline.Pipeline.accuracy_history`):
        ``window_start``, ``window_end``, the metric as a column (or in a JSON ``metrics``
        column), and optionally ``retrained`` (the trigger of a retraining that followed).
    metric : str
    threshold : float, optional
        Drawn as a dashed line; points above it are red.

    Raises
    ------
    ConfigError
        When the history is empty or lacks the metric.
    """
    import json

    if history is None or len(history) == 0:
        raise ConfigError("no accuracy history yet: a forecast is scored once the actuals of its period arrive.")
    h = history.sort_values("window_start")
    if metric in h.columns and not (metric == "value" or h[metric].isna().all()):
        y = h[metric].to_numpy(float)
    elif "metrics" in h.columns:
        y = np.array([json.loads(m).get(metric, np.nan) if isinstance(m, str) else np.nan for m in h["metrics"]],
                     dtype=float)
    else:
        raise ConfigError(f"the accuracy history has no {metric!r}; it has {list(h.columns)}.")
    x = pd.to_datetime(h["window_start"])
    fig, ax = _figure(ax)
    ax.plot(x, y, color=BAND_COLOR, marker="o", lw=1.2, label=metric)
    if threshold is not None:
        ax.axhline(threshold, color="#d62728", ls="--", lw=1, label=f"threshold {threshold:g}")
        over = y > threshold
        ax.scatter(x[over], y[over], color="#d62728", zorder=3, s=36, label="above threshold")
    if "retrained" in h.columns:
        first = True
        for end, trig in zip(pd.to_datetime(h["window_end"]), h["retrained"]):
            if isinstance(trig, str) and trig:
                ax.axvline(end, color="#2ca02c", lw=1.2, ls=":", label="retrained" if first else None)
                ax.annotate(trig, (end, np.nanmax(y)), fontsize=7, rotation=90, va="top", ha="right")
                first = False
    ax.set_title(title or f"Monitored accuracy: {metric} of each forecast on the actuals that followed")
    ax.set_xlabel("forecast period start")
    ax.set_ylabel(f"{metric} (lower is better)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.25)
    return fig


def save_figure(fig, path) -> str:
    """Save a figure as PNG atomically."""
    from .io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return str(path)


def plot_forecasts(forecast, items: Sequence, history=None, history_points: int | None = None,
                   ncols: int = 1, interval: tuple[str, str] | None = None):
    """Fan charts of several items, one panel each (:func:`plot_forecast` for each), in one Figure.

    Raises
    ------
    ConfigError
        For an empty list or an item the forecast does not have.
    """
    from matplotlib.figure import Figure

    items = list(items)
    if not items:
        raise ConfigError("plot_forecasts needs at least one item.")
    nrows = -(-len(items) // ncols)
    fig = Figure(figsize=(10 if ncols == 1 else 5 * ncols, 3.0 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, it in zip(axes, items):
        plot_forecast(forecast, it, history=history, history_points=history_points, ax=ax, interval=interval)
    for ax in axes[len(items):]:
        ax.set_visible(False)
    return fig


RAISES_COLOR = "#1f77b4"  # Amazon Forecast's console: blue bars raise the forecast
LOWERS_COLOR = "#d62728"  # ... red bars lower it


def plot_impact_scores(table: pd.DataFrame, ax=None, title: str = "Impact scores"):
    """Horizontal bars of impact magnitudes (0..1, ``|normalized_impact_score|``) per attribute,
    blue for attributes that raise the forecast and red for those that lower it (the console's
    view of :meth:`fc_core.explain.Explanation.predictor_level`)."""
    t = table.iloc[::-1]
    fig, ax = _figure(ax, figsize=(7, 0.45 * max(len(t), 1) + 1.3))
    mag = t["normalized_impact_score"].abs().to_numpy(dtype=float) if len(t) else np.zeros(0)
    colors = [RAISES_COLOR if v > 0 else LOWERS_COLOR for v in t["raw_impact_score"]]
    ax.barh(t["attribute"].astype(str), mag, color=colors)
    for y, (m, v) in enumerate(zip(mag, t["raw_impact_score"])):
        ax.text(m, y, f" {m:.2f} ({'raises' if v > 0 else 'lowers' if v < 0 else 'none'})", va="center", fontsize=8)
    ax.set_xlim(0, 1.25)
    ax.set_xlabel("impact (normalized, 0 to 1); blue raises the forecast, red lowers it")
    ax.set_title(title if len(t) else f"{title}: no attributes to score")
    return fig


def plot_impact_over_time(wide: pd.DataFrame, ax=None, title: str = "Impact over time"):
    """One line per attribute of raw impact scores (target units) over the forecast time points
    (``wide``: :meth:`fc_core.explain.Explanation.item`)."""
    fig, ax = _figure(ax)
    ts = pd.to_datetime(wide["timestamp"])
    for c in wide.columns.drop("timestamp"):
        ax.plot(ts, wide[c].to_numpy(dtype=float), marker="o", ms=3, lw=1.4, label=str(c))
    ax.axhline(0, color="#888888", lw=0.8)
    ax.set_ylabel("raw impact (target units)")
    ax.set_title(title)
    if len(wide.columns) > 1:
        ax.legend(loc="best", fontsize=8, frameon=False)
    return fig
