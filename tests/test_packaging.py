"""The install paths stay true: environment.yml matches pyproject.toml; README's commands exist;
import fc_core stays light."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
CONDA_NAME = {"torch": "pytorch", "gluonts[torch]": "gluonts"}


def _name_spec(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", req)
    return m.group(1).lower(), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    for d in env["dependencies"]:
        if isinstance(d, str) and d not in ("pip",) and not d.startswith("python="):
            n, s = _name_spec(d)
            conda[n] = s
    expected = {}
    for d in deps:
        n, s = _name_spec(d)
        expected[CONDA_NAME.get(n, n)] = s
    assert conda == expected, (
        "environment.yml and pyproject.toml disagree; "
        f"only in pyproject: {sorted(set(expected) - set(conda))}, only in environment.yml: "
        f"{sorted(set(conda) - set(expected))}, different specs: "
        f"{sorted(k for k in set(conda) & set(expected) if conda[k] != expected[k])}"
    )
    pip_section = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    editable = [p for p in pip_section if p.startswith("-e .")]
    assert editable, "environment.yml's pip section must install the project (-e .[...])"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = re.search(r"\[(.*?)\]", editable[0])
    named = set(named.group(1).split(",")) if named else set()
    assert named == set(extras), (
        f"environment.yml installs extras {sorted(named)} but pyproject.toml has {sorted(extras)}")


def test_wheel_ships_the_notebooks_and_fc_notebooks_copies_them(tmp_path):
    """The built wheel carries every notebook; ``fc-notebooks`` copies them out and refuses to overwrite."""
    import zipfile

    from fc_core.runner import copy_notebooks, notebooks_main

    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("fc_toolkit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    ours = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    shipped = sorted(Path(n).name for n in names if "/share/fc-toolkit/notebooks/" in n and n.endswith(".ipynb"))
    assert shipped == ours and len(ours) >= 9
    copied = copy_notebooks(tmp_path / "nb")
    assert sorted(p.name for p in copied if p.suffix == ".ipynb") == ours
    assert notebooks_main([str(tmp_path / "nb")]) == 1  # already there: refused, nothing overwritten
    assert notebooks_main([str(tmp_path / "nb"), "--overwrite"]) == 0


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.S)
    assert blocks[0].strip() == "bash scripts/main.sh"
    assert blocks[1].strip() == "bash scripts/test.sh"
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


HEAVY = ("torch", "gluonts", "prophet", "statsforecast", "lightgbm", "statsmodels", "matplotlib", "ipywidgets")


def test_import_loads_no_heavy_library():
    """`import fc_core` (and the data modules) pull in none of the heavy engines; the import
    time itself is measured in bench/import_time.py, not here."""
    code = ("import sys, fc_core, fc_core.datasets, fc_core.automl, fc_core.metrics, fc_core.backtest; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_algorithms_page_lists_every_registered_algorithm_with_its_capabilities():
    """docs/algorithms.md carries the table of fc_core.algorithms.base.algorithm_catalog(), row by row."""
    from pathlib import Path

    from fc_core.algorithms.base import algorithm_catalog, get_estimator_class

    page = (Path(__file__).resolve().parents[1] / "docs" / "algorithms.md").read_text()
    cat = algorithm_catalog()
    own = [get_estimator_class(a).__module__.startswith("fc_core.") for a in cat["algorithm"]]
    cat = cat[own]  # other tests register toy algorithms
    assert len(cat) >= 12
    for _, r in cat.iterrows():
        cells = ["yes" if v is True else ("" if v is False else str(v)) for v in r]
        row = "| " + " | ".join(cells) + " |"
        assert row in page, f"docs/algorithms.md is out of date for {r['algorithm']}: expected the row\n{row}"
