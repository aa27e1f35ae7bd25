"""Publishing forecasts to a database table that other programs query by item and time range.

SQLite (embedded) by default, PostgreSQL or any SQLAlchemy URL when configured.
Three tables per ``table`` name (``forecasts`` by default):

* ``forecasts``: one row per pipeline, version, item (key columns, named as in the
  data: ``instance_type``...), ``timestamp``, with one column per forecast type
  (``p10``, ``p50``, ``p90``, ``mean``);
* ``forecasts_versions``: one row per published (or staged) version: status, row and
  item counts, first and last timestamp, creation and publication times, ``info`` (JSON);
* ``forecasts_live``: the pointer, one row per pipeline naming its live version.

A publication never changes the rows readers see until it is complete: the new
version's rows are inserted (in chunks, each committed) under a version number
no reader looks at, then **one transaction** marks the version published and
moves the pointer. :func:`query_forecast` reads through the pointer in one
statement, so a reader gets the old forecast or the new one, never a mix, and a
publication killed halfway leaves the old forecast live. Its orphaned rows are
deleted by the next publication, which also retires versions beyond
``keep_versions``.

Connection failures (server down, closed port, SQLite file locked) are retried
with exponential backoff; after the last attempt :class:`PublicationError` says
which database (password hidden) could not be reached and for how long.

>>> import pandas as pd, tempfile, os
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "f.db")
>>> fc = pd.DataFrame({"item_id": ["a", "a"], "timestamp": pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00"]),
...                    "p50": [1.0, 2.0], "p90": [2.0, 3.0]})
>>> publish_forecast(url, fc, ["item_id"], pipeline="demo")
1
>>> query_forecast(url, "a", start="2024-01-01 01:00")[["timestamp", "p90"]].to_dict("records")
[{'timestamp': Timestamp('2024-01-01 01:00:00'), 'p90': 3.0}]
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import time
from typing import Callable, Sequence

import pandas as pd

from ..errors import ConfigError
from .dbengine import (_ENGINES, _ENGINES_LOCK, _REFLECTED, _FIXES, _PERMANENT, DatabaseFault,  # noqa: F401
                       PipelineOwnerError, PublicationError, _file_identity, _first_line, _sqlite_pragmas, _transient,
                       engine_for, permanent_error, safe_url, with_retries)

__all__ = ["publish_forecast", "query_forecast", "live_version", "published_versions", "engine_for", "safe_url",
           "PublicationError", "DatabaseFault", "PipelineOwnerError", "forecast_hash", "DEFAULT_TABLE"]

DEFAULT_TABLE = "forecasts"


# ------------------------------------------------------------------ tables
def _tables(md, table: str, key_columns: Sequence[str], value_columns: Sequence[str]):
    import sqlalchemy as sa

    values = sa.Table(
        table, md,
        sa.Column("pipeline", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        *[sa.Column(k, sa.String(400), nullable=False) for k in key_columns],
        sa.Column("timestamp", sa.DateTime, nullable=False),
        *[sa.Column(c, sa.Float) for c in value_columns],
        sa.PrimaryKeyConstraint("pipeline", "version", *key_columns, "timestamp", name=f"pk_{table}"),
    )
    versions = sa.Table(
        f"{table}_versions", md,
        sa.Column("pipeline", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rows", sa.Integer), sa.Column("items", sa.Integer),
        sa.Column("first_timestamp", sa.DateTime), sa.Column("last_timestamp", sa.DateTime),
        sa.Column("created_at", sa.DateTime), sa.Column("published_at", sa.DateTime),
        sa.Column("info", sa.Text),
    )
    live = sa.Table(
        f"{table}_live", md,
        sa.Column("pipeline", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("item_field", sa.String(200), nullable=False),
        sa.Column("key_columns", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime),
    )
    sa.Table(  # which state folder publishes under each pipeline name
        f"{table}_owners", md,
        sa.Column("pipeline", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("described", sa.Text),
        sa.Column("claimed_at", sa.DateTime),
    )
    return values, versions, live


def _ensure_tables(eng, table: str, key_columns, value_columns):
    import sqlalchemy as sa

    insp = sa.inspect(eng)
    if insp.has_table(table):
        have = [c["name"] for c in insp.get_columns(table)]
        fixed = ["pipeline", "version", *key_columns, "timestamp"]
        old_keys = [c for c in have if c not in value_columns and c not in fixed]
        if any(c not in have for c in fixed) or any(not _is_value_name(c) for c in old_keys):
            raise ConfigError(
                f"table {table!r} in {safe_url(eng.url)} has columns {have} but this forecast is keyed by "
                f"{fixed}; publish into another table (database.table in the pipeline config) or drop the old table.")
        # other forecast types: add the new columns, keep the old ones (readers never lose a column
        # while they read; a version without a column leaves it empty and query_forecast omits it)
        added = [c for c in value_columns if c not in have]
        if added:
            with eng.begin() as conn:
                for c in added:
                    conn.exec_driver_sql(f"ALTER TABLE {_quote(eng, table)} ADD COLUMN {_quote(eng, c)} "
                                         f"{'DOUBLE PRECISION' if eng.dialect.name == 'postgresql' else 'FLOAT'}")
        value_columns = [*[c for c in have if c not in fixed], *added]
    md = sa.MetaData()
    tabs = _tables(md, table, key_columns, value_columns)
    md.create_all(eng)
    _REFLECTED.pop((str(eng.url), table), None)
    return tabs


def _is_value_name(c: str) -> bool:
    return c == "mean" or (c.startswith("p") and c[1:].replace(".", "", 1).isdigit())


def _quote(eng, name: str) -> str:
    return eng.dialect.identifier_preparer.quote(name)


def _reflect(eng, table: str, fresh: bool = False):
    import sqlalchemy as sa

    key = (str(eng.url), table)
    if key in _REFLECTED and not fresh:
        return _REFLECTED[key]
    md = sa.MetaData()
    try:
        md.reflect(eng, only=[table, f"{table}_versions", f"{table}_live"])
    except sa.exc.InvalidRequestError:
        raise ConfigError(f"no forecast has been published to table {table!r} in {safe_url(eng.url)} yet "
                          "(run the pipeline first, or check database.table).") from None
    out = md.tables[table], md.tables[f"{table}_versions"], md.tables[f"{table}_live"]
    _REFLECTED[key] = out
    return out


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def _columns(frame: pd.DataFrame, key_columns, value_columns, pipeline: str, version: int, dialect) -> dict:
    """Column name -> Python values ready for the driver (bulk inserts skip SQLAlchemy's per-row processing)."""
    n = len(frame)
    out = {"pipeline": [str(pipeline)] * n, "version": [int(version)] * n}
    for k in key_columns:
        out[k] = frame[k].astype(str).tolist()
    ts = pd.DatetimeIndex(frame["timestamp"])
    # SQLite keeps DATETIME as text: the exact layout SQLAlchemy writes and compares against
    out["timestamp"] = (ts.strftime("%Y-%m-%d %H:%M:%S.%f").tolist() if dialect.name == "sqlite"
                        else list(ts.to_pydatetime()))
    for c in value_columns:
        v = frame[c].to_numpy(dtype=float).astype(object)
        v[pd.isna(frame[c]).to_numpy()] = None
        out[c] = v.tolist()
    return out


def _bulk_insert(conn, table, cols: dict) -> None:
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(cols))
    if compiled.positional:  # positiontup names the columns in the order of the placeholders
        params = list(zip(*(cols[c] for c in compiled.positiontup)))
    else:  # named placeholders use escaped names for columns such as "p2.5"
        esc = compiled.escaped_bind_names or {}
        names = [esc.get(c, c) for c in cols]
        params = [dict(zip(names, row)) for row in zip(*cols.values())]
    conn.exec_driver_sql(str(compiled), params)


