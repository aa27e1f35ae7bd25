"""fc_core's artifact folders: the ``fc_artifact.json`` that says what a saved folder holds.

Every folder fc_core saves (a predictor, an AutoPredictor, a dataset snapshot, an encrypted artifact) holds
``fc_artifact.json``: ``{"fc_core_artifact": KIND, "version": N, ...}``. :func:`write_artifact` writes it,
:func:`read_artifact` reads it back and refuses, with the reason, a folder of another kind, an encrypted one
opened without a key, or one written by a newer fc_core. Encryption of whole folders is in
:mod:`fc_core.security`; what each kind stores beside the description is up to its ``save``.
"""
from __future__ import annotations

import json
from pathlib import Path

from .errors import ArtifactError

__all__ = ["ARTIFACT_FILE", "ARTIFACT_VERSION", "read_artifact", "write_artifact", "jsonable"]

ARTIFACT_FILE = "fc_artifact.json"
ARTIFACT_VERSION = 1


def write_artifact(folder, doc: dict) -> None:
    """Write the description ``doc`` of the artifact in ``folder`` (values JSON cannot hold become strings)."""
    (Path(folder) / ARTIFACT_FILE).write_text(json.dumps(doc, indent=2, default=str))


def read_artifact(folder: Path, kind: str) -> dict:
    f = Path(folder) / ARTIFACT_FILE
    if not f.is_file():
        raise ArtifactError(f"{folder} holds no {ARTIFACT_FILE}: it was not saved by fc_core's save().")
    try:
        doc = json.loads(f.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{f} is not valid JSON ({exc}); it was not written by fc_core or is damaged.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("version", 0), int):
        raise ArtifactError(f"{f} is not an fc_core artifact description (a JSON object with an integer version).")
    if doc.get("fc_core_artifact") == "encrypted" and kind != "encrypted":
        raise ArtifactError(f"{folder} is encrypted; load it with key=... (the key it was saved with).")
    if doc.get("fc_core_artifact") != kind:
        raise ArtifactError(f"{folder} holds a {doc.get('fc_core_artifact')!r} artifact, not a {kind!r}.")
    if doc.get("version", 0) > ARTIFACT_VERSION:
        raise ArtifactError(f"{folder} was written by a newer fc_core (format {doc['version']}); upgrade fc_core.")
    return doc


def jsonable(obj):
    """``obj`` as JSON gives it back (values JSON cannot hold become strings)."""
    return json.loads(json.dumps(obj, default=str))
