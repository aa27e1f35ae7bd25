"""Keeping data and models safe: loaders execute nothing from a file, and artifacts can be encrypted
with a key the user holds (wrong key: a clear ArtifactError, nothing half-written)."""
from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fc_core import security
from fc_core.algorithms.base import Predictor, make_estimator
from fc_core.automl import AutoPredictor
from fc_core.datasets import DatasetGroup
from fc_core.errors import ArtifactError, ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def group():
    t = np.arange(24 * 8)
    rng = np.random.default_rng(0)
    df = pd.concat([pd.DataFrame({"item_id": f"i{k}", "timestamp": pd.date_range("2024-01-01", periods=len(t), freq="h"),
                                  "target_value": 10 + k + np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.1, len(t))})
                    for k in range(3)])
    meta = pd.DataFrame({"item_id": ["i0", "i1", "i2"], "category": ["a", "b", "a"]})
    return DatasetGroup(target=df, frequency="H", item_metadata=meta)


@pytest.fixture(scope="module")
def predictor(group):
    return make_estimator("SeasonalNaive", 12).train(group)


# ------------------------------------------------------------------ bytes
def test_keys_and_bytes():
    key = security.generate_key()
    assert len(key) == 44 and key != security.generate_key()
    blob = security.encrypt_bytes(b"x" * 100, key, context="k")
    assert b"x" * 20 not in blob and security.decrypt_bytes(blob, key, context="k") == b"x" * 100
    with pytest.raises(ArtifactError, match="wrong key"):
        security.decrypt_bytes(blob, security.generate_key(), context="k")
    with pytest.raises(ArtifactError, match="wrong key"):
        security.decrypt_bytes(blob, key, context="other kind")
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(ArtifactError):
        security.decrypt_bytes(bytes(tampered), key, context="k")
    with pytest.raises(ArtifactError, match="not encrypted"):
        security.decrypt_bytes(b"plain text", key)
    for bad in ("password123", b"short", 42):
        with pytest.raises(ConfigError, match="generate_key"):
            security.encrypt_bytes(b"x", bad)


# ------------------------------------------------------------------ predictors
def test_encrypted_predictor_round_trip(predictor, tmp_path):
    key = security.generate_key()
    path = predictor.save(tmp_path / "p", key=key)
    names = sorted(p.name for p in path.iterdir())
    assert names == ["fc_artifact.json", "payload.fcenc"]  # no plain panel, no config
    assert b"SeasonalNaive" not in (path / "payload.fcenc").read_bytes()
    back = Predictor.load(path, key=key)
    pd.testing.assert_frame_equal(back.predict(), predictor.predict())
    with pytest.raises(ArtifactError, match="encrypted"):
        Predictor.load(path)
    with pytest.raises(ArtifactError, match="wrong key"):
        Predictor.load(path, key=security.generate_key())
    plain = predictor.save(tmp_path / "plain")
    with pytest.raises(ArtifactError, match="not encrypted"):
        Predictor.load(plain, key=key)


def test_a_failed_encrypted_save_leaves_the_previous_artifact(predictor, tmp_path):
    key = security.generate_key()
    path = predictor.save(tmp_path / "p", key=key)
    before = (path / "payload.fcenc").read_bytes()
    with pytest.raises(ConfigError):
        predictor.save(path, key="not a key")
    assert (path / "payload.fcenc").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]  # no temporary leftovers


def test_encrypted_auto_predictor_round_trip(group, tmp_path):
    ap = AutoPredictor(12, algorithms=["SeasonalNaive", "Naive"]).train(group, progress=False)
    key = security.generate_key()
    ap.save(tmp_path / "ap", key=key)
    back = AutoPredictor.load(tmp_path / "ap", key=key)
    pd.testing.assert_frame_equal(back.forecast().frame, ap.forecast().frame)
    with pytest.raises(ArtifactError, match="encrypted"):
        AutoPredictor.load(tmp_path / "ap")
    with pytest.raises(ArtifactError, match="not a 'predictor'"):
        Predictor.load(tmp_path / "ap", key=key)  # an auto predictor's payload is not a predictor's


# ------------------------------------------------------------------ exports and datasets
def test_encrypted_forecast_export(group, tmp_path):
    ap = AutoPredictor(12, algorithms=["Naive"]).train(group, progress=False)
    fc = ap.forecast()
    key = security.generate_key()
    for name in ("f.csv", "f.parquet"):
        path = fc.export(tmp_path / name, key=key)
        raw = Path(path).read_bytes()
        # long plaintext markers (a 2-byte one can occur in random ciphertext by chance)
        assert b"item_id" not in raw and b"2024-" not in raw and b"PAR1" not in raw
        back = security.read_frame(path, key=key)
        assert back.shape == fc.to_export_frame().shape and back["item_id"].tolist()[0] == "i0"
        with pytest.raises(ArtifactError, match="encrypted"):
            security.read_frame(path)
        with pytest.raises(ArtifactError, match="wrong key"):
            security.read_frame(path, key=security.generate_key())
    plain = fc.export(tmp_path / "p.csv")
    assert security.read_frame(plain).shape == fc.to_export_frame().shape