# ---------------------------------------------------------------- publish
def forecast_hash(frame: pd.DataFrame, key_columns: Sequence[str]) -> str:
    """SHA-256 of a forecast's content (columns, keys, times, values; row order does not matter).

    The same forecast published twice has the same hash: :func:`publish_forecast` uses it so that a
    publication repeated after a crash publishes nothing new.
    """
    import hashlib

    keys = [*key_columns, "timestamp"]
    f = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    f = f.astype({k: str for k in key_columns})
    h = hashlib.sha256(json.dumps(list(map(str, f.columns))).encode())
    h.update(pd.util.hash_pandas_object(f, index=False).to_numpy().tobytes())
    return h.hexdigest()


def publish_forecast(db_url, frame: pd.DataFrame, key_columns: Sequence[str], *, pipeline: str,
                     table: str = DEFAULT_TABLE, info: dict | None = None, retries: int = 4, backoff: float = 0.5,
                     chunk_rows: int = 50_000, keep_versions: int = 3,
                     on_chunk: Callable[[int, int], None] | None = None,
                     sleep: Callable[[float], None] = time.sleep, owner: str | None = None,
                     owner_description: str = "", on_point: Callable[[str], None] | None = None) -> int:
    """Publish a forecast frame as the new live version of ``pipeline``; returns the version number.

    Parameters
    ----------
    db_url : str
        SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://user@host:port/db``).
    frame : DataFrame
        Key columns, ``timestamp`` and forecast-type columns (a ``Forecast.frame``).
    key_columns : list of str
        The item field first, then forecast dimensions.
    pipeline : str
        Name under which the versions are kept (several pipelines may share a table).
    retries, backoff :
        Connection failures are retried ``retries`` times, waiting ``backoff * 2**k`` seconds.
    chunk_rows : int
        Rows per committed insert batch.
    keep_versions : int
        Published versions kept (the live one included); older ones are deleted.
    on_chunk : callable, optional
        Called as ``on_chunk(rows_written, rows_total)`` after each committed batch (progress, tests).
    owner : str, optional
        Identity of the publisher (a pipeline's state folder): the first owner to publish under
        ``pipeline`` in ``table`` claims the name; another owner is refused before anything is written.
    on_point : callable, optional
        Called as ``on_point(name)`` at ``staged``, ``switched`` (the new version is live) and
        ``retired`` (fault tests kill the process there).

    Exactly once: the live version's content hash (:func:`forecast_hash`) is kept with it; publishing
    the same content again (a rerun after a kill between the switch and the caller's own record)
    returns the live version and adds nothing.

    Raises
    ------
    ConfigError
        For an empty frame, a missing column, a table keyed otherwise, or a database that does not exist.
    DataError
        For non-finite values (inf, NaN) in the forecast: nothing is published.
    PipelineOwnerError
        When another owner publishes under ``pipeline``.
    PublicationError
        When the database stays unreachable; the live version is then unchanged.
    DatabaseFault
        For a permanent database error (damaged, read-only or full), in one line naming the database.
    """
    import numpy as np

    from ..errors import DataError

    key_columns = list(key_columns)
    missing = [c for c in (*key_columns, "timestamp") if c not in frame.columns]
    if missing:
        raise ConfigError(f"the forecast to publish lacks column(s) {missing}; it has {list(frame.columns)}.")
    if not len(frame):
        raise ConfigError(f"refusing to publish an empty forecast for pipeline {pipeline!r}.")
    if int(keep_versions) < 1:
        raise ConfigError(f"keep_versions must be at least 1, got {keep_versions!r}.")
    value_columns = [c for c in frame.columns if c not in (*key_columns, "timestamp")]
    bad = ~np.isfinite(frame[value_columns].to_numpy(dtype=float))
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        items = frame[key_columns[0]].iloc[rows].astype(str).unique().tolist()
        raise DataError(f"refusing to publish the forecast of pipeline {pipeline!r}: {int(bad.sum())} non-finite "
                        f"value(s) (inf or NaN) in {len(rows)} row(s), items {items[:5]}; nothing was published "
                        "and the live forecast is unchanged.")
    eng = engine_for(db_url)
    state = {}
    info = {**(info or {}), "content_sha256": forecast_hash(frame, key_columns), "columns": value_columns}
    point = on_point or (lambda name: None)

    def attempt():
        return _publish_once(eng, frame, key_columns, value_columns, pipeline, table, info, chunk_rows,
                             keep_versions, on_chunk, state, owner, owner_description, point)

    return with_retries(attempt, db_url, f"publishing the forecast of pipeline {pipeline!r}", retries, backoff, sleep)


