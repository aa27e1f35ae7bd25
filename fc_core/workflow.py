"""The getting-started workflow as functions, so the notebooks stay thin.

A notebook's ``parameters`` cell holds literals; the next cell passes them to
:func:`getting_started_config`, which checks every value and fails loudly on a
typo. Later cells call the methods of the returned :class:`WorkflowConfig`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import errors
from .errors import ConfigError, ForecastError
from .schema import get_domain
from .workflow_params import (_INJECTED_HEADER, Timer, _text_value, check_parameters, parse_list,  # noqa: F401
                              parse_mapping)

DEVICES = ("auto", "cpu", "cuda")


@dataclass
class WorkflowConfig:
    """Checked parameters of the getting-started workflow (see the notebook's parameters cell)."""

    target_path: str = ""
    target_schema: str = ""
    related_path: str = ""
    related_schema: str = ""
    item_metadata_path: str = ""
    item_metadata_schema: str = ""
    target_columns: dict = field(default_factory=dict)
    related_columns: dict = field(default_factory=dict)
    item_metadata_columns: dict = field(default_factory=dict)
    timestamp_format: str = ""
    domain: str = "CUSTOM"
    frequency: str = "H"
    data_frequency: str = ""
    aggregation: str = "sum"
    related_aggregation: str = "avg"
    time_alignment_boundary: dict = field(default_factory=dict)
    target_fill: dict = field(default_factory=dict)
    related_fill: dict = field(default_factory=dict)
    forecast_horizon: int = 24
    forecast_types: list = field(default_factory=lambda: ["0.1", "0.5", "0.9", "mean"])
    forecast_dimensions: list = field(default_factory=list)
    forecast_from: str = "global_end"
    presets: str = "auto"
    time_limit: float = 0
    backtest_windows: int = 0
    backtest_offset: int = 0
    algorithms: list = field(default_factory=list)
    algorithm_params: dict = field(default_factory=dict)
    device: str = "auto"
    output_dir: str = "output"
    export_timestamps: str = "amazon"
    interactive: bool = False
    demo_items: int = 20
    demo_days: int = 42
    seed: int = 0

    # ------------------------------------------------------------- data
    def load_data(self):
        """The DatasetGroup: the files named by the parameters, or the built-in demo data
        (:func:`load_dataset_group`)."""
        return load_dataset_group(asdict(self), demo="electricity",
                                  demo_options=dict(n_items=self.demo_items, days=self.demo_days, seed=self.seed))

    def windows(self, dataset_group):
        """The backtest windows these parameters lay over ``dataset_group``."""
        return self.make_predictor().windows(dataset_group)

    def make_predictor(self):
        """An untrained AutoPredictor configured by these parameters."""
        from .automl import AutoPredictor

        return AutoPredictor(
            forecast_horizon=self.forecast_horizon, forecast_types=self.forecast_types,
            backtest_windows=self.backtest_windows or None, backtest_offset=self.backtest_offset or None,
            presets=self.presets, time_limit=self.time_limit or None,
            algorithms=self.algorithms or None, forecast_dimensions=self.forecast_dimensions or None,
            device=self.device, algorithm_params=self.algorithm_params or None, seed=self.seed,
        )

    # ----------------------------------------------------------- outputs
    @property
    def out(self) -> Path:
        p = Path(self.output_dir)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def write_outputs(self, predictor, forecast, dataset_group, charts_for: int = 3) -> dict:
        """forecast.csv, accuracy_metrics.csv, backtest_forecasts.csv, leaderboard.csv and chart PNGs."""
        from .io import write_frame
        from .plotting import plot_forecast, plot_leaderboard, save_figure

        out = self.out
        paths = {"forecast": forecast.export(out / "forecast.csv", timestamps=self.export_timestamps)}
        paths.update(predictor.export_backtest(out))
        paths["leaderboard"] = write_frame(predictor.leaderboard(), out / "leaderboard.csv")
        fig = plot_leaderboard(predictor.leaderboard(), predictor.optimization_metric)
        paths["leaderboard_png"] = save_figure(fig, out / "leaderboard.png")
        for item in forecast.items[forecast.item_field].astype(str).head(charts_for):
            fig = plot_forecast(forecast, item, history=dataset_group)
            paths[f"chart_{item}"] = save_figure(fig, out / f"forecast_{_safe(item)}.png")
        paths["parameters"] = str(out / "parameters.json")
        (out / "parameters.json").write_text(json.dumps(asdict(self), indent=2))
        return paths


def _safe(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in s)


def getting_started_config(**params) -> WorkflowConfig:
    """Check the notebook's parameters and return a :class:`WorkflowConfig`.

    Raises
    ------
    ConfigError
        Naming the parameter, the value given and what is allowed.

    >>> getting_started_config(forecast_horizon=24, device="cpu").device
    'cpu'
    >>> getting_started_config(forecast_horizon=0)
    Traceback (most recent call last):
    ...
    fc_core.errors.ConfigError: parameter forecast_horizon=0: must be a whole number >= 1.
    """
    known = set(WorkflowConfig.__dataclass_fields__)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown}; the parameters are {sorted(known)}.")
    cfg = WorkflowConfig(**params)
    for name in ("forecast_horizon", "demo_items", "demo_days"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"parameter {name}={v!r}: must be a whole number >= 1.")
    v = cfg.backtest_windows
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 5:
        raise ConfigError(f"parameter backtest_windows={v!r}: 1 to 5, or 0 for the preset's.")
    from .automl import PRESET_NAMES

    if cfg.presets not in PRESET_NAMES:
        raise ConfigError(f"parameter presets={cfg.presets!r}: choose one of {PRESET_NAMES}.")
    v = cfg.time_limit
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ConfigError(f"parameter time_limit={v!r}: seconds for training (0 = no limit).")
    if isinstance(cfg.backtest_offset, bool) or not isinstance(cfg.backtest_offset, int) or cfg.backtest_offset < 0:
        raise ConfigError(f"parameter backtest_offset={cfg.backtest_offset!r}: a whole number (0 = the horizon).")
    from .datasets import FORECAST_FROM

    if cfg.forecast_from not in FORECAST_FROM:
        raise ConfigError(f"parameter forecast_from={cfg.forecast_from!r}: choose one of {FORECAST_FROM}.")
    if cfg.export_timestamps not in ("amazon", "local"):
        raise ConfigError(f"parameter export_timestamps={cfg.export_timestamps!r}: choose 'amazon' "
                          "(2014-01-01T00:00:00Z, Amazon Forecast's export) or 'local' (2014-01-01 00:00:00).")
    if cfg.device not in DEVICES:
        raise ConfigError(f"parameter device={cfg.device!r}: choose one of {DEVICES}.")
    for name in ("forecast_types", "forecast_dimensions", "algorithms"):
        setattr(cfg, name, parse_list(name, getattr(cfg, name)))
    for name in ("algorithm_params", "target_columns", "related_columns", "item_metadata_columns",
                 "time_alignment_boundary", "target_fill", "related_fill"):
        setattr(cfg, name, parse_mapping(name, getattr(cfg, name)))
    from .algorithms.base import canonical_name, parse_forecast_types

    parse_forecast_types(cfg.forecast_types)
    cfg.algorithms = [canonical_name(a) for a in cfg.algorithms]
    get_domain(cfg.domain)
    if cfg.frequency:
        from .frequency import normalize

        cfg.frequency = normalize(cfg.frequency)
    if cfg.data_frequency:
        from .frequency import normalize

        cfg.data_frequency = normalize(cfg.data_frequency)
    if not cfg.target_path and (cfg.related_path or cfg.item_metadata_path):
        raise ConfigError("related_path / item_metadata_path given without target_path; name the target file too.")
    return cfg