@pytest.mark.parametrize("encrypted", [False, True])
def test_dataset_snapshot(group, tmp_path, encrypted):
    key = security.generate_key() if encrypted else None
    path = security.save_dataset(group, tmp_path / "ds", key=key)
    assert security.is_encrypted(path) == encrypted
    back = security.load_dataset(path, key=key)
    pd.testing.assert_frame_equal(back.target.reset_index(drop=True), group.target.reset_index(drop=True))
    assert back.frequency == group.frequency and back.item_metadata["category"].tolist() == ["a", "b", "a"]
    if encrypted:
        with pytest.raises(ArtifactError):
            security.load_dataset(path, key=security.generate_key())


# ------------------------------------------------------------------ crafted artifacts
def _rewrite(folder: Path, **changes):
    f = folder / "fc_artifact.json"
    doc = json.loads(f.read_text())
    doc.update(changes)
    f.write_text(json.dumps(doc))


@pytest.mark.parametrize("target", ["os:system", "subprocess:Popen", "builtins:eval",
                                    "fc_core.io:shutil", "fc_core.algorithms.base:Predictor",
                                    "fc_core.algorithms.base:make_estimator", "fc_core.algorithms.base:Estimator"])
def test_an_artifact_naming_a_foreign_class_is_refused(predictor, tmp_path, target):
    path = predictor.save(tmp_path / "p")
    _rewrite(path, **{"class": target})
    with pytest.raises(ArtifactError, match="refusing"):
        Predictor.load(path)


def test_pickled_arrays_and_garbled_descriptions_are_refused(predictor, tmp_path):
    path = predictor.save(tmp_path / "p")
    np.savez(path / "panel" / "arrays.npz", values=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ArtifactError, match="pickled"):
        Predictor.load(path)
    path = predictor.save(tmp_path / "q")
    (path / "fc_artifact.json").write_text("[1, 2, 3]")
    with pytest.raises(ArtifactError, match="not an fc_core artifact"):
        Predictor.load(path)
    path = predictor.save(tmp_path / "r")
    doc = json.loads((path / "fc_artifact.json").read_text())
    del doc["estimator"]
    (path / "fc_artifact.json").write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match="estimator"):
        Predictor.load(path)
    with pytest.raises(ArtifactError, match="holds no"):
        Predictor.load(tmp_path / "nothing_here")


def test_auto_predictor_paths_from_the_file_must_be_plain_names(group, tmp_path):
    ap = AutoPredictor(12, algorithms=["Naive"]).train(group, progress=False)
    ap.save(tmp_path / "ap")
    _rewrite(tmp_path / "ap", predictors={"Naive": "../../elsewhere"})
    with pytest.raises(ArtifactError, match="plain file name"):
        AutoPredictor.load(tmp_path / "ap")


def test_an_encrypted_payload_cannot_unpack_outside_its_folder(tmp_path):
    key = security.generate_key()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"{}"
        info = tarfile.TarInfo("../escape.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    folder = tmp_path / "crafted"
    folder.mkdir()
    manifest, blob = security.seal_payload(buf.getvalue(), key, "predictor")
    (folder / "payload.fcenc").write_bytes(blob)
    (folder / "fc_artifact.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="unexpected entry"):
        Predictor.load(folder, key=key)
    assert not (tmp_path / "escape.json").exists()


def test_audit_no_unsafe_deserialisation_in_fc_core():
    """Every load in fc_core is pickle-free: no pickle/joblib/cloudpickle/marshal loads, numpy loads
    refuse pickles, torch loads only weights, YAML only safe_load."""
    bad = {
        r"\bpickle\.loads?\(": "pickle", r"\bjoblib\.load\(": "joblib", r"cloudpickle": "cloudpickle",
        r"\bmarshal\.loads?\(": "marshal", r"allow_pickle\s*=\s*True": "np.load with pickles",
        r"yaml\.load\(": "yaml.load", r"(?<![.\w])eval\(": "eval", r"(?<![.\w])exec\(": "exec",
        r"read_pickle": "pandas pickle",
    }
    found = []
    for f in sorted((ROOT / "fc_core").rglob("*.py")):
        text = f.read_text()
        for pat, what in bad.items():
            if re.search(pat, text):
                found.append(f"{f.name}: {what}")
        for line in text.splitlines():
            if "torch.load(" in line and "weights_only=True" not in line:
                found.append(f"{f.name}: torch.load without weights_only=True: {line.strip()}")
            if "np.load(" in line and "allow_pickle=False" not in line:
                found.append(f"{f.name}: np.load without allow_pickle=False: {line.strip()}")
    assert not found, found