def _publish_once(eng, frame, key_columns, value_columns, pipeline, table, info, chunk_rows, keep_versions,
                  on_chunk, state, owner=None, owner_description="", point=lambda name: None) -> int:
    import sqlalchemy as sa

    values, versions, live = _ensure_tables(eng, table, key_columns, value_columns)
    if owner is not None:
        _claim(eng, table, pipeline, owner, owner_description)
    done = _live_with_hash(eng, versions, live, pipeline, info["content_sha256"])
    if done is not None:  # published already (the caller was killed before it could record it)
        _retire(eng, values, versions, pipeline, keep_versions)
        return done
    _delete_staged(eng, values, versions, pipeline)
    with eng.begin() as conn:
        top = conn.execute(sa.select(sa.func.max(versions.c.version)).where(versions.c.pipeline == pipeline)).scalar()
        version = int(top or 0) + 1
        ts = pd.DatetimeIndex(frame["timestamp"])
        conn.execute(versions.insert().values(
            pipeline=pipeline, version=version, status="staged", rows=int(len(frame)),
            items=int(frame[key_columns].drop_duplicates().shape[0]), first_timestamp=ts.min().to_pydatetime(),
            last_timestamp=ts.max().to_pydatetime(), created_at=_now(), info=json.dumps(info, default=str)))
    point("staged")
    step = max(int(chunk_rows), 1)
    for lo in range(0, len(frame), step):
        cols = _columns(frame.iloc[lo:lo + step], key_columns, value_columns, pipeline, version, eng.dialect)
        with eng.begin() as conn:
            _bulk_insert(conn, values, cols)
        if on_chunk is not None:
            on_chunk(min(lo + step, len(frame)), len(frame))
    # the switch: one transaction marks the version published and moves the pointer
    with eng.begin() as conn:
        now = _now()
        conn.execute(versions.update().where((versions.c.pipeline == pipeline) & (versions.c.version == version))
                     .values(status="published", published_at=now))
        upd = conn.execute(live.update().where(live.c.pipeline == pipeline).values(
            version=version, item_field=key_columns[0], key_columns=json.dumps(key_columns), published_at=now))
        if upd.rowcount == 0:
            conn.execute(live.insert().values(pipeline=pipeline, version=version, item_field=key_columns[0],
                                              key_columns=json.dumps(key_columns), published_at=now))
    point("switched")
    _retire(eng, values, versions, pipeline, keep_versions)
    point("retired")
    return version


