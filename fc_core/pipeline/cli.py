"""The command line of a production pipeline: ``python -m fc_core.pipeline run|status|query|history CONFIG``.

Exit codes of the command line: 0 done (also "nothing new"); 75 try again later
(temporary: another run holds the lock, or the database stayed unreachable; the
forecast is kept and published by the next run); 2 bad configuration (also a
database that does not exist, a pipeline name owned by another state folder);
1 any other permanent failure (read-only or full disk, damaged file, bad data),
said in one line naming the path and the fix (``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from ..errors import ConfigError, ForecastError, SchemaError
from .core import Pipeline
from .publish import PublicationError
from .steps import PipelineBusyError

__all__ = ["main", "exit_code"]

log = logging.getLogger("fc_core.pipeline")


# -------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    """``python -m fc_core.pipeline run|status|query|history CONFIG ...``"""
    ap = argparse.ArgumentParser(prog="python -m fc_core.pipeline",
                                 description="Run a production forecasting pipeline configured by a YAML file.")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="one cycle: ingest, monitor, retrain if needed, forecast, publish")
    r.add_argument("config")
    r.add_argument("--force-retrain", action="store_true", help="retrain now whatever the error")
    r.add_argument("--progress", action="store_true", help="show training progress bars")
    s = sub.add_parser("status", help="current versions and the last run, as JSON")
    s.add_argument("config")
    q = sub.add_parser("query", help="the live forecast of one item from the database, as CSV")
    q.add_argument("config")
    q.add_argument("item")
    q.add_argument("--start")
    q.add_argument("--end")
    h = sub.add_parser("history", help="the monitored accuracy over time, as CSV (and a chart)")
    h.add_argument("config")
    h.add_argument("--chart", help="write the chart to this PNG file")
    rq = sub.add_parser("retry-quarantined", help="forget quarantined files so that the next run reads them again")
    rq.add_argument("config")
    rq.add_argument("--sha256", help="only the file whose content hash starts with this")
    rb = sub.add_parser("rebuild-catalog", help="rebuild a lost or damaged catalog.db from the state folder")
    rb.add_argument("config")
    for p in (r, s, q, h, rq, rb):
        p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        pipe = Pipeline.from_yaml(args.config)
        if args.command == "run":
            res = pipe.run(force_retrain=args.force_retrain, progress=args.progress)
            print(json.dumps({k: v for k, v in res.__dict__.items() if k != "monitored"}
                             | {"monitored": (res.monitored or {}).get("value")}, default=str, indent=1))
        elif args.command == "status":
            print(json.dumps(pipe.status(), default=str, indent=1))
        elif args.command == "rebuild-catalog":
            print(json.dumps(pipe.rebuild_catalog(), default=str, indent=1))
        elif args.command == "retry-quarantined":
            n = pipe.catalog.forget_quarantined(args.sha256)
            print(f"{n} quarantined file(s) will be read again by the next run")
        elif args.command == "query":
            print(pipe.query(args.item, args.start, args.end).to_csv(index=False), end="")
        else:
            hist = pipe.accuracy_history()
            cols = ["forecast_version", "predictor_version", "window_start", "window_end", "n_observed", "metric",
                    "value", "threshold", "exceeded", "wql", "wape", "retrained"]
            print(hist[[c for c in cols if c in hist.columns]].to_csv(index=False), end="")
            if args.chart:
                from ..plotting import save_figure

                save_figure(pipe.plot_accuracy(), args.chart)
    except Exception as exc:
        code, line = exit_code(exc)
        if getattr(args, "debug", False):
            log.exception("traceback")
        print(f"error: {line}", file=sys.stderr)
        return code
    return 0


def exit_code(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message of an error ending a command (see the module docstring)."""
    import errno

    if isinstance(exc, (PipelineBusyError, PublicationError)):
        return 75, _one_line(exc)
    if isinstance(exc, (ConfigError, SchemaError)):
        return 2, _one_line(exc)
    if isinstance(exc, ForecastError):
        return 1, _one_line(exc)
    if isinstance(exc, OSError):
        path = exc.filename or ""
        text = str(exc)
        if exc.errno == errno.ENOSPC or "No space left" in text:
            return 1, f"no space left on the device holding {path or 'a pipeline folder'}; free space there (or " \
                      "point state_dir / output.location elsewhere) and run again."
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) or "Read-only" in text:
            return 1, f"cannot write {path or 'a pipeline folder'}: {exc.strerror or text}; make it writable (or " \
                      "point state_dir / output.location / input.quarantine elsewhere) and run again."
        return 1, f"{path + ': ' if path else ''}{exc.strerror or _one_line(exc)}"
    return 1, f"{type(exc).__name__}: {_one_line(exc)} (run with --debug for the traceback)"


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return " ".join(text.split()) if text else type(exc).__name__
