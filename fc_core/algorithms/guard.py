"""The forecast guard: every algorithm's forecast passes here before anyone sees it.

:meth:`fc_core.algorithms.base.Predictor.predict_arrays` calls :func:`guard` on the
output of every algorithm, so the API, the AutoPredictor's blend (a weighted average
of guarded forecasts, which stays inside the same bounds), the notebooks, the panels
and the pipeline all get it. Per item it checks:

* **finite**: no ``inf`` or ``NaN`` in any quantile or the mean;
* **plausible**: no value above :data:`ENVELOPE_K` times the item's largest
  ``|observation|`` (the rule was chosen on backtests cut from the training data:
  ``bench/guard_retail.py``, ``bench/RESULTS.md`` section "Forecast guard");
* **never crossing**: quantiles are sorted level by level.

An item that fails gets the fallback forecast (seasonal naive with the season of the
data's cycle, :func:`fc_core.frequency.season_length`) and is counted with the reason.
Items an algorithm itself could not model (too little history, a failed fit) are
counted the same way, so ``predictor.info`` says, per algorithm, how many items got a
fallback and why:

* ``info["fallback_items"]``: the items' labels (key values joined by ``|``);
* ``info["fallback_reasons"]``: label -> one of :data:`REASONS`;
* ``info["fallback_summary"]``: items, fallback count, share and counts per reason, and what
  the zero clip below did: ``zero_clip_eligible_items`` (items the setting clips),
  ``clipped_at_zero_items`` (items where at least one value was actually negative and raised
  to 0) and ``clipped_at_zero_values`` (how many values, quantiles and mean, were raised).

Items with no observed value at all (every target value missing, or cold-start items
known only from the metadata) never get a silent 0: they get the algorithm's
cold-start forecast where it has one, else the average forecast of the items sharing
their first metadata value (or of all items), and are counted as ``"no history"``.

**Non-negative by default.** With ``non_negative="auto"`` (the default on every
estimator and the AutoPredictor) an item whose observed history has no negative value
gets forecasts clipped at 0 (items without history: when no value in the data is
negative); ``True`` clips every item, ``False`` none. It is the one zero-clip setting: no
algorithm clips on its own (the algorithms' old ``nonnegative`` keyword is its deprecated
name, :func:`merge_legacy_nonnegative`), and the AutoPredictor's ``"auto"`` clips every item
in a count-like domain (RETAIL...).
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import frequency as fq
from ..errors import ConfigError
from ..quantiles import ForecastArrays
from .fallback import cold_start_from_donors, seasonal_naive_arrays

#: A forecast value above this many times the item's largest |observation| is implausible.
#: Chosen on backtests of the training data (bench/guard_retail.py; bench/RESULTS.md, "Forecast guard"):
#: the largest future actual over the largest past |value| was 1.83 on consumer_electronics and 1.25
#: on M4 Hourly, so 20 (the issue's plausibility check) leaves a wide margin for genuine growth and
#: still catches the absurd outputs seen (4.35e36 against a history in the hundreds).
ENVELOPE_K = 20.0

#: The reasons an item gets the fallback forecast.
REASONS = ("history too short", "fit failed", "no history", "guard: not finite", "guard: implausible")

#: An algorithm that fell back on more than this share of the items is named as such and is
#: not a blend candidate of the AutoPredictor.
MOSTLY_FALLBACK_SHARE = 0.5

_SHORT_WORDS = ("short", "fewer", "too few", "no data", "no observed", "not enough", "history")


def check_non_negative(value):
    """``"auto"``, True or False, else a ConfigError."""
    if value is None:
        return "auto"
    if isinstance(value, str) and value.lower() == "auto":
        return "auto"
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ConfigError(f"non_negative must be 'auto', True or False, got {value!r}.")


def merge_legacy_nonnegative(params: dict, name: str) -> dict:
    """``params`` with the old ``nonnegative`` (True or False) turned into ``non_negative``, with a
    DeprecationWarning; one setting decides the zero clip (the guard's). Unchanged when absent.

    Raises
    ------
    ConfigError
        When ``nonnegative`` is not True or False, or disagrees with a ``non_negative`` also given.
    """
    if "nonnegative" not in params:
        return params
    params = dict(params)
    old = params.pop("nonnegative")
    if not isinstance(old, (bool, np.bool_)):
        raise ConfigError(f"{name}: nonnegative must be True or False, got {old!r} (it is the old name of "
                          "non_negative: give non_negative='auto', True or False instead).")
    if "non_negative" in params and check_non_negative(params["non_negative"]) != bool(old):
        raise ConfigError(f"{name}: nonnegative={old!r} and non_negative={params['non_negative']!r} disagree; give "
                          "only non_negative ('auto', True or False): nonnegative is its old name.")
    warnings.warn(f"{name}: nonnegative={old!r} is deprecated; use non_negative={bool(old)!r} (or 'auto', the "
                  "default: clip at 0 the items whose history is never negative).", DeprecationWarning,
                  stacklevel=_user_stacklevel())
    params["non_negative"] = bool(old)
    return params


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside fc_core."""
    import os
    import sys

    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    f, level = sys._getframe(1), 1
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(pkg):
        f, level = f.f_back, level + 1
    return level


def history_stats(panel) -> dict:
    """Per item: observed count, largest ``|value|``, smallest value (NaN where nothing is observed)."""
    n = panel.n_series
    ok = panel.observed & np.isfinite(panel.values)
    seg = np.repeat(np.arange(n), panel.lengths)
    maxabs = np.full(n, -np.inf)
    vmin = np.full(n, np.inf)
    if ok.any():
        np.maximum.at(maxabs, seg[ok], np.abs(panel.values[ok]))
        np.minimum.at(vmin, seg[ok], panel.values[ok])
    count = np.bincount(seg[ok], minlength=n) if n else np.zeros(0, np.int64)
    maxabs[count == 0] = np.nan
    vmin[count == 0] = np.nan
    return {"count": count, "maxabs": maxabs, "min": vmin}


def categorize(reason: str) -> str:
    """One of :data:`REASONS` for an algorithm's own reason text."""
    r = str(reason)
    if r in REASONS:
        return r
    low = r.lower()
    return "history too short" if any(w in low for w in _SHORT_WORDS) else "fit failed"


def _rows_of(labels, panel) -> dict:
    """Row position of each label (key values joined by ``|`` or by the internal separator)."""
    pos = {}
    for sep in ("\x1f", "|"):
        for i, k in enumerate(panel.key_strings(sep)):
            pos.setdefault(k, i)
    return {lab: pos[lab] for lab in labels if lab in pos}


def guard(panel, arr, *, name: str = "", non_negative="auto", cold_start: bool = False,
          info: dict | None = None, k: float = ENVELOPE_K):
    """Check and repair forecasts ``arr`` (ForecastArrays) of ``panel``'s items; see the module doc.

    ``info`` is the algorithm's own info (its ``fallback_items`` / ``fallback_reasons``);
    ``cold_start`` says whether the algorithm forecasts items without history itself.
    Returns new ForecastArrays whose ``info`` holds the fallback items, reasons and summary.
    """

    non_negative = check_non_negative(non_negative)
    n = panel.n_series
    info = dict(info or {})
    info.update(arr.info or {})
    quant = np.array(arr.quantiles, dtype=float, copy=True)
    mean = np.array(arr.mean, dtype=float, copy=True)
    st = history_stats(panel)
    labels = panel.key_strings("|")
    reason = np.full(n, "", dtype=object)

    # the algorithm's own fallbacks (already seasonal naive)
    own = info.get("fallback_reasons") or {}
    for lab, i in _rows_of(list(info.get("fallback_items") or []), panel).items():
        reason[i] = categorize(own.get(lab, "history too short"))

    # items with nothing observed: cold start (the algorithm's, else donors'), never a silent 0
    nohist = st["count"] == 0
    keep_own = nohist & (panel.lengths == 0) & bool(cold_start)
    with np.errstate(all="ignore"):
        keep_own &= np.isfinite(quant).all(axis=(1, 2)) & np.isfinite(mean).all(axis=1)

    # finite and plausible
    with np.errstate(all="ignore"):
        finite = np.isfinite(quant).all(axis=(1, 2)) & np.isfinite(mean).all(axis=1)
        big = np.maximum(np.abs(np.nan_to_num(quant, nan=0.0, posinf=np.inf, neginf=-np.inf)).max(axis=(1, 2), initial=0),
                         np.abs(np.nan_to_num(mean, nan=0.0)).max(axis=1, initial=0))
        bound = k * st["maxabs"]
        implausible = finite & (st["count"] > 0) & (st["maxabs"] > 0) & (big > bound)
    bad = ~nohist & (~finite | implausible)
    reason[bad & ~finite] = "guard: not finite"
    reason[implausible & ~nohist] = "guard: implausible"
    if bad.any():
        rows = np.flatnonzero(bad)
        sn = seasonal_naive_arrays(panel.select(rows), quant.shape[1], np.asarray(arr.quantile_levels, float),
                                   fq.season_length(panel.frequency))
        quant[rows], mean[rows] = sn.quantiles, sn.mean
    donors_needed = nohist & ~keep_own
    if donors_needed.any():
        donors = np.flatnonzero(~nohist)
        rows = np.flatnonzero(donors_needed)
        if len(donors):
            cold_start_from_donors(panel, rows, donors, quant, mean)
        else:  # nothing to learn from anywhere: say so, forecast 0 explicitly
            quant[rows], mean[rows] = 0.0, 0.0
        reason[rows] = "no history"
    all_missing = nohist & (panel.lengths > 0)

    # never crossing; non-negative where the history is
    quant = np.sort(quant, axis=-1)
    if non_negative == "auto":
        data_nonneg = bool(np.nanmin(st["min"]) >= 0) if (~nohist).any() else True
        clip = np.where(nohist, data_nonneg, np.nan_to_num(st["min"], nan=-1.0) >= 0)
    else:
        clip = np.full(n, bool(non_negative))
    raised = np.zeros(n, bool)  # items where the clip changed at least one value
    raised_values = 0
    if clip.any():
        neg_q, neg_m = quant[clip] < 0, mean[clip] < 0
        raised[clip] = neg_q.any(axis=(1, 2)) | neg_m.any(axis=1)
        raised_values = int(neg_q.sum() + neg_m.sum())
        quant[clip] = np.maximum(quant[clip], 0.0)
        mean[clip] = np.maximum(mean[clip], 0.0)

    fb = np.flatnonzero(reason != "")
    fb_labels = labels[fb].tolist()
    reasons = {lab: str(reason[i]) for lab, i in zip(fb_labels, fb)}
    counts = {r: int((reason == r).sum()) for r in REASONS if (reason == r).any()}
    summary = {"items": int(n), "fallback_items": int(len(fb)),
               "fallback_share": round(len(fb) / n, 4) if n else 0.0, "reasons": counts,
               "all_missing_items": int(all_missing.sum()), "envelope_k": float(k),
               "non_negative": non_negative, "zero_clip_eligible_items": int(clip.sum()),
               "clipped_at_zero_items": int(raised.sum()), "clipped_at_zero_values": raised_values}
    guarded = int(bad.sum())
    if guarded:
        shown = ", ".join(f"{labels[i]} ({reason[i]})" for i in np.flatnonzero(bad)[:5])
        warnings.warn(f"{name or 'forecast'}: {guarded} of {n} item(s) failed the forecast guard and get the "
                      f"seasonal naive forecast: {shown}{' ...' if guarded > 5 else ''}.", UserWarning, stacklevel=3)
    if all_missing.any():
        shown = ", ".join(labels[np.flatnonzero(all_missing)[:5]])
        warnings.warn(f"{name or 'forecast'}: {int(all_missing.sum())} item(s) have no observed target value "
                      f"(all missing) and are forecast as cold starts: {shown}"
                      f"{' ...' if all_missing.sum() > 5 else ''}.", UserWarning, stacklevel=3)
    out_info = dict(arr.info or {})
    out_info.update({"fallback_items": fb_labels, "fallback_reasons": reasons, "fallback_summary": summary})
    return ForecastArrays(np.asarray(arr.quantile_levels, float), quant, mean, arr.start, out_info)


def fallback_text(summary: dict, name: str = "") -> str:
    """One line: how many items got the fallback forecast and why, e.g.
    ``GBM: fallback (seasonal naive) on 79 of 300 items (26%): history too short 79``.

    >>> fallback_text({"items": 10, "fallback_items": 0, "reasons": {}}, "ETS")
    'ETS: no fallback (all 10 items forecast by ETS)'
    """
    n, f = int(summary.get("items", 0)), int(summary.get("fallback_items", 0))
    if not f:
        return f"{name}: no fallback (all {n} items forecast by {name})"
    why = ", ".join(f"{k} {v}" for k, v in summary.get("reasons", {}).items())
    flag = " - MOSTLY FALLBACK, not used in the blend" if n and f / n > MOSTLY_FALLBACK_SHARE else ""
    return f"{name}: fallback (seasonal naive / cold start) on {f} of {n} items ({f / n:.0%}): {why}{flag}"
