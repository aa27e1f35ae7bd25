"""The notebooks' parameters: parsing list and mapping values, checking a parameters cell, step timings
(split from :mod:`fc_core.workflow`)."""
from __future__ import annotations

import time

from .errors import ConfigError


class Timer:
    """Wall-clock timings of the notebook's steps, shown at the end."""

    def __init__(self):
        self.steps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> float:
        now = time.perf_counter()
        self.steps[name] = round(now - self._t, 2)
        self._t = now
        return self.steps[name]


# ------------------------------------------------------------ papermill conventions
def _text_value(name: str, value):
    """A JSON or YAML text (as ``papermill -p`` passes it) parsed; other values as they are."""
    if not isinstance(value, str) or not value.strip()[:1] in ("[", "{"):
        return value
    import yaml

    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"parameter {name}={value!r} is not valid JSON or YAML ({str(exc).splitlines()[0]}); "
                          f"write it like '[\"0.1\", \"0.5\"]' or '{{\"GBM\": {{\"num_trees\": 100}}}}'.") from None


def parse_list(name: str, value) -> list:
    """A list parameter from a list, a JSON or YAML list text, or comma-separated text.

    Raises
    ------
    ConfigError
        Naming the parameter when the value is not a list.

    >>> parse_list("forecast_types", '["0.1","0.5"]')
    ['0.1', '0.5']
    >>> parse_list("forecast_types", "0.1, 0.5")
    ['0.1', '0.5']
    >>> parse_list("forecast_dimensions", "[]")
    []
    """
    v = _text_value(name, value)
    if v is None:
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    if not isinstance(v, (list, tuple)):
        raise ConfigError(f"parameter {name}={value!r}: give a list, e.g. '[\"0.1\", \"0.5\", \"0.9\"]'.")
    return [str(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x for x in v]


def parse_mapping(name: str, value) -> dict:
    """A dict parameter from a dict or a JSON or YAML mapping text (empty text: an empty dict).

    Raises
    ------
    ConfigError
        Naming the parameter when the value is not a mapping.

    >>> parse_mapping("target_columns", '{"Model_ID": "item_id"}')
    {'Model_ID': 'item_id'}
    """
    v = _text_value(name, value)
    if v is None or (isinstance(v, str) and not v.strip()):
        return {}
    if not isinstance(v, dict):
        raise ConfigError(f"parameter {name}={value!r}: give a mapping, e.g. '{{\"Model_ID\": \"item_id\"}}'.")
    return dict(v)


_INJECTED_HEADER = "# Parameters"  # the first line of the cell papermill injects after the parameters cell


def check_parameters(namespace: dict) -> dict:
    """The notebook's parameters (the annotated names of its parameters cell) with their values;
    refuses a name that papermill injected but the parameters cell does not declare, and parses
    the text papermill's ``-p`` gives a ``list`` or ``dict`` parameter (JSON or YAML,
    ``'["0.1","0.5"]'``) in ``namespace``, so later cells see a list.

    Call it in the first cell after the parameters cell: ``params = check_parameters(globals())``.
    papermill only warns about an unknown ``-p`` name and runs on, so a misspelt ``target_pth``
    would train on the demo data; here the run stops instead.

    Raises
    ------
    ConfigError
        Naming the unknown parameter(s) and listing the known ones.
    """
    import ast

    declared = dict(namespace.get("__annotations__") or {})
    history = namespace.get("In")
    injected: list[str] = []
    if isinstance(history, list) and len(history) >= 2:
        prev = history[-2] or ""
        if prev.splitlines()[:1] == [_INJECTED_HEADER]:
            try:
                tree = ast.parse(prev)
            except SyntaxError:
                tree = None
            for node in getattr(tree, "body", []):
                if isinstance(node, ast.Assign):
                    injected += [t.id for t in node.targets if isinstance(t, ast.Name)]
    unknown = [n for n in injected if n not in declared]
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown}: this notebook's parameters are "
                          f"{', '.join(declared)}. Check the spelling of -p {unknown[0]}.")
    for n, ann in declared.items():  # -p passes text: a list or dict parameter is parsed in place
        kind = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
        if n in namespace and isinstance(namespace[n], str):
            if kind == "list":
                namespace[n] = parse_list(n, namespace[n])
            elif kind == "dict":
                namespace[n] = parse_mapping(n, namespace[n])
    return {n: namespace[n] for n in declared if n in namespace}