def _claim(eng, table: str, pipeline: str, owner: str, described: str) -> None:
    """Claim ``pipeline`` in ``table`` for ``owner``, or refuse when another owner holds it."""
    import sqlalchemy as sa

    owners = sa.Table(f"{table}_owners", sa.MetaData(), autoload_with=eng)
    for _ in range(2):
        with eng.begin() as conn:
            row = conn.execute(sa.select(owners).where(owners.c.pipeline == pipeline)).mappings().first()
            if row is None:
                try:
                    conn.execute(owners.insert().values(pipeline=pipeline, owner=owner, described=described,
                                                        claimed_at=_now()))
                    return
                except sa.exc.IntegrityError:  # claimed at the same moment by another: read it again
                    continue
        if row["owner"] == owner:
            return
        raise PipelineOwnerError(
            f"pipeline name {pipeline!r} in table {table!r} of {safe_url(eng.url)} is published by another state "
            f"folder ({row['described'] or row['owner']}); this one is {described or owner}. Give this pipeline "
            "another name (config key 'name') or another database.table; nothing was written.")


def _live_with_hash(eng, versions, live, pipeline: str, digest: str) -> int | None:
    """The live version of ``pipeline`` when its content hash is ``digest``."""
    import sqlalchemy as sa

    with eng.connect() as conn:
        row = conn.execute(sa.select(versions.c.version, versions.c.info).select_from(
            live.join(versions, (live.c.pipeline == versions.c.pipeline) & (live.c.version == versions.c.version)))
            .where(live.c.pipeline == pipeline)).first()
    if row is None:
        return None
    try:
        same = json.loads(row[1] or "{}").get("content_sha256") == digest
    except ValueError:
        same = False
    return int(row[0]) if same else None