# ------------------------------------------------------------------ loading data
_DATASETS = ("target", "related", "item_metadata")


def _rename_api_words(exc: ForecastError, paths: dict) -> ForecastError:
    """The same error with the API's argument names replaced by the notebook's parameters."""
    msg = str(exc)
    which = "target"
    for ds in _DATASETS:
        p = paths.get(ds)
        if p and str(p) in msg:
            which = ds
            break
    import re

    msg = re.sub(r"DatasetGroup\.aggregate\('([^']*)'[^)]*\)",
                 r"data_frequency (the data's own frequency) and frequency='\1' (the forecast's): the data is then "
                 "aggregated", msg)
    for api, nb in (("schema=", f"{which}_schema="), ("column_map=", f"{which}_columns=")):
        msg = msg.replace(api, nb)
    try:
        new = type(exc)(msg, reason=exc.reason, **exc.details)
    except TypeError:  # error types with other constructors (MissingDependencyError) keep their message
        return exc
    new.__cause__ = exc.__cause__
    return new


def load_dataset_group(params: dict, demo: str | None = None, demo_options: dict | None = None, **overrides):
    """The notebook's data: the files its parameters name, else the built-in demo ``demo``.

    Every notebook calls this in its load cell with its own parameters
    (``load_dataset_group(params, demo="retail", demo_options={...})``), so all of them read
    files the same way. The parameters it uses (absent ones take their defaults):

    * ``target_path``, ``related_path``, ``item_metadata_path``: files, folders, globs or URLs;
      an empty ``target_path`` means the demo data.
    * ``target_schema``, ``related_schema``, ``item_metadata_schema``: the columns in file order
      (``"timestamp:timestamp,target_value:float,item_id:string"``), with or without a header.
    * ``target_columns``, ``related_columns``, ``item_metadata_columns``: your header's names to
      Amazon Forecast's (``{"Model_ID": "item_id"}``); matched ignoring case.
    * ``frequency``: the *forecast* frequency. ``data_frequency`` is the data's own one (inferred
      when empty); finer data is aggregated to ``frequency`` with ``aggregation`` (target) and
      ``related_aggregation`` (related fields): sum, avg, first, min or max, on the boundaries of
      ``time_alignment_boundary`` (``{"DayOfMonth": 1}``, ``{"DayOfWeek": "MONDAY"}``,
      ``{"Hour": 0}``). Time stamps anywhere inside a week, month or year are put in that bucket,
      dated by its first instant, as Amazon Forecast does.
    * ``target_fill``, ``related_fill``: Amazon Forecast's featurization
      (``{"middlefill": "zero", "backfill": "nan"}``; related: ``{"price": {"futurefill": "max"}}``
      or ``{"*": {...}}``).
    * ``domain``, ``forecast_dimensions``, ``timestamp_format``, ``timezone``, ``forecast_horizon``
      (related series are future-filled that far), ``cold_start``.

    What the import changed (aggregation, bucketing) is printed and kept in the group's
    ``import_notes``.

    Raises
    ------
    ConfigError, SchemaError, DataError
        Naming the notebook parameter to change (``target_schema``, ``target_columns``...).
    """
    from . import demo as _demo
    from . import frequency as fq
    from .datasets import DatasetGroup

    p = {**params, **overrides}
    target_path = str(p.get("target_path") or "")
    if not target_path:
        if p.get("related_path") or p.get("item_metadata_path"):
            raise ConfigError("related_path / item_metadata_path given without target_path; name the target file too.")
        if demo is None:
            raise ConfigError("target_path is empty: name the target time series file.")
        group = getattr(_demo, demo)(**(demo_options or {}))
        return group
    paths = {ds: (str(p.get(f"{ds}_path") or "") or None) for ds in _DATASETS}
    dims = parse_list("forecast_dimensions", p.get("forecast_dimensions") or [])
    read_options = {}
    for ds in _DATASETS:
        o = {}
        cmap = parse_mapping(f"{ds}_columns", p.get(f"{ds}_columns") or {})
        if cmap:
            o["column_map"] = cmap
        if p.get("timestamp_format") and ds != "item_metadata":
            o["timestamp_format"] = p["timestamp_format"]
        read_options[ds] = o
    fill = {}
    if p.get("target_fill"):
        fill["target"] = parse_mapping("target_fill", p["target_fill"])
    if p.get("related_fill"):
        fill["related"] = parse_mapping("related_fill", p["related_fill"])
    target_agg = str(p.get("aggregation") or "sum")
    related_agg = p.get("related_aggregation") or "avg"
    if isinstance(related_agg, str) and related_agg.strip()[:1] == "{":
        related_agg = parse_mapping("related_aggregation", related_agg)
    align = parse_mapping("time_alignment_boundary", p.get("time_alignment_boundary") or {}) or None
    forecast_freq = fq.normalize(p["frequency"]) if p.get("frequency") else None
    data_freq = fq.normalize(p["data_frequency"]) if p.get("data_frequency") else None
    horizon = p.get("forecast_horizon") if paths["related"] else None
    common = dict(domain=p.get("domain") or "CUSTOM", target=paths["target"], related=paths["related"],
                  item_metadata=paths["item_metadata"], forecast_dimensions=dims or None,
                  target_schema=p.get("target_schema") or None, related_schema=p.get("related_schema") or None,
                  item_metadata_schema=p.get("item_metadata_schema") or None, fill=fill or None,
                  cold_start=bool(p.get("cold_start", False)), timezone=p.get("timezone") or None,
                  read_options=read_options, forecast_from=p.get("forecast_from") or "global_end")
    notes: list[str] = []
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        group = _load(DatasetGroup, common, data_freq, forecast_freq, target_agg, related_agg, align, horizon, paths,
                      notes)
    notes[:0] = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    notes += fill_notes(group, fill)
    _check_timestamp_format(group, p.get("timestamp_format"), paths["target"])
    group.import_notes = notes
    for n in notes:
        print("import:", n)
    return group


