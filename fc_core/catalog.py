"""The catalog of a production pipeline: what was ingested, trained, forecast, scored and published.

A SQLite file (``catalog.db``) in the pipeline's state folder, written through
SQLAlchemy. It lives beside the artifacts it describes (data snapshots, saved
predictors, forecast files, quarantined drops), so copying or deleting the
state folder keeps them consistent, and it stays writable while the
publication database is down: a failed publication is recorded, and the
forecast it could not publish is published by the next run.

Tables (one row per ...):

* ``runs``: pipeline run (status, trigger, counts, message, seconds);
* ``files``: data file seen, keyed by the SHA-256 of its bytes (``ingested`` or
  ``quarantined`` with the reason), which makes re-ingesting the same content a no-op;
* ``data_versions``: state of the imported data (snapshot path, a content hash
  chained from the parent's and the new files' hashes, rows, items, time range);
* ``predictors``: trained AutoPredictor (data version, trigger: ``first_run``,
  ``threshold``, ``schedule`` or ``manual``, backtest metrics, blend weights);
* ``forecasts``: forecast (predictor, data version, file, export, database version, publication time);
* ``accuracy``: score of an earlier forecast against the actuals that arrived later
  (overall metrics here, per-item metrics in a Parquet file named by the row).

Versions are the tables' integer ids; each record is written in one transaction
after its artifact is on disk, so a run killed in between leaves at most an
unreferenced file.

A damaged catalog is refused with :class:`CatalogError` (one line: the file and the
fix); the pipeline also refuses to start without a catalog while its state folder
holds data snapshots, and ``python -m fc_core.pipeline rebuild-catalog CONFIG``
rebuilds one from the state folder (:meth:`Catalog.adopt`).
"""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import pandas as pd

from .errors import ForecastError

__all__ = ["Catalog", "CatalogError"]


class CatalogError(ForecastError, RuntimeError):
    """The catalog is missing or damaged while the state folder holds artifacts."""


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def _py(v):
    """numpy / pandas scalars -> plain Python for the database."""
    if v is None:
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    return v


