"""Run a chain of notebooks with one YAML of parameters, reporting each step's time.

The YAML names an output folder, parameters shared by every step, and the steps::

    output_dir: runs/nightly            # each step's executed notebook and outputs go under it
    parameters:                          # shared by all steps (a step's own win)
      device: cpu
    steps:
      - notebook: notebooks/getting_started.ipynb
        parameters: {forecast_horizon: 24}
      - notebook: notebooks/retraining.ipynb
        name: retrain                    # optional; default the notebook's name

Each step runs under papermill with ``output_dir`` set to ``<output_dir>/<name>``
(unless the step sets its own). A failing step stops the chain with the
notebook's own error; ``summary.csv`` lists every step, its status and seconds.

Command line: ``fc-run chain.yaml`` or ``python -m fc_core.runner chain.yaml``.

The notebooks themselves ship with the package (in the wheel's data, under
``<prefix>/share/fc-toolkit/notebooks``); ``fc-notebooks DEST`` copies them into a
folder of yours, from an installed wheel or a source checkout alike.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import sysconfig
import time
from pathlib import Path

import pandas as pd

from .errors import ConfigError
from .io import write_frame


def load_chain(path) -> dict:
    """Read and check a chain YAML.

    Raises
    ------
    ConfigError
        Naming the file and the entry that is wrong.
    """
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"chain file {path} does not exist.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or not doc["steps"]:
        raise ConfigError(f"{path}: expected a mapping with a non-empty 'steps' list.")
    unknown = set(doc) - {"output_dir", "parameters", "steps", "kernel"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; use output_dir, parameters, steps, kernel.")
    names = set()
    for i, step in enumerate(doc["steps"], 1):
        if not isinstance(step, dict) or "notebook" not in step:
            raise ConfigError(f"{path}: step {i} has no 'notebook'.")
        nb = Path(step["notebook"])
        if not nb.is_absolute():
            nb = (path.parent / nb) if (path.parent / nb).exists() else nb
        if not nb.exists():
            raise ConfigError(f"{path}: step {i} notebook {step['notebook']} does not exist.")
        step["notebook"] = str(nb)
        step.setdefault("name", nb.stem)
        if step["name"] in names:
            raise ConfigError(f"{path}: two steps are named {step['name']!r}; give one a 'name'.")
        names.add(step["name"])
        extra = set(step) - {"notebook", "name", "parameters"}
        if extra:
            raise ConfigError(f"{path}: step {i} has unknown key(s) {sorted(extra)}.")
    doc.setdefault("output_dir", "runs")
    doc.setdefault("parameters", {})
    return doc


def run_chain(path, progress: bool = True) -> pd.DataFrame:
    """Run every step of the chain in ``path``; return (and write) the per-step summary.

    Raises
    ------
    RuntimeError
        When a step fails; the message names the step and carries the notebook's error.
    """
    import papermill

    doc = load_chain(path)
    out = Path(doc["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    failed = None
    for step in doc["steps"]:
        params = {**doc["parameters"], **(step.get("parameters") or {})}
        params.setdefault("output_dir", str(out / step["name"]))
        t0 = time.perf_counter()
        status, error = "ok", ""
        if progress:
            print(f"[fc-run] {step['name']}: {step['notebook']} ...", flush=True)
        try:
            papermill.execute_notebook(step["notebook"], str(out / f"{step['name']}.ipynb"), parameters=params,
                                       kernel_name=doc.get("kernel", "python3"), progress_bar=False)
        except papermill.PapermillExecutionError as exc:
            status, error = "failed", f"{exc.ename}: {exc.evalue}"
            failed = step["name"]
        seconds = round(time.perf_counter() - t0, 2)
        rows.append({"step": step["name"], "notebook": step["notebook"], "status": status, "seconds": seconds,
                     "output_dir": params["output_dir"], "error": error})
        if progress:
            print(f"[fc-run] {step['name']}: {status} in {seconds} s {error}", flush=True)
        if failed:
            break
    summary = pd.DataFrame(rows)
    write_frame(summary, out / "summary.csv")
    if failed:
        raise RuntimeError(f"step {failed!r} failed: {rows[-1]['error']} (executed notebook: "
                           f"{out / (failed + '.ipynb')})")
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fc-run", description="Run a chain of notebooks from one YAML file.")
    parser.add_argument("chain", help="YAML file with output_dir, parameters and steps")
    args = parser.parse_args(argv)
    try:
        summary = run_chain(args.chain)
    except (ConfigError, RuntimeError) as exc:
        print(f"fc-run: {exc}", file=sys.stderr)
        return 1
    print(summary.to_string(index=False))
    return 0


# ------------------------------------------------------------------ fc-notebooks
NOTEBOOK_SUFFIXES = (".ipynb", ".yaml")


def notebook_folder() -> Path:
    """Where the toolkit's notebooks are: an installed wheel's data folder, else the source checkout.

    Raises
    ------
    ConfigError
        If neither holds them (a broken install).
    """
    candidates = [Path(sysconfig.get_paths()["data"]) / "share" / "fc-toolkit" / "notebooks",
                  Path(sys.prefix) / "share" / "fc-toolkit" / "notebooks",
                  Path(__file__).resolve().parents[1] / "notebooks"]
    for c in candidates:
        if c.is_dir() and any(c.glob("*.ipynb")):
            return c
    raise ConfigError("the toolkit's notebooks were not found (looked in "
                      + ", ".join(str(c) for c in candidates) + "); reinstall fc-toolkit.")


def copy_notebooks(dest, overwrite: bool = False) -> list[Path]:
    """Copy the toolkit's notebooks (and the chain example) into ``dest``; return the new paths.

    Raises
    ------
    ConfigError
        If a notebook already exists in ``dest`` and ``overwrite`` is False (nothing is copied then).
    """
    src = notebook_folder()
    dest = Path(dest)
    files = sorted(f for f in src.iterdir() if f.suffix in NOTEBOOK_SUFFIXES)
    clash = [f.name for f in files if (dest / f.name).exists()]
    if clash and not overwrite:
        raise ConfigError(f"{dest} already holds {clash}; pick an empty folder or pass --overwrite.")
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        tmp = dest / f".{f.name}.tmp"
        shutil.copyfile(f, tmp)
        tmp.replace(dest / f.name)
        out.append(dest / f.name)
    return out


def notebooks_main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fc-notebooks",
                                     description="Copy the toolkit's notebooks into a folder to run or edit them.")
    parser.add_argument("dest", help="folder to copy the notebooks into (created if missing)")
    parser.add_argument("--overwrite", action="store_true", help="replace notebooks already there")
    args = parser.parse_args(argv)
    try:
        paths = copy_notebooks(args.dest, overwrite=args.overwrite)
    except ConfigError as exc:
        print(f"fc-notebooks: {exc}", file=sys.stderr)
        return 1
    print(f"copied {len(paths)} files to {Path(args.dest).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