def _load(DatasetGroup, common, data_freq, forecast_freq, target_agg, related_agg, align, horizon, paths, notes):
    from . import frequency as fq

    try:
        try:
            group = _single_series_ok(DatasetGroup, common, data_freq, notes)
        except ForecastError as exc:
            if forecast_freq is None:
                raise
            if exc.reason == errors.NO_FREQUENCY:
                group = _single_series_ok(DatasetGroup, common, forecast_freq, notes)
            elif exc.reason in (errors.OFF_GRID, errors.BOUNDARIES_DIFFER, errors.YEAR_START):
                group = _bucketed(common, forecast_freq, target_agg, related_agg, align, notes)
            else:
                raise
        if forecast_freq is not None and fq.parse(group.frequency) != fq.parse(forecast_freq):
            if not fq.is_coarser_or_equal(forecast_freq, group.frequency) and not data_freq \
                    and _gappy(group):
                # sparse data (only the non-zero days written) looks coarser than it is: read it at
                # the forecast frequency, the steps in between missing
                inferred = group.frequency
                group = _single_series_ok(DatasetGroup, common, forecast_freq, notes)
                notes.append(f"the most common step between time stamps is {inferred}, but the steps vary (sparse "
                             f"data); read at the forecast frequency {forecast_freq}, the steps in between "
                             "missing (give data_frequency to say otherwise).")
            if not fq.is_coarser_or_equal(forecast_freq, group.frequency):
                raise ConfigError(
                    f"frequency={forecast_freq!r} is finer than the data's frequency {group.frequency}"
                    f"{' (inferred)' if not data_freq else ''}; forecast at {group.frequency} or coarser "
                    "(the data cannot be split into finer steps).")
            before = group.frequency
            # a last period the data only partly cover is left out (aggregate warns; the warning is a note)
            group = group.aggregate(forecast_freq, method=target_agg, align=align, related_method=related_agg)
            notes.append(f"aggregated the {before} data to the forecast frequency {group.frequency}: target by "
                         f"{target_agg}" + (f", related fields by {related_agg}" if paths["related"] else "")
                         + (f", buckets aligned on {align}" if align else "") + "; each bucket is dated by its "
                         "first instant.")
        if horizon:
            group = group.fill(forecast_horizon=int(horizon))
    except ForecastError as exc:
        raise _rename_api_words(exc, paths) from None
    return group