def _delete_staged(eng, values, versions, pipeline: str) -> int:
    """Remove what a killed publication left (its rows are invisible to readers already)."""
    import sqlalchemy as sa

    with eng.begin() as conn:
        staged = [r[0] for r in conn.execute(sa.select(versions.c.version).where(
            (versions.c.pipeline == pipeline) & (versions.c.status == "staged")))]
        if staged:
            conn.execute(values.delete().where((values.c.pipeline == pipeline) & values.c.version.in_(staged)))
            conn.execute(versions.delete().where((versions.c.pipeline == pipeline) & versions.c.version.in_(staged)))
    return len(staged)


def _retire(eng, values, versions, pipeline: str, keep: int) -> None:
    import sqlalchemy as sa

    with eng.begin() as conn:
        pub = [r[0] for r in conn.execute(sa.select(versions.c.version).where(
            (versions.c.pipeline == pipeline) & (versions.c.status == "published")).order_by(versions.c.version.desc()))]
        old = pub[int(keep):]
        if old:
            conn.execute(values.delete().where((values.c.pipeline == pipeline) & values.c.version.in_(old)))
            conn.execute(versions.update().where((versions.c.pipeline == pipeline) & versions.c.version.in_(old))
                         .values(status="retired"))


# ------------------------------------------------------------------ read
def _pick_pipeline(conn, live, pipeline: str | None, url, table):
    import sqlalchemy as sa

    rows = conn.execute(sa.select(live)).mappings().all()
    if pipeline is not None:
        rows = [r for r in rows if r["pipeline"] == pipeline]
        if not rows:
            raise ConfigError(f"pipeline {pipeline!r} has no live forecast in table {table!r} of {safe_url(url)}.")
    if not rows:
        raise ConfigError(f"no forecast has been published to table {table!r} in {safe_url(url)} yet.")
    if len(rows) > 1:
        raise ConfigError(f"table {table!r} holds the forecasts of several pipelines "
                          f"({sorted(r['pipeline'] for r in rows)}); pass pipeline=... to choose one.")
    return rows[0]


def query_forecast(db_url, item, start=None, end=None, *, table: str = DEFAULT_TABLE, pipeline: str | None = None,
                   **dimensions) -> pd.DataFrame:
    """The live forecast of one item between ``start`` and ``end`` (inclusive), read from the database.

    For programs that act on forecasts (a scaler sizing a cluster, a replenishment job).
    The result comes from one published version, never from a publication in progress.

    Parameters
    ----------
    db_url : str
        The database the pipeline publishes to.
    item : str
        Value of the item field (``instance_type``, ``item_id`` ...).
    start, end : timestamp-like, optional
        Time range (inclusive); open-ended when omitted.
    table : str
    pipeline : str, optional
        Needed only when several pipelines publish into ``table``.
    **dimensions :
        Forecast dimension values (``location="eu-west-1"``).

    Returns
    -------
    DataFrame
        Key columns, ``timestamp``, forecast types (``p10`` ... ``mean``) and ``version``, sorted by time;
        empty when the item has no forecast in that range.

    Raises
    ------
    ConfigError
        When nothing is published yet, a dimension is unknown, or ``pipeline`` is needed.
    """
    import sqlalchemy as sa

    eng = engine_for(db_url)
    try:
        return _query(eng, db_url, item, start, end, table, pipeline, dimensions, _reflect(eng, table))
    except sa.exc.DBAPIError as exc:
        # the table was recreated since this process first read its layout: read it again, once
        if _transient(exc) or "column" not in str(exc).lower():
            raise
        return _query(eng, db_url, item, start, end, table, pipeline, dimensions, _reflect(eng, table, fresh=True))


