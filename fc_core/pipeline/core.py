"""Forecasting in production: ingest new data, monitor accuracy, retrain past a threshold, forecast, publish.

One run of :class:`Pipeline` (``python -m fc_core.pipeline run config.yaml``, or the
``production_pipeline`` notebook) does, in order:

1. **ingest** the files that appeared in the input location since the last run
   (content hash; the same bytes twice are imported once), quarantining malformed
   ones, and append them to the data (:meth:`DatasetGroup.append`: a newer row
   replaces an older one with the same item and timestamp);
2. **monitor**: score the forecast made before this data against the actuals that
   have now arrived (wQL, WAPE ... per item and overall, :mod:`fc_core.metrics`);
3. **retrain** when the monitored error passes ``monitoring.threshold``, on the
   schedule ``retraining.every_steps``, or on the first run
   (:meth:`AutoPredictor.retrain`: the same configuration on the new data);
4. **forecast** from the newest data with the stored predictor;
5. **export** it to ``output.location`` and **publish** it to the database
   (:mod:`fc_core.pipeline.publish`), where programs read it with :func:`query_forecast`.

Every step is recorded in the catalog (:mod:`fc_core.pipeline.catalog`). A run does only
what the catalog says is missing, so it is safe to rerun and to kill: rerunning
on the same input changes nothing, and a run killed anywhere is completed by the
next (a publication killed halfway leaves the previous forecast live). Two runs
at once are refused (:class:`~fc_core.pipeline.steps.RunLock`).

Faults: every drop is checked against what the pipeline holds before it is
ingested (:func:`~fc_core.pipeline.steps.check_drop`: cut-short files, ``inf``,
items without values or ending early are quarantined with a reason); a forecast
with a non-finite value is never published; a publication repeated after a kill
publishes nothing new (content hash); a lost or damaged catalog is refused until
``rebuild-catalog``; the state folder has an owner id, and a second state folder
publishing under the same name is refused before anything is written.

The command line is :mod:`fc_core.pipeline.cli` (exit codes there).
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
import warnings
from pathlib import Path

import pandas as pd

from ..errors import ConfigError, DataError, SchemaError
from .config import PipelineConfig, load_config
from .publish import publish_forecast, query_forecast
from .rebuild import CatalogRebuild
from .runstate import (RunResult, _Clock, _copy_atomic, _Lazy, _number, _prune, _raw_target,  # noqa: F401
                       _refuse_non_finite, _stack)
from .steps import (MALFORMED, RunLock, check_drop, fetch, list_drops, quarantine, read_drop, retrain_trigger,
                    score_forecast, sha256)

__all__ = ["Pipeline", "RunResult", "PipelineConfig", "load_config", "query_forecast", "POINTS"]

log = logging.getLogger("fc_core.pipeline")
_KEEP = {"data": 2, "predictors": 3, "forecasts": 10}
#: the named points of a cycle, in order (``hooks={"point": f}`` calls ``f(name)`` at each)
POINTS = ("locked", "snapshot_written", "ingested", "monitored", "trained", "forecast_written", "exported",
          "forecast_recorded", "staged", "switched", "retired", "published", "recorded")



class Pipeline(CatalogRebuild):
    """A production forecasting pipeline configured by one YAML file (see :mod:`fc_core.pipeline.config`).

    Parameters
    ----------
    config : PipelineConfig, dict or path
        A checked config, a dict (relative paths against the working directory) or a YAML file.
    hooks : dict, optional
        Callables for instrumentation and fault tests: ``publish_chunk(rows_written, rows_total)``
        after each committed batch of the publication, ``sleep(seconds)`` between database retries,
        ``point(name)`` at each named point of a cycle (:data:`POINTS`).

    Raises
    ------
    ConfigError
        For an invalid configuration.
    """

    def __init__(self, config, hooks: dict | None = None):
        if isinstance(config, PipelineConfig):
            self.config = config
        elif isinstance(config, dict):
            self.config = PipelineConfig.from_dict(config)
        else:
            self.config = load_config(config)
        self.hooks = dict(hooks or {})
        self._catalog = None
        self.key = self.config.encryption_key()

    @classmethod
    def from_yaml(cls, path, **kw) -> "Pipeline":
        return cls(load_config(path), **kw)

    @property
    def state_dir(self) -> Path:
        return self.config.state_dir

    @property
    def catalog(self):
        from .catalog import Catalog, CatalogError

        if self._catalog is None:
            path = self.state_dir / "catalog.db"
            snaps = sorted((self.state_dir / "data").glob("v*.parquet")) if self.state_dir.is_dir() else []
            if not path.exists() and snaps:
                raise CatalogError(
                    f"the catalog {path} is missing but {self.state_dir / 'data'} holds {len(snaps)} data "
                    f"snapshot(s); refusing to start over beside them. Restore catalog.db, or run 'python -m "
                    "fc_core.pipeline rebuild-catalog CONFIG' to rebuild it from the state folder.")
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._catalog = Catalog(path)
        return self._catalog

    @property
    def owner(self) -> str:
        """This state folder's owner id (made on first use): the database refuses another state folder
        publishing under the same pipeline name."""
        import uuid

        f = self.state_dir / "owner.id"
        if not f.exists():
            from ..io import atomic_write_text

            self.state_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(f, uuid.uuid4().hex + "\n")
        return f.read_text().strip()

    def _write(self, frame: pd.DataFrame, path) -> None:
        """Write a state Parquet file (encrypted with the pipeline's key when ``encryption`` is set)."""
        if self.key is not None:
            from ..security import write_encrypted_frame

            write_encrypted_frame(frame, path, self.key, "parquet")
        else:
            from ..io import write_frame

            write_frame(frame, path)

    def _read(self, path) -> pd.DataFrame:
        from ..security import read_frame

        return read_frame(path, self.key, "parquet")

    def _point(self, name: str) -> None:
        hook = self.hooks.get("point")
        if hook is not None:
            hook(name)

    @property
    def db_url(self) -> str:
        return self.config.db_url

    # ------------------------------------------------------------------ run
    def run(self, force_retrain: bool = False, progress: bool = False) -> RunResult:
        """One pipeline cycle; returns what it did (see the module docstring).

        Raises
        ------
        PipelineBusyError
            When another run holds the lock.
        PublicationError
            When the database stays unreachable (the forecast is kept for the next run).
        ConfigError, DataError
            For configuration problems, or when no valid data has arrived yet on the first run.
        """
        t0 = time.perf_counter()
        with RunLock(self.state_dir / "pipeline.lock"):
            cat = self.catalog
            cat.mark_abandoned()
            res = RunResult(run_id=cat.start_run(os.getpid()))
            self._point("locked")
            try:
                self._run(res, force_retrain, progress)
            except BaseException as exc:
                res.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                res.messages.append(f"{type(exc).__name__}: {exc}")
                self._finish(res, t0)
                raise
            self._finish(res, t0)
        log.info("%r", res)
        return res

    def _finish(self, res: RunResult, t0: float) -> None:
        res.seconds = time.perf_counter() - t0
        self.catalog.finish_run(
            res.run_id, res.status, res.seconds, trigger=res.trigger, files_new=len(res.files_new),
            files_quarantined=len(res.files_quarantined), data_version=res.data_version,
            predictor_version=res.predictor_version, forecast_version=res.forecast_version,
            published_version=res.published_version, monitored=(res.monitored or {}).get("value"),
            message="; ".join(res.messages)[:4000] or None)

    def _run(self, res: RunResult, force_retrain: bool, progress: bool) -> None:
        cfg, cat = self.config, self.catalog
        changed = False
        group = _Lazy(lambda: self._load_group(cat.current_data()))
        clock = _Clock(res.timings)

        # 1. ingest
        if self._ingest(res, group):
            changed = True
        clock.lap("ingest")
        data = cat.current_data()
        if data is None:
            res.status = "no_data"
            res.messages.append(f"no valid data in {cfg.input['location']} yet; nothing to forecast")
            return
        res.data_version = data["version"]

        # 2. monitor the forecast made before this data
        prev = cat.forecast_before(data["version"])
        acc = None
        if prev is not None:
            acc = cat.accuracy_for(prev["version"], data["version"])
            if acc is None:
                acc = self._monitor(res, prev, data, group.get())
                changed = changed or acc is not None
        res.monitored = acc
        clock.lap("monitor")

        # 3. retrain?
        pred = cat.current_predictor()
        trig, why = retrain_trigger(pred, acc, data, cfg.frequency, cfg.retraining["on_threshold"],
                                    cfg.retraining["every_steps"], cfg.monitoring["min_observed"], force_retrain)
        predictor = None
        if trig is not None:
            predictor, pred = self._train(res, trig, why, pred, data, group.get(), progress)
            changed = True
        res.predictor_version = pred["version"]
        clock.lap("train")

        # 4. forecast (when the data or the predictor is newer than the latest forecast)
        latest = cat.latest_forecast()
        if latest is None or latest["data_version"] != data["version"] or latest["predictor_version"] != pred["version"]:
            latest = self._forecast(res, predictor, pred, data, group.get())
            changed = True
        res.forecast_version = latest["version"]
        res.exported_to = latest["exported_to"]
        clock.lap("forecast")

        # 5. publish (a forecast a failed run could not publish is published now)
        if latest["db_version"] is None:
            self._publish(res, latest)
            changed = True
        res.published_version = cat.latest_forecast()["db_version"]
        clock.lap("publish")
        res.status = "ok" if changed else "unchanged"

    # --------------------------------------------------------------- ingest
    def _load_group(self, data: dict | None):
        if data is None:
            return None
        frame = self._read(data["snapshot"])
        return self._group(frame)

    def _group(self, frame: pd.DataFrame, base=None):
        from ..datasets import DatasetGroup

        inp = self.config.input
        if base is not None:
            return base.append(target=frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the group's import notes are for interactive use
            return DatasetGroup(domain=inp["domain"], frequency=inp["frequency"], target=frame,
                                forecast_dimensions=inp["forecast_dimensions"] or None, fill=inp["fill"],
                                duplicates="last", forecast_from=inp.get("forecast_from") or "global_end")

    def _ingest(self, res: RunResult, group: "_Lazy") -> bool:
        cfg, cat = self.config, self.catalog
        inp = cfg.input
        known = cat.known_files()
        signatures = cat.known_signatures()
        from ..schema import get_domain

        target = get_domain(inp["domain"]).target_field
        checks = inp.get("checks") or {"final_newline": True, "incomplete_items": "quarantine"}
        previous_rows = cat.last_ingested_rows()
        good, seen = [], set()
        for path, sig in list_drops(inp["location"], inp["pattern"], detail=True):
            if (path, sig) in signatures:
                continue  # this very file was read before
            data = fetch(path)
            digest = sha256(data)
            if digest in known or digest in seen:
                continue
            seen.add(digest)
            try:
                frame = read_drop(path, data, inp["domain"], inp["schema"], inp["forecast_dimensions"],
                                  inp["duplicates"], inp["read_options"])
                if frame.empty:
                    raise DataError(f"{path} holds no data rows.")
                reason, notes = check_drop(path, data, frame, cfg.key_columns, target, cfg.frequency,
                                           previous_rows=previous_rows, final_newline=checks["final_newline"],
                                           incomplete=checks["incomplete_items"],
                                           own_end=inp.get("forecast_from") == "item_end")
                if reason:
                    raise DataError(reason)
                for note in notes:
                    self._say(res, note)
            except MALFORMED as exc:
                if isinstance(exc, ConfigError):
                    raise
                self._quarantine(res, path, data, digest, f"{type(exc).__name__}: {exc}", sig)
                continue
            good.append({"path": path, "sha256": digest, "size": len(data), "rows": int(len(frame)), "frame": frame,
                         "data": data, "signature": sig})
        if not good:
            return bool(res.files_quarantined)
        base = group.get()
        good = self._check_missing_items(res, base, good, checks["incomplete_items"])
        if not good:
            return True
        new, kept = self._combine(res, base, good)
        if not kept:
            return True
        cur = cat.current_data()
        frame = _raw_target(new)
        if inp["keep_history"]:
            from .. import frequency as fq

            start = pd.Timestamp(new.end_timestamp) - fq.to_offset(cfg.frequency) * (inp["keep_history"] - 1)
            if frame["timestamp"].min() < start:
                frame = frame[frame["timestamp"] >= start].reset_index(drop=True)
                new = self._group(frame)
        version = 1 + (cur["version"] if cur else 0)
        snap = self.state_dir / "data" / f"v{version:05d}.parquet"
        # keys as categories: the snapshot writes, reads and becomes a group about twice as fast
        self._write(frame.astype({k: "category" for k in new.key_columns}), snap)
        self._point("snapshot_written")
        chain = hashlib.sha256(((cur or {}).get("content_hash") or "").encode()
                               + "".join(sorted(f["sha256"] for f in kept)).encode()).hexdigest()
        ts = frame["timestamp"]
        v = cat.record_data_version(res.run_id, str(snap), (cur or {}).get("version"), chain, len(frame),
                                    len(new.items), ts.min(), ts.max(),
                                    [{k: f[k] for k in ("path", "sha256", "size", "rows", "signature")} for f in kept])
        res.files_new = [f["path"] for f in kept]
        group.set(new)
        self._point("ingested")
        _prune(self.state_dir / "data", "v*.parquet", _KEEP["data"], protect=snap)
        log.info("ingested %d file(s) into data version %d (%d rows, end %s)", len(kept), v, len(frame), ts.max())
        return True

    def _say(self, res: RunResult, msg: str) -> None:
        """A warning the operator sees: in the run report, as a Python warning and in the log."""
        res.messages.append(msg)
        warnings.warn(msg, stacklevel=3)
        log.warning(msg)

    def _check_missing_items(self, res: RunResult, base, good: list[dict], policy: str) -> list[dict]:
        """Items the data had up to its end that none of the new files continues (a drop cut at a line
        boundary between items): quarantined when one file came, said when several did."""
        if base is None:
            return good
        raw = _raw_target(base)
        keys = base.key_columns
        end = raw["timestamp"].max()
        live = set(map(tuple, raw.loc[raw["timestamp"] == end, keys].astype(str).to_numpy()))
        new_end = max(f["frame"]["timestamp"].max() for f in good)
        if new_end <= end:
            return good
        seen = set()
        for f in good:
            seen |= set(map(tuple, f["frame"][keys].astype(str).drop_duplicates().to_numpy()))
        missing = sorted(live - seen)
        if not missing:
            return good
        names = ["/".join(m) for m in missing]
        msg = (f"{len(missing)} item(s) that the data had up to {end} are absent from the new data ({names[:5]}): "
               "their rows up to " f"{new_end} would be filled in")
        if policy == "quarantine" and len(good) == 1:
            f = good[0]
            self._quarantine(res, f["path"], f["data"], f["sha256"],
                             f"DataError: {f['path']}: {msg}; the file looks truncated. Drop the complete file again "
                             "(items that really stopped: set input.checks.incomplete_items: warn)", f["signature"])
            return []
        self._say(res, msg)
        return good

    def _combine(self, res: RunResult, base, good: list[dict]):
        """Append every good file at once; if the group refuses the lot, find the culprits file by file."""
        try:
            return self._group(_stack(good, self.config.key_columns), base), good
        except (DataError, SchemaError) as exc:
            if len(good) == 1:
                self._quarantine(res, good[0]["path"], good[0]["data"], good[0]["sha256"],
                                 f"{type(exc).__name__}: {exc}", good[0]["signature"])
                return base, []
        kept, cur = [], base
        for f in good:
            try:
                cur = self._group(f["frame"], cur)
                kept.append(f)
            except (DataError, SchemaError) as exc:
                self._quarantine(res, f["path"], f["data"], f["sha256"], f"{type(exc).__name__}: {exc}",
                                 f["signature"])
        return cur, kept

    def _quarantine(self, res: RunResult, path: str, data: bytes, digest: str, reason: str,
                    signature: str | None = None) -> None:
        if self.key is not None:  # the copy of the user's data is encrypted like the rest of the state
            from ..security import encrypt_bytes

            data = encrypt_bytes(data, self.key, context="quarantine")
        copy = quarantine(self.config.quarantine_dir, path, data, digest, reason)
        self.catalog.record_quarantine(res.run_id, digest, path, len(data), reason, copy, signature)
        res.files_quarantined.append((path, reason))
        msg = f"quarantined {path}: {reason} (copied to {copy}; the file itself is unchanged)"
        res.messages.append(msg)
        warnings.warn(msg, stacklevel=3)
        log.warning(msg)

    # -------------------------------------------------------------- monitor
    def _monitor(self, res: RunResult, prev: dict, data: dict, group) -> dict | None:
        cfg, cat = self.config, self.catalog
        fc = self._read(prev["path"])
        keys = group.key_columns
        scored = score_forecast(fc, group.to_panel(), keys)
        if scored is None:
            return None
        per_item, overall, w0, w1 = scored
        path = self.state_dir / "monitoring" / f"forecast{prev['version']:05d}_data{data['version']:05d}.parquet"
        self._write(per_item, path)
        acc = cat.record_accuracy(res.run_id, prev["version"], prev["predictor_version"], data["version"], w0, w1,
                                  overall, cfg.monitoring["metric"], cfg.monitoring["threshold"], str(path))
        self._point("monitored")
        if acc["value"] is None or acc["value"] != acc["value"]:
            self._say(res, f"monitoring: {acc['metric']} of forecast v{prev['version']} could not be computed "
                           "(non-finite forecast or actuals); counted as a failed check")
            return acc
        log.info("forecast v%d scored on %d point(s) %s..%s: %s = %.4f (threshold %s)", prev["version"],
                 overall["n_observed"], w0, w1, acc["metric"], acc["value"], acc["threshold"])
        return acc

    # ---------------------------------------------------------------- train
    def _train(self, res, trig, why, pred, data, group, progress):
        from ..automl import AutoPredictor

        cfg, cat = self.config, self.catalog
        t0 = time.perf_counter()
        if pred is None:
            ap = AutoPredictor(**cfg.predictor_kwargs()).train(group, progress=progress)
        else:
            ap = AutoPredictor.load(pred["path"], key=self.key).retrain(group, progress=progress)
        secs = time.perf_counter() - t0
        version = 1 + (pred["version"] if pred else 0)
        path = self.state_dir / "predictors" / f"v{version:05d}"
        ap.save(path, key=self.key)
        self._point("trained")
        board = ap.leaderboard()
        metric = ap.optimization_metric
        top = board.loc[board["algorithm"] == "AutoPredictor", metric]
        score = float(top.iloc[0]) if len(top) else float(board[metric].min())
        v = cat.record_predictor(res.run_id, data["version"], data["end"], trig, why, str(path), secs, score,
                                 board, ap.weights_, ap.config())
        res.trigger, res.trigger_reason = trig, why
        res.messages.append(f"trained predictor v{v} ({trig}: {why})")
        _prune(self.state_dir / "predictors", "v*", _KEEP["predictors"], protect=path)
        log.info("trained predictor v%d (%s: %s) in %.1f s, backtest %s %.4f", v, trig, why, secs, metric, score)
        return ap, cat.current_predictor()

    # ------------------------------------------------------------- forecast
    def _forecast(self, res, predictor, pred, data, group) -> dict:
        from ..automl import AutoPredictor

        cfg, cat = self.config, self.catalog
        ap = predictor if predictor is not None else AutoPredictor.load(pred["path"], key=self.key)
        fc = ap.forecast(data=group)
        _refuse_non_finite(fc.frame, cfg.key_columns)
        top = cat.latest_forecast()
        version = 1 + (top["version"] if top else 0)
        path = self.state_dir / "forecasts" / f"v{version:05d}.parquet"
        self._write(fc.frame, path)
        self._point("forecast_written")
        exported = None
        if cfg.output["location"]:
            fmt = cfg.output["format"]
            loc = str(cfg.output["location"]).rstrip("/")
            exported = fc.export(f"{loc}/forecast_v{version:05d}.{fmt}", fmt, key=self.key)
            _copy_atomic(exported, f"{loc}/forecast_latest.{fmt}")
            self._point("exported")
        ts = fc.frame["timestamp"]
        v = cat.record_forecast(res.run_id, pred["version"], data["version"], str(path), ts.min(), ts.max(),
                                len(fc.frame), len(fc.items), exported)
        self._point("forecast_recorded")
        _prune(self.state_dir / "forecasts", "v*.parquet", _KEEP["forecasts"], protect=path)
        log.info("forecast v%d: %d items, %s..%s", v, len(fc.items), ts.min(), ts.max())
        return cat.latest_forecast()

    # -------------------------------------------------------------- publish
    def _publish(self, res: RunResult, latest: dict) -> None:
        cfg, db = self.config, self.config.database
        frame = self._read(latest["path"])
        keys = cfg.key_columns
        info = {"forecast_version": latest["version"], "predictor_version": latest["predictor_version"],
                "data_version": latest["data_version"], "run_id": res.run_id}
        version = publish_forecast(self.db_url, frame, keys, pipeline=cfg.name, table=db["table"], info=info,
                                   retries=db["retries"], backoff=db["backoff_seconds"], chunk_rows=db["chunk_rows"],
                                   keep_versions=db["keep_versions"], on_chunk=self.hooks.get("publish_chunk"),
                                   sleep=self.hooks.get("sleep", time.sleep), owner=self.owner,
                                   owner_description=f"state folder {self.state_dir}", on_point=self._point)
        self._point("published")
        self.catalog.mark_published(latest["version"], version)
        self._point("recorded")
        log.info("published forecast v%d as database version %d", latest["version"], version)

    # ------------------------------------------------------------- reading
    def query(self, item, start=None, end=None, **dimensions) -> pd.DataFrame:
        """The live forecast of one item from the database (:func:`fc_core.pipeline.publish.query_forecast`)."""
        return query_forecast(self.db_url, item, start, end, table=self.config.database["table"],
                              pipeline=self.config.name, **dimensions)

    def accuracy_history(self, per_item: bool = False) -> pd.DataFrame:
        """Monitored accuracy over time (one row per scored forecast), or per item when ``per_item``."""
        hist = self.catalog.accuracy_history()
        if not per_item or hist.empty:
            return hist
        parts = [self._read(p).assign(forecast_version=fv, window_start=ws)
                 for p, fv, ws in zip(hist["per_item"], hist["forecast_version"], hist["window_start"])
                 if p and Path(p).exists()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def plot_accuracy(self, metric: str | None = None, ax=None):
        """Chart of the monitored error over time with the threshold and the retrainings."""
        from ..plotting import plot_accuracy_history

        return plot_accuracy_history(self.accuracy_history(), metric=metric or self.config.monitoring["metric"],
                                     threshold=self.config.monitoring["threshold"], ax=ax)

    def status(self) -> dict:
        """The catalog's summary: current data, predictor and forecast versions, last run."""
        return self.catalog.status()