def _check_timestamp_format(group, fmt, path) -> None:
    """Refuse a ``timestamp_format`` that reads most time stamps onto the wrong dates: the series
    would then be mostly filled points."""
    from .errors import DataError
    from .panel import FILLED

    t = group.target
    if not fmt or FILLED not in t.columns or not len(t):
        return
    share = float(t[FILLED].mean())
    if share > 0.5:
        raise DataError(
            f"file '{path}': with timestamp_format={fmt!r} the time stamps land on {t['timestamp'].nunique()} "
            f"different {group.frequency} steps and {share:.0%} of the target's points would be filled, not read; "
            f"the format probably reads the stamps wrongly (day and month swapped?): the first reads as "
            f"{t['timestamp'].min()}. Check timestamp_format against the file.")


def _gappy(group) -> bool:
    """Whether over a tenth of the group's steps (at its inferred frequency) are missing: sparse
    data, whose most common step says little about its frequency."""
    import numpy as np

    st = group._stats
    rows = int(np.sum(st["rows"]))
    return int(np.sum(st["missing"])) > 0.1 * max(rows, 1)


def _single_series_ok(DatasetGroup, common: dict, freq, notes: list):
    """The group; a target file without an item column (one series, like a single station's
    file) is read as one item named after the file, and said."""
    from .errors import SchemaError

    try:
        return _metadata_header_ok(DatasetGroup, common, freq, notes)
    except SchemaError as exc:
        d = exc.details
        if exc.reason != errors.MISSING_COLUMNS or d.get("columns") != [_item_field(common)] or \
                d.get("dataset_type") != "TARGET_TIME_SERIES" or common["related"] is not None or \
                common["target_schema"] or common["forecast_dimensions"]:
            raise
    name = Path(str(common["target"])).name.split(".")[0] or "series"
    ro = {**common["read_options"], "target": {**common["read_options"]["target"], "item_id": name}}
    group = _metadata_header_ok(DatasetGroup, {**common, "read_options": ro}, freq, notes)
    notes.append(f"the target file has no {_item_field(common)} column: read as one series named {name!r} "
                 f"(map a column to {_item_field(common)} with target_columns for several).")
    return group


