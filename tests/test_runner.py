import pandas as pd
import pytest

from fc_core.errors import ConfigError
from fc_core.runner import load_chain, main, run_chain


def _nb(path, body: str):
    import nbformat as nbf

    nb = nbf.v4.new_notebook()
    nb["cells"] = [nbf.v4.new_code_cell("x: int = 1  # a number\nout: str = ''  # output folder",
                                        metadata={"tags": ["parameters"]}),
                   nbf.v4.new_code_cell(body)]
    nb["metadata"] = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    nbf.write(nb, str(path))
    return path


def test_chain_runs_steps_in_order_with_shared_and_own_parameters(tmp_path):
    a = _nb(tmp_path / "a.ipynb", "import pathlib\npathlib.Path(output_dir).mkdir(parents=True)\n"
                                 "pathlib.Path(output_dir, 'x.txt').write_text(str(x))")
    chain = tmp_path / "chain.yaml"
    chain.write_text(f"output_dir: {tmp_path / 'runs'}\nparameters: {{x: 5}}\nsteps:\n"
                     f"  - notebook: {a}\n    name: first\n  - notebook: {a}\n    name: second\n"
                     f"    parameters: {{x: 7}}\n")
    summary = run_chain(chain, progress=False)
    assert summary["step"].tolist() == ["first", "second"] and (summary["status"] == "ok").all()
    assert (tmp_path / "runs" / "first" / "x.txt").read_text() == "5"
    assert (tmp_path / "runs" / "second" / "x.txt").read_text() == "7"
    assert pd.read_csv(tmp_path / "runs" / "summary.csv")["seconds"].gt(0).all()


def test_a_failing_step_stops_the_chain_with_its_error(tmp_path, capsys):
    bad = _nb(tmp_path / "bad.ipynb", "raise ValueError('the data is wrong in row 3')")
    good = _nb(tmp_path / "good.ipynb", "pass")
    chain = tmp_path / "chain.yaml"
    chain.write_text(f"output_dir: {tmp_path / 'runs'}\nsteps:\n  - notebook: {bad}\n  - notebook: {good}\n")
    assert main([str(chain)]) == 1
    assert "the data is wrong in row 3" in capsys.readouterr().err
    summary = pd.read_csv(tmp_path / "runs" / "summary.csv")
    assert summary["step"].tolist() == ["bad"] and summary["status"].tolist() == ["failed"]


def test_bad_chain_files_are_refused(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("steps: []\n")
    with pytest.raises(ConfigError, match="non-empty 'steps'"):
        load_chain(f)
    f.write_text("steps:\n  - notebook: missing.ipynb\n")
    with pytest.raises(ConfigError, match="does not exist"):
        load_chain(f)