def _query(eng, db_url, item, start, end, table, pipeline, dimensions, tables) -> pd.DataFrame:
    import sqlalchemy as sa

    values, versions, live = tables
    with eng.connect() as conn:
        lv = _pick_pipeline(conn, live, pipeline, db_url, table)
        keys = json.loads(lv["key_columns"])
        bad = sorted(set(dimensions) - set(keys[1:]))
        if bad:
            raise ConfigError(f"unknown forecast dimension(s) {bad}; this forecast's keys are {keys}.")
        info = conn.execute(sa.select(versions.c.info).where((versions.c.pipeline == lv["pipeline"])
                                                             & (versions.c.version == lv["version"]))).scalar()
        try:
            own = json.loads(info or "{}").get("columns")
        except ValueError:
            own = None
        # the live version's forecast types (columns added later for other versions are left out)
        cols = [c for c in values.columns if c.name != "pipeline"
                and (own is None or c.name in own or c.name in (*keys, "timestamp", "version"))]
        cond = [values.c.pipeline == lv["pipeline"], values.c[keys[0]] == str(item)]
        cond += [values.c[k] == str(v) for k, v in dimensions.items()]
        if start is not None:
            cond.append(values.c.timestamp >= pd.Timestamp(start).to_pydatetime())
        if end is not None:
            cond.append(values.c.timestamp <= pd.Timestamp(end).to_pydatetime())
        stmt = (sa.select(*cols).select_from(values.join(live, (values.c.pipeline == live.c.pipeline)
                                                         & (values.c.version == live.c.version)))
                .where(*cond).order_by(*[values.c[k] for k in keys], values.c.timestamp))
        rows = conn.execute(stmt).all()
    names = [c.name for c in cols]
    out = pd.DataFrame(rows, columns=names)
    out["timestamp"] = pd.to_datetime(out["timestamp"])
    front = [*keys, "timestamp"]
    rest = [c for c in names if c not in front and c != "version"]
    if own:
        rest.sort(key=lambda c: own.index(c) if c in own else len(own))
    return out[[*front, *rest, "version"]]


def live_version(db_url, table: str = DEFAULT_TABLE, pipeline: str | None = None) -> int | None:
    """The live version number of ``pipeline`` (None when nothing is published)."""
    import sqlalchemy as sa

    eng = engine_for(db_url)
    if not sa.inspect(eng).has_table(f"{table}_live"):
        return None
    _, _, live = _reflect(eng, table)
    with eng.connect() as conn:
        try:
            return int(_pick_pipeline(conn, live, pipeline, db_url, table)["version"])
        except ConfigError:
            return None


def published_versions(db_url, table: str = DEFAULT_TABLE, pipeline: str | None = None) -> pd.DataFrame:
    """The versions table (staged, published and retired versions), newest first."""
    import sqlalchemy as sa

    eng = engine_for(db_url)
    _, versions, _ = _reflect(eng, table)
    stmt = sa.select(versions).order_by(versions.c.pipeline, versions.c.version.desc())
    if pipeline is not None:
        stmt = stmt.where(versions.c.pipeline == pipeline)
    with eng.connect() as conn:
        return pd.DataFrame(conn.execute(stmt).mappings().all(), columns=[c.name for c in versions.columns])