def _metadata_header_ok(DatasetGroup, common: dict, freq, notes: list):
    """The group; an item metadata file whose schema is all text and whose first line names an item
    the target lacks has a header (``Model_ID,Category``), not a cold-start item: read again so."""
    from .errors import DataError

    try:
        return DatasetGroup(frequency=freq, **common)
    except DataError as exc:
        meta = common.get("item_metadata")
        if not (meta and exc.reason == errors.METADATA_ITEMS_WITHOUT_TARGET and exc.details.get("lines") == [1]
                and not common.get("cold_start")) or (common["read_options"].get("item_metadata") or {}).get(
                    "header") is not None:
            raise
    ro = {**common["read_options"], "item_metadata": {**(common["read_options"].get("item_metadata") or {}),
                                                      "header": True}}
    group = DatasetGroup(frequency=freq, **{**common, "read_options": ro})
    notes.append(f"the item metadata file's line 1 names no item of the target, so it is read as a header "
                 f"(the columns are taken from item_metadata_schema, in order).")
    return group


def _item_field(common: dict) -> str:
    return get_domain(common["domain"]).item_field


def fill_notes(group, fill: dict | None = None) -> list[str]:
    """What the import filled in the target, where and with what (Amazon Forecast's featurization),
    as sentences for the notebook's output.

    >>> import pandas as pd
    >>> from fc_core.datasets import DatasetGroup
    >>> df = pd.DataFrame({"item_id": ["a", "a", "a", "b"], "timestamp": pd.to_datetime(
    ...     ["2020-01-01", "2020-01-02", "2020-01-04", "2020-01-01"]), "target_value": [1, None, 3, 2]})
    >>> print(fill_notes(DatasetGroup(frequency="D", target=df))[0])  # doctest: +NORMALIZE_WHITESPACE
    target: 1 blank value(s) and 1 missing time step(s) inside the series filled with zero (middle fill),
    3 point(s) after an item's last value up to the last time stamp filled with zero (back fill), in 2 of 2
    item(s) (first: a, b); change this with target_fill, e.g. {"middlefill": "nan"} keeps them missing.
    """
    import numpy as np

    from .featurization import TARGET_DEFAULT_FILL
    from .panel import FILLED

    out = _related_fill_notes(group, fill)
    t = group.target
    if FILLED not in t.columns or not t[FILLED].any():
        return out
    rules = {**TARGET_DEFAULT_FILL, **((fill or {}).get("target") or {})}
    keys = group.key_columns
    filled = t[FILLED].to_numpy(bool)
    code = t.groupby(keys, sort=False, observed=True).ngroup().to_numpy()
    pos = np.arange(len(t))
    last_real = np.full(code.max() + 1, -1)
    np.maximum.at(last_real, code[~filled], pos[~filled])
    back = filled & (pos > last_real[code])
    middle = filled & ~back
    st = group._stats
    nan = int(np.sum(st.get("nan", 0)))
    gaps = int(np.sum(st.get("missing", 0)))
    items = t.loc[filled, keys].drop_duplicates()
    names = ", ".join("/".join(map(str, r)) for r in items.head(3).itertuples(index=False))

    def how(region):
        m = str(rules.get(region))
        return f"the value {rules.get(region + '_value')}" if m == "value" else \
            ("nothing (kept missing)" if m == "nan" else m)
    parts = []
    if middle.any():
        parts.append(f"{nan} blank value(s) and {gaps} missing time step(s) inside the series filled with "
                     f"{how('middlefill')} (middle fill)")
    if back.any():
        parts.append(f"{int(back.sum())} point(s) after an item's last value up to the last time stamp filled "
                     f"with {how('backfill')} (back fill)")
    n_items = len(group.items)
    return [f"target: {', '.join(parts)}, in {len(items)} of {n_items} item(s) (first: {names}); change this with "
            'target_fill, e.g. {"middlefill": "nan"} keeps them missing.'] + out


