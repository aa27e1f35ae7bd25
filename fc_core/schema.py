"""Amazon Forecast's data model: domains, dataset types, field types and schemas.

A schema is an ordered list of ``(name, type)`` pairs, as in Amazon Forecast's
``CreateDataset``. The order matters for files without a header: their columns
follow the schema.

>>> s = Schema.parse("timestamp:timestamp,target_value:float,item_id:string")
>>> s.names
['timestamp', 'target_value', 'item_id']
>>> DOMAINS["RETAIL"].target_field, DOMAINS["EC2_CAPACITY"].item_field
('demand', 'instance_type')
>>> default_schema("CUSTOM", "TARGET_TIME_SERIES").names
['item_id', 'timestamp', 'target_value']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .errors import SchemaError

FIELD_TYPES = ("string", "integer", "float", "timestamp", "geolocation")
DATASET_TYPES = ("TARGET_TIME_SERIES", "RELATED_TIME_SERIES", "ITEM_METADATA")
MAX_FORECAST_DIMENSIONS = 10
TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class Domain:
    """One of Amazon Forecast's dataset domains.

    Attributes
    ----------
    name : str
        ``RETAIL``, ``CUSTOM``, ...
    item_field : str
        The field naming a series (``item_id``, ``instance_type``, ...).
    target_field : str
        The field being forecast (``demand``, ``target_value``, ...).
    target_type : str
        ``float`` or ``integer``.
    optional_dimensions : tuple
        Suggested forecast dimensions of the target (``location``).
    related_suggested, metadata_suggested : tuple
        Suggested optional fields of the related time series and item metadata.
    count_like : bool
        Whether the target counts things and so can never be negative.
    """

    name: str
    item_field: str
    target_field: str
    target_type: str = "float"
    optional_dimensions: tuple = ()
    related_suggested: tuple = ()
    metadata_suggested: tuple = ()
    count_like: bool = False


DOMAINS: dict[str, Domain] = {
    d.name: d
    for d in [
        Domain("RETAIL", "item_id", "demand", "float", ("location",),
               ("price", "webpage_hits", "stockout_days", "inventory_onhand", "revenue", "promotion_applied"),
               ("category", "brand", "color", "genre"), count_like=True),
        Domain("CUSTOM", "item_id", "target_value", "float", (), (), ("category",)),
        Domain("INVENTORY_PLANNING", "item_id", "demand", "float", ("location",),
               ("price",), ("category", "brand", "lead_time", "order_cycle", "safety_stock"), count_like=True),
        Domain("EC2_CAPACITY", "instance_type", "number_of_instances", "integer", ("location",),
               (), ("cpu", "memory"), count_like=True),
        Domain("WORK_FORCE", "workforce_type", "workforce_demand", "float", ("location",),
               ("wages", "shift_length"), ("wages", "category"), count_like=True),
        Domain("WEB_TRAFFIC", "item_id", "value", "float", (),
               ("page_views", "comments"), ("category", "geolocation"), count_like=True),
        Domain("METRICS", "metric_name", "metric_value", "float", (), (), ("category",)),
    ]
}


def get_domain(name: str) -> Domain:
    """The :class:`Domain` called ``name`` (case-insensitive).

    Raises
    ------
    SchemaError
        If there is no such domain.
    """
    key = str(name).upper().replace(" ", "_").replace("-", "_")
    if key == "EC2CAPACITY":
        key = "EC2_CAPACITY"
    if key not in DOMAINS:
        raise SchemaError(f"unknown domain {name!r}: choose one of {', '.join(DOMAINS)}.")
    return DOMAINS[key]


def check_dataset_type(dataset_type: str) -> str:
    """Normalise and check a dataset type name."""
    key = str(dataset_type).upper()
    aliases = {"TARGET": "TARGET_TIME_SERIES", "RELATED": "RELATED_TIME_SERIES", "METADATA": "ITEM_METADATA",
               "TTS": "TARGET_TIME_SERIES", "RTS": "RELATED_TIME_SERIES", "IM": "ITEM_METADATA"}
    key = aliases.get(key, key)
    if key not in DATASET_TYPES:
        raise SchemaError(f"unknown dataset type {dataset_type!r}: choose one of {', '.join(DATASET_TYPES)}.")
    return key


@dataclass(frozen=True)
class Attribute:
    """One schema field: a name and one of :data:`FIELD_TYPES`."""

    name: str
    type: str

    def __post_init__(self):
        if not self.name or not str(self.name).strip():
            raise SchemaError("a schema field has an empty name; give every field a name.")
        if self.type not in FIELD_TYPES:
            raise SchemaError(
                f"schema field {self.name!r} has unknown type {self.type!r}: "
                f"use one of {', '.join(FIELD_TYPES)}."
            )


@dataclass(frozen=True)
class Schema:
    """An ordered list of :class:`Attribute` (Amazon Forecast's ``Schema.Attributes``)."""

    attributes: tuple = field(default_factory=tuple)

    def __post_init__(self):
        names = [a.name for a in self.attributes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SchemaError(f"schema names field(s) {dupes} more than once; each field must appear once.")

    @classmethod
    def parse(cls, spec) -> "Schema":
        """Build a schema from many spellings.

        Accepts a ``Schema``; a string ``"name:type,name:type"``; a list of
        ``(name, type)`` pairs or ``{"AttributeName":..., "AttributeType":...}``
        dicts (Amazon Forecast's JSON); or ``{"Attributes": [...]}``.
        """
        if isinstance(spec, Schema):
            return spec
        if isinstance(spec, dict) and "Attributes" in spec:
            spec = spec["Attributes"]
        if isinstance(spec, dict):
            spec = list(spec.items())
        if isinstance(spec, str):
            parts = [p.strip() for p in spec.split(",") if p.strip()]
            pairs = []
            for p in parts:
                if ":" not in p:
                    raise SchemaError(
                        f"schema entry {p!r} has no type: write it as name:type, e.g. 'target_value:float'."
                    )
                n, t = p.split(":", 1)
                pairs.append((n.strip(), t.strip().lower()))
            spec = pairs
        attrs = []
        for entry in spec:
            if isinstance(entry, Attribute):
                attrs.append(entry)
            elif isinstance(entry, dict):
                try:
                    attrs.append(Attribute(entry["AttributeName"], str(entry["AttributeType"]).lower()))
                except KeyError as exc:
                    raise SchemaError(
                        f"schema entry {entry!r} lacks {exc.args[0]!r}; use AttributeName and AttributeType."
                    ) from None
            else:
                n, t = entry
                attrs.append(Attribute(str(n), str(t).lower()))
        if not attrs:
            raise SchemaError("the schema is empty; list the fields of the file in order.")
        return cls(tuple(attrs))

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.attributes]

    def type_of(self, name: str) -> str:
        for a in self.attributes:
            if a.name == name:
                return a.type
        raise KeyError(name)

    def to_json(self) -> dict:
        """Amazon Forecast's JSON layout."""
        return {"Attributes": [{"AttributeName": a.name, "AttributeType": a.type} for a in self.attributes]}

    def __str__(self) -> str:
        return ",".join(f"{a.name}:{a.type}" for a in self.attributes)


def default_schema(domain: str, dataset_type: str, extra: Iterable[tuple[str, str]] = (),
                   forecast_dimensions: Sequence[str] = ()) -> Schema:
    """The minimal schema of a domain's dataset type, in Amazon Forecast's field order."""
    d = get_domain(domain)
    dataset_type = check_dataset_type(dataset_type)
    dims = [(n, "string") for n in forecast_dimensions]
    if dataset_type == "TARGET_TIME_SERIES":
        base = [(d.item_field, "string"), *dims, (TIMESTAMP, "timestamp"), (d.target_field, d.target_type)]
    elif dataset_type == "RELATED_TIME_SERIES":
        base = [(d.item_field, "string"), *dims, (TIMESTAMP, "timestamp")]
    else:
        base = [(d.item_field, "string")]
    return Schema.parse([*base, *extra])


def required_fields(domain: str, dataset_type: str) -> list[str]:
    """Fields a dataset of this domain and type must have."""
    d = get_domain(domain)
    dataset_type = check_dataset_type(dataset_type)
    if dataset_type == "TARGET_TIME_SERIES":
        return [d.item_field, TIMESTAMP, d.target_field]
    if dataset_type == "RELATED_TIME_SERIES":
        return [d.item_field, TIMESTAMP]
    return [d.item_field]


def check_forecast_dimensions(dims: Sequence[str] | None) -> list[str]:
    """Check the list of forecast dimensions (at most 10, distinct, not reserved names)."""
    dims = list(dims or [])
    if len(dims) > MAX_FORECAST_DIMENSIONS:
        raise SchemaError(f"{len(dims)} forecast dimensions given; Amazon Forecast allows at most 10.")
    if len(set(dims)) != len(dims):
        raise SchemaError(f"forecast dimensions {dims} repeat a name; list each once.")
    if TIMESTAMP in dims:
        raise SchemaError("'timestamp' cannot be a forecast dimension.")
    return dims
