"""Database engines, connection faults and retries for :mod:`fc_core.pipeline.publish` (split from it).

One engine per URL, reused across calls; a temporary outage is retried with backoff
(:func:`with_retries`), a permanent error is raised at once with the fix (:func:`permanent_error`).
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

from ..errors import ConfigError, ForecastError

_ENGINES: dict = {}
_ENGINES_LOCK = threading.Lock()
_REFLECTED: dict = {}


class PublicationError(ForecastError, RuntimeError):
    """The database could not be reached after every retry (a temporary outage: try again later)."""


class DatabaseFault(ForecastError, RuntimeError):
    """The database answered, but with a permanent error (damaged file, read-only or full disk, refused
    write): retrying will not help; the message names the database and the fix."""


class PipelineOwnerError(ConfigError):
    """Another state folder already publishes under this pipeline name in this table."""


# ------------------------------------------------------------------ engines
def safe_url(url) -> str:
    """``url`` with its password hidden, for messages and logs.

    >>> safe_url("postgresql+psycopg://me:secret@db:5432/x")
    'postgresql+psycopg://me:***@db:5432/x'
    """
    from sqlalchemy.engine import make_url

    try:
        return make_url(str(url)).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing secret
        return "<unparseable database URL>"


def engine_for(url):
    """A cached SQLAlchemy engine for ``url`` (SQLite files get WAL mode and a busy timeout).

    Raises
    ------
    ConfigError
        For a string that is not a database URL.
    MissingDependencyError
        When the URL's driver (e.g. psycopg) is not installed.
    """
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from ..errors import MissingDependencyError

    key = str(url)
    with _ENGINES_LOCK:
        if key in _ENGINES:
            eng = _ENGINES[key]
            ident = _file_identity(eng)
            if ident == getattr(eng, "_fc_file", None):
                return eng
            # the SQLite file was deleted or replaced: pooled connections still see the old one
            eng.dispose()
            del _ENGINES[key]
            _REFLECTED.pop((key, None), None)
            for k in [k for k in _REFLECTED if k[0] == key]:
                _REFLECTED.pop(k, None)
        try:
            u = make_url(key)
        except Exception as exc:
            raise ConfigError(f"database url {key!r} is not a SQLAlchemy URL ({exc}); use e.g. "
                              "'sqlite:///state/forecasts.db' or 'postgresql+psycopg://user@host:5432/db'.") from None
        kw: dict = {"pool_pre_ping": True}
        if u.get_backend_name() == "sqlite":
            kw["connect_args"] = {"timeout": 30}
            if u.database and u.database != ":memory:":
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        elif u.get_backend_name() == "postgresql":
            kw["connect_args"] = {"connect_timeout": 5}
        try:
            eng = sa.create_engine(u, **kw)
        except ImportError as exc:
            pip = "psycopg[binary]" if u.get_backend_name() == "postgresql" else str(exc.name or u.drivername)
            raise MissingDependencyError(str(exc.name or u.drivername), f"database {safe_url(key)}", pip) from exc
        except Exception as exc:  # e.g. unknown dialect name
            raise ConfigError(f"database url {safe_url(key)}: {exc}") from None
        if u.get_backend_name() == "sqlite":
            sa.event.listen(eng, "connect", _sqlite_pragmas)
        if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
            try:  # create the file now, so that its identity is known from the start
                with eng.connect():
                    pass
            except Exception:  # unwritable folder, damaged file: said by the first real use
                pass
        eng._fc_file = _file_identity(eng)
        _ENGINES[key] = eng
        return eng


def _file_identity(eng):
    """(device, inode) of a SQLite database file, None when it does not exist (or is not a file)."""
    if eng.url.get_backend_name() != "sqlite" or not eng.url.database or eng.url.database == ":memory:":
        return "n/a"
    try:
        st = os.stat(eng.url.database)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")  # readers are not blocked while a pipeline publishes
    except Exception:  # read-only media or :memory:
        pass
    cur.close()


#: messages of errors that retrying cannot cure (a database that does not exist, a refused login,
#: a damaged, read-only or full SQLite file); lower case
_PERMANENT = ("does not exist", "authentication failed", "no password supplied", "permission denied",
              "readonly database", "read-only", "unable to open database file", "file is not a database",
              "malformed", "disk is full", "no space left", "disk i/o error", "no such table", "no such column",
              "syntax error", "not authorized", "too many connections for role")
_FIXES = {
    "does not exist": "create it (createdb ...) or fix database.url",
    "authentication failed": "check the user and password in database.url",
    "readonly database": "make the database file and its folder writable, or point database.url elsewhere",
    "unable to open database file": "make the folder writable (and existing), or point database.url elsewhere",
    "read-only": "make the folder writable, or point database.url elsewhere",
    "file is not a database": "the file is damaged: move it away; the next run recreates it and publishes again",
    "malformed": "the file is damaged: move it away; the next run recreates it and publishes again",
    "disk is full": "free space on that disk",
    "no space left": "free space on that disk",
}


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _transient(exc: BaseException) -> bool:
    """Errors worth retrying: the database is unreachable, restarting, or busy (not: it does not exist,
    the login is refused, the file is damaged, read-only or full)."""
    from sqlalchemy import exc as sx

    if isinstance(exc, sx.DBAPIError) and bool(getattr(exc, "connection_invalidated", False)):
        return True
    if not isinstance(exc, (sx.OperationalError, sx.InterfaceError)):
        return False
    msg = str(getattr(exc, "orig", None) or exc).lower()
    return not any(p in msg for p in _PERMANENT)


def permanent_error(exc: BaseException, url, what: str) -> ForecastError:
    """A one-line error for a permanent database failure: a missing database is a configuration error,
    anything else a :class:`DatabaseFault`; the message names the database and the fix."""
    line = _first_line(exc)
    low = line.lower()
    fix = next((f for k, f in _FIXES.items() if k in low), "see the database's own log")
    msg = f"{what}: the database {safe_url(url)} refused: {line} ({fix})."
    if "does not exist" in low and ("database" in low or "role" in low):
        return ConfigError(msg)
    return DatabaseFault(msg)


def with_retries(fn: Callable, url, what: str, retries: int = 4, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
    """Call ``fn()``; on a connection error wait ``backoff * 2**k`` seconds and retry, ``retries`` times.

    Raises
    ------
    PublicationError
        When every attempt failed, naming the database and the last error.
    """
    t0 = time.monotonic()
    attempts = max(int(retries), 0) + 1
    from sqlalchemy import exc as sx

    for k in range(attempts):
        try:
            return fn()
        except Exception as exc:
            if not _transient(exc):
                if isinstance(exc, sx.DBAPIError):
                    raise permanent_error(exc, url, what) from exc
                raise
            if k == attempts - 1:
                msg = _first_line(exc)
                raise PublicationError(
                    f"{what}: the database {safe_url(url)} could not be reached after {attempts} attempt(s) over "
                    f"{time.monotonic() - t0:.1f} s (last error: {type(exc).__name__}: {msg}). Check that the server "
                    "runs and the URL is right; raise database.retries / database.backoff_seconds for longer "
                    "outages.") from exc
            sleep(float(backoff) * (2 ** k))