def _related_fill_notes(group, fill: dict | None) -> list[str]:
    """What the related series' fill rules did: steps added, blanks, and the rule of each field."""
    import numpy as np

    raw = getattr(group, "_raw_related", None)
    if group.related is None or raw is None:
        return []
    spec = dict((fill or {}).get("related") or {})
    star = spec.get("*")
    added = len(group.related) - raw.n_rows
    blanks = {f: int(np.isnan(v).sum()) for f, v in raw.fields.items() if v.dtype.kind == "f"}
    left = {f: int(group.related[f].isna().sum()) for f in raw.fields if f in group.related.columns}
    if added <= 0 and not any(blanks.values()):
        return []
    rules = []
    for f in raw.fields:
        r = spec.get(f, star)
        rules.append(f"{f}: " + (", ".join(f"{k} {v}" for k, v in r.items()) if r else "no rule")
                     + f" ({blanks.get(f, 0)} blank, {left.get(f, 0)} still missing)")
    return [f"related: {max(added, 0)} time step(s) added (gaps, and the forecast horizon past the target's end) "
            f"and blank values filled by field as related_fill says: {'; '.join(rules)}."]


def _bucketed(common: dict, freq: str, target_agg: str, related_agg, align, notes: list):
    """Time stamps inside coarse periods (the 30th of each month at 09:00) put in their period."""
    import numpy as np

    from .datasets import DatasetGroup, read_dataset
    from .featurization import bucket_start

    dims = common["forecast_dimensions"]
    frames = {}
    for ds, dtype in (("target", "TARGET_TIME_SERIES"), ("related", "RELATED_TIME_SERIES")):
        if common[ds] is None:
            continue
        o = dict(common["read_options"].get(ds) or {})
        df = read_dataset(common[ds], dtype, common["domain"], common[f"{ds}_schema"], forecast_dimensions=dims,
                          timezone=common["timezone"], **o)
        ts = df["timestamp"].to_numpy("M8[ns]").view(np.int64)
        b = bucket_start(ts, freq, align)
        moved = int((b != ts).sum())
        df["timestamp"] = b.view("M8[ns]")
        frames[ds] = df
        if moved:
            notes.append(f"{moved} of {len(df)} {ds} time stamps lie inside {freq} periods rather than on their "
                         f"first instant (e.g. {_ts_text(ts[b != ts][0])}); each is put in its period, dated "
                         f"{_ts_text(b[b != ts][0])}, as Amazon Forecast buckets them.")
    rest = {k: v for k, v in common.items() if k not in ("target", "related", "target_schema", "related_schema")}
    rest["read_options"] = {"item_metadata": common["read_options"].get("item_metadata") or {}}
    return DatasetGroup(frequency=freq, target=frames["target"], related=frames.get("related"),
                        duplicates={"target": target_agg, "related": related_agg if isinstance(related_agg, str)
                                    else "avg"}, **rest)


def _ts_text(ns) -> str:
    import pandas as pd

    return str(pd.Timestamp(int(ns)))


def load_retraining_data(params: dict, demo_options: dict | None = None):
    """The retraining notebook's two imports: the first as a DatasetGroup (read like every
    notebook's data, :func:`load_dataset_group`, from ``first_path``) and the newer rows
    (``new_path``, same schema and column names) as a frame; the built-in demo pair when
    ``first_path`` is empty.

    Raises
    ------
    ConfigError, SchemaError, DataError
        As :func:`load_dataset_group`; also ``new_path`` missing while ``first_path`` is given.
    """
    from . import demo as _demo
    from .datasets import read_dataset

    first_path = str(params.get("first_path") or "")
    if not first_path:
        return _demo.retraining(**(demo_options or {}))
    if not params.get("new_path"):
        raise ConfigError("first_path is given but new_path is empty; name the file with the newer data too.")
    first = load_dataset_group(params, target_path=first_path)
    o = {}
    cmap = parse_mapping("target_columns", params.get("target_columns") or {})
    if cmap:
        o["column_map"] = cmap
    if params.get("timestamp_format"):
        o["timestamp_format"] = params["timestamp_format"]
    try:
        new_rows = read_dataset(params["new_path"], "TARGET_TIME_SERIES", first.domain.name,
                                params.get("target_schema") or None,
                                forecast_dimensions=first.forecast_dimensions or None, **o)
    except ForecastError as exc:
        raise _rename_api_words(exc, {"target": params["new_path"]}) from None
    return first, new_rows