class Catalog:
    """Records of one pipeline's runs in ``path`` (a SQLite file, created on first use)."""

    def __init__(self, path):
        import sqlalchemy as sa

        from .publish import engine_for

        self.path = Path(path)
        self.engine = engine_for(f"sqlite:///{self.path}")
        md = sa.MetaData()
        ts, txt, num, i = sa.DateTime, sa.Text, sa.Float, sa.Integer
        self.runs = sa.Table(
            "runs", md, sa.Column("run_id", i, primary_key=True, autoincrement=True),
            sa.Column("started_at", ts), sa.Column("finished_at", ts), sa.Column("status", sa.String(20)),
            sa.Column("pid", i), sa.Column("trigger", sa.String(20)), sa.Column("files_new", i),
            sa.Column("files_quarantined", i), sa.Column("data_version", i), sa.Column("predictor_version", i),
            sa.Column("forecast_version", i), sa.Column("published_version", i), sa.Column("monitored", num),
            sa.Column("seconds", num), sa.Column("message", txt))
        self.files = sa.Table(
            "files", md, sa.Column("sha256", sa.String(64), primary_key=True), sa.Column("path", txt),
            sa.Column("size", i), sa.Column("signature", txt), sa.Column("status", sa.String(20)), sa.Column("rows", i),
            sa.Column("reason", txt), sa.Column("quarantine_path", txt), sa.Column("run_id", i),
            sa.Column("data_version", i), sa.Column("recorded_at", ts))
        self.data_versions = sa.Table(
            "data_versions", md, sa.Column("version", i, primary_key=True, autoincrement=True),
            sa.Column("run_id", i), sa.Column("parent", i), sa.Column("content_hash", sa.String(64)),
            sa.Column("snapshot", txt), sa.Column("rows", i), sa.Column("items", i), sa.Column("start", ts),
            sa.Column("end", ts), sa.Column("files", txt), sa.Column("created_at", ts))
        self.predictors = sa.Table(
            "predictors", md, sa.Column("version", i, primary_key=True, autoincrement=True),
            sa.Column("run_id", i), sa.Column("data_version", i), sa.Column("data_end", ts),
            sa.Column("trigger", sa.String(20)), sa.Column("reason", txt), sa.Column("path", txt),
            sa.Column("trained_at", ts), sa.Column("train_seconds", num), sa.Column("backtest_metric", num),
            sa.Column("leaderboard", txt), sa.Column("weights", txt), sa.Column("config", txt))
        self.forecasts = sa.Table(
            "forecasts", md, sa.Column("version", i, primary_key=True, autoincrement=True),
            sa.Column("run_id", i), sa.Column("predictor_version", i), sa.Column("data_version", i),
            sa.Column("path", txt), sa.Column("start", ts), sa.Column("end", ts), sa.Column("rows", i),
            sa.Column("items", i), sa.Column("created_at", ts), sa.Column("exported_to", txt),
            sa.Column("db_version", i), sa.Column("published_at", ts))
        self.accuracy = sa.Table(
            "accuracy", md, sa.Column("id", i, primary_key=True, autoincrement=True), sa.Column("run_id", i),
            sa.Column("forecast_version", i), sa.Column("predictor_version", i), sa.Column("data_version", i),
            sa.Column("window_start", ts), sa.Column("window_end", ts), sa.Column("n_items", i),
            sa.Column("n_observed", i), sa.Column("metric", sa.String(60)), sa.Column("value", num),
            sa.Column("threshold", num), sa.Column("exceeded", sa.Boolean), sa.Column("wql", num),
            sa.Column("wape", num), sa.Column("metrics", txt), sa.Column("per_item", txt),
            sa.Column("scored_at", ts), sa.UniqueConstraint("forecast_version", "data_version"))
        try:
            with self.engine.connect() as c:
                ok = c.exec_driver_sql("PRAGMA quick_check").scalar()
            if ok != "ok":
                raise sa.exc.DatabaseError("PRAGMA quick_check", None, Exception(str(ok)))
            md.create_all(self.engine)
        except sa.exc.DBAPIError as exc:
            from .publish import _first_line, _transient

            if _transient(exc):
                raise
            line = _first_line(exc)
            low = line.lower()
            if "readonly" in low or "read-only" in low or "unable to open" in low:
                fix = "make the state folder and catalog.db writable"
            elif "full" in low:
                fix = "free space on that disk"
            else:
                fix = ("the file is damaged: move it away, then run 'python -m fc_core.pipeline rebuild-catalog "
                       "CONFIG' to rebuild it from the state folder")
            raise CatalogError(f"catalog {self.path}: {line} ({fix}).") from None
        self._md = md

    # -------------------------------------------------------------- helpers
    def _insert(self, table, conn=None, **values) -> int:
        values = {k: _py(v) for k, v in values.items()}
        if conn is not None:
            return conn.execute(table.insert().values(**values)).inserted_primary_key[0]
        with self.engine.begin() as c:
            return c.execute(table.insert().values(**values)).inserted_primary_key[0]

    def _latest(self, table, *where):
        import sqlalchemy as sa

        pk = list(table.primary_key.columns)[0]
        stmt = sa.select(table).where(*where).order_by(pk.desc()).limit(1)
        with self.engine.connect() as c:
            row = c.execute(stmt).mappings().first()
        return dict(row) if row else None

    def frame(self, name: str) -> pd.DataFrame:
        """A catalog table as a DataFrame (``runs``, ``files``, ``data_versions``, ``predictors``,
        ``forecasts``, ``accuracy``), oldest first."""
        import sqlalchemy as sa

        table = self._md.tables[name]
        pk = list(table.primary_key.columns)[0]
        with self.engine.connect() as c:
            rows = c.execute(sa.select(table).order_by(pk)).mappings().all()
        return pd.DataFrame(rows, columns=[c.name for c in table.columns])

    def adopt(self, table: str, version: int, **values) -> None:
        """Record ``version`` in ``table`` under its own number (rebuilding a lost catalog)."""
        self._insert(self._md.tables[table], version=version, **values)

    # ----------------------------------------------------------------- runs
    def start_run(self, pid: int) -> int:
        return self._insert(self.runs, started_at=_now(), status="running", pid=pid)

    def mark_abandoned(self) -> int:
        """Runs still marked ``running`` when a new run holds the lock died on the way (killed): say so."""
        with self.engine.begin() as c:
            return c.execute(self.runs.update().where(self.runs.c.status == "running").values(
                status="killed", message="the process ended without finishing (killed?); the next run completed "
                                         "its work")).rowcount

    def finish_run(self, run_id: int, status: str, seconds: float, **fields) -> None:
        with self.engine.begin() as c:
            c.execute(self.runs.update().where(self.runs.c.run_id == run_id).values(
                status=status, finished_at=_now(), seconds=float(seconds), **{k: _py(v) for k, v in fields.items()}))

    # ---------------------------------------------------------------- files
    def known_files(self) -> dict[str, str]:
        """SHA-256 -> status of every file already processed."""
        import sqlalchemy as sa

        with self.engine.connect() as c:
            return dict(c.execute(sa.select(self.files.c.sha256, self.files.c.status)).all())

    def known_signatures(self) -> set[tuple[str, str]]:
        """(path, signature) of every file already processed (to skip reading them again)."""
        import sqlalchemy as sa

        with self.engine.connect() as c:
            return {tuple(r) for r in c.execute(sa.select(self.files.c.path, self.files.c.signature)).all()}

    def last_ingested_rows(self) -> int | None:
        """Rows of the newest ingested file, once two or more were ingested (the first is the history)."""
        import sqlalchemy as sa

        f = self.files
        with self.engine.connect() as c:
            rows = c.execute(sa.select(f.c.rows).where(f.c.status == "ingested")
                             .order_by(f.c.recorded_at.desc(), f.c.data_version.desc()).limit(2)).scalars().all()
        return int(rows[0]) if len(rows) == 2 and rows[0] else None

    def record_quarantine(self, run_id: int, sha256: str, path: str, size: int, reason: str, copy: str,
                          signature: str | None = None) -> None:
        self._insert(self.files, sha256=sha256, path=path, size=size, signature=signature, status="quarantined",
                     reason=reason, quarantine_path=copy, run_id=run_id, recorded_at=_now())

    def forget_quarantined(self, sha256: str | None = None) -> int:
        """Drop quarantine records (all, or one file's) so that the next run reads those files again."""
        with self.engine.begin() as c:
            cond = self.files.c.status == "quarantined"
            if sha256:
                cond = cond & self.files.c.sha256.startswith(sha256)
            return c.execute(self.files.delete().where(cond)).rowcount

    def record_data_version(self, run_id: int, snapshot: str, parent: int | None, content_hash: str, rows: int,
                            items: int, start, end, files: list[dict]) -> int:
        """A new data version and its ingested files, in one transaction."""
        with self.engine.begin() as c:
            v = self._insert(self.data_versions, c, run_id=run_id, parent=parent, content_hash=content_hash,
                             snapshot=snapshot, rows=rows, items=items, start=start, end=end,
                             files=json.dumps([f["sha256"] for f in files]), created_at=_now())
            for f in files:
                self._insert(self.files, c, sha256=f["sha256"], path=f["path"], size=f["size"],
                             signature=f.get("signature"), status="ingested", rows=f["rows"], run_id=run_id,
                             data_version=v, recorded_at=_now())
        return int(v)

    def current_data(self) -> dict | None:
        return self._latest(self.data_versions)

    # ----------------------------------------------------------- predictors
    def record_predictor(self, run_id: int, data_version: int, data_end, trigger: str, reason: str, path: str,
                         train_seconds: float, backtest_metric: float, leaderboard: pd.DataFrame, weights: dict,
                         config: dict) -> int:
        return int(self._insert(
            self.predictors, run_id=run_id, data_version=data_version, data_end=data_end, trigger=trigger,
            reason=reason, path=path, trained_at=_now(), train_seconds=train_seconds, backtest_metric=backtest_metric,
            leaderboard=leaderboard.to_json(orient="records", date_format="iso"), weights=json.dumps(weights),
            config=json.dumps(config, default=str)))

    def current_predictor(self) -> dict | None:
        return self._latest(self.predictors)

    # ------------------------------------------------------------ forecasts
    def record_forecast(self, run_id: int, predictor_version: int, data_version: int, path: str, start, end,
                        rows: int, items: int, exported_to: str | None) -> int:
        return int(self._insert(self.forecasts, run_id=run_id, predictor_version=predictor_version,
                                data_version=data_version, path=path, start=start, end=end, rows=rows, items=items,
                                created_at=_now(), exported_to=exported_to))

    def latest_forecast(self) -> dict | None:
        return self._latest(self.forecasts)

    def forecast_before(self, data_version: int) -> dict | None:
        """The newest forecast made from data older than ``data_version`` (the one to score now)."""
        return self._latest(self.forecasts, self.forecasts.c.data_version < data_version)

    def mark_published(self, forecast_version: int, db_version: int) -> None:
        with self.engine.begin() as c:
            c.execute(self.forecasts.update().where(self.forecasts.c.version == forecast_version)
                      .values(db_version=db_version, published_at=_now()))

    # ------------------------------------------------------------- accuracy
    def accuracy_for(self, forecast_version: int, data_version: int) -> dict | None:
        return self._latest(self.accuracy, self.accuracy.c.forecast_version == forecast_version,
                            self.accuracy.c.data_version == data_version)

    def record_accuracy(self, run_id: int, forecast_version: int, predictor_version: int, data_version: int,
                        window_start, window_end, overall: dict, metric: str, threshold: float | None,
                        per_item: str | None) -> dict:
        value = overall.get(metric)
        # a score that cannot be computed (NaN, missing) is a failed check, not a pass
        exceeded = bool(value is None or value != value or (threshold is not None and value > threshold))
        self._insert(self.accuracy, run_id=run_id, forecast_version=forecast_version,
                     predictor_version=predictor_version, data_version=data_version, window_start=window_start,
                     window_end=window_end, n_items=overall.get("n_items"), n_observed=overall.get("n_observed"),
                     metric=metric, value=value, threshold=threshold, exceeded=exceeded,
                     wql=overall.get("AverageWeightedQuantileLoss"), wape=overall.get("WAPE"),
                     metrics=json.dumps({k: _py(v) for k, v in overall.items()}), per_item=per_item, scored_at=_now())
        return self.accuracy_for(forecast_version, data_version)

    def accuracy_history(self) -> pd.DataFrame:
        """Monitored accuracy over time: one row per scored forecast, with whether it passed the threshold
        and whether a retraining followed (``retrained``, the trigger)."""
        acc = self.frame("accuracy")
        if acc.empty:
            return acc.assign(retrained=pd.Series(dtype=object))
        pred = self.frame("predictors")
        by_data = pred[pred["trigger"] != "first_run"].drop_duplicates("data_version", keep="first")
        trig = dict(zip(by_data["data_version"], by_data["trigger"]))
        acc["retrained"] = [trig.get(v) for v in acc["data_version"]]
        for c in ("window_start", "window_end", "scored_at"):
            acc[c] = pd.to_datetime(acc[c])
        return acc

    def status(self) -> dict:
        """A short summary: current versions, last run, counts."""
        runs = self.frame("runs")
        files = self.frame("files")
        return {
            "runs": int(len(runs)),
            "last_run": None if runs.empty else runs.iloc[-1][["run_id", "status", "trigger", "message"]].to_dict(),
            "data_version": (self.current_data() or {}).get("version"),
            "data_end": (self.current_data() or {}).get("end"),
            "predictor_version": (self.current_predictor() or {}).get("version"),
            "forecast_version": (self.latest_forecast() or {}).get("version"),
            "published_db_version": (self.latest_forecast() or {}).get("db_version"),
            "files_ingested": int((files["status"] == "ingested").sum()) if len(files) else 0,
            "files_quarantined": int((files["status"] == "quarantined").sum()) if len(files) else 0,
        }
