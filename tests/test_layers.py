"""The layer order of fc_core (the contracts in .importlinter): nothing imports upward, no import cycles."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).is_file():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    return subprocess.run([exe, "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(root)})


def test_import_contracts_are_kept():
    out = _lint_imports(ROOT)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_an_upward_import_or_a_cycle_breaks_the_contracts(tmp_path):
    ignore = shutil.ignore_patterns("__pycache__")
    for pkg in ("fc_core", "fc_widgets"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=ignore)
    shutil.copy(ROOT / ".importlinter", tmp_path)
    # an import hidden inside a function counts too: the foundation (panel) reaching up to automl
    panel = tmp_path / "fc_core" / "panel.py"
    panel.write_text(panel.read_text() + "\n\ndef _upward():\n    from .automl import AutoPredictor\n")
    out = _lint_imports(tmp_path)
    assert out.returncode == 1
    assert "fc_core.panel -> fc_core.automl" in out.stdout
    assert "2 broken" in out.stdout  # layers (panel under automl) and cycles (automl imports panel)


def test_no_module_over_600_lines():
    """Issue 18's size limit: a module that grows past 600 lines is split along its concerns."""
    root = Path(__file__).resolve().parents[1]
    long = {str(p.relative_to(root)): n for p in [*root.glob("fc_core/**/*.py"), *root.glob("fc_widgets/**/*.py")]
            if (n := len(p.read_text().splitlines())) > 600}
    assert not long, long


def test_one_url_rule():
    """Readers, the pipeline's config and the data-files view all ask fc_core.io.is_url whether a
    path is an fsspec URL (file:// is a local path): one rule, not a copy per module."""
    from fc_core import io
    from fc_core.pipeline import config
    from fc_core.readers import files
    from fc_core.views import data_files

    assert files._is_url is io.is_url and config.is_url is io.is_url and data_files.is_url is io.is_url
    assert io.is_url("memory://x/a.csv") and io.is_url("s3://b/k") and not io.is_url("file:///tmp/a.csv")
    assert config._resolve("memory://drops", Path("/base")) == "memory://drops"
    assert config._resolve("file://drops", Path("/base")) == "/base/drops"
    assert io.local_path("file:///tmp/a.csv") == "/tmp/a.csv" and io.local_path("/tmp/a.csv") == "/tmp/a.csv"
    # and one rule for the file:// prefix: no module strips it by hand
    import inspect

    for mod in (files, config, data_files):
        src = inspect.getsource(mod)
        assert 'len("file://")' not in src and 'removeprefix("file://")' not in src, mod.__name__
