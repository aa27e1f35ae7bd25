"""The reading options of one call (:class:`_Spec`: domain, schema, column map, constants) and the typed
result (:class:`Columns`)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import MISSING_COLUMNS, SchemaError
from ..schema import TIMESTAMP, Schema, required_fields
from .provenance import Provenance


@dataclass
class Columns:
    """A dataset read into typed columns, in reading order.

    Attributes
    ----------
    n : int
        Number of rows.
    keys : dict
        Key column -> ``(codes, labels)``: int32 codes per row into an object array of strings.
    values : dict
        Other columns: ``timestamp`` as int64 nanoseconds (naive), numbers as float64,
        strings as object arrays.
    types : dict
        Schema type of every column.
    where : Provenance
    dropped : list of str
        Columns of the input that were not read (named in hints about duplicates).
    """

    n: int
    keys: dict
    values: dict
    types: dict
    where: Provenance
    dropped: list = field(default_factory=list)


def _names(paths) -> str:
    return "file '" + paths[0] + "'" if len(paths) == 1 else f"files {', '.join(repr(p) for p in paths[:3])}"


@dataclass
class _Spec:
    domain: object
    dataset_type: str
    dims: list
    schema: Schema | None
    column_map: dict
    constants: dict
    columns: list | None
    timezone: str | None
    timestamp_format: str | None

    @property
    def key_columns(self) -> list[str]:
        return [self.domain.item_field, *self.dims]

    def required(self) -> list[str]:
        return [*required_fields(self.domain.name, self.dataset_type), *self.dims]

    def default_type(self, name: str) -> str | None:
        if name in self.key_columns:
            return "string"
        if name == TIMESTAMP and self.dataset_type != "ITEM_METADATA":
            return "timestamp"
        if name == self.domain.target_field and self.dataset_type == "TARGET_TIME_SERIES":
            return "float"
        return None

    def check_schema(self, where: str) -> None:
        if self.schema is None:
            return
        have = set(self.schema.names) | set(self.constants)
        missing = [c for c in self.required() if c not in have]
        if missing:
            raise SchemaError(
                f"{where}: the schema ({self.schema}) lacks required field(s) {missing} of a "
                f"{self.domain.name} {self.dataset_type}; add them (e.g. '{missing[0]}:"
                f"{self.default_type(missing[0]) or 'string'}') in the file's column order."
            )
        for c in self.key_columns:
            if c in self.schema.names and self.schema.type_of(c) != "string":
                raise SchemaError(f"{where}: key field '{c}' must have type string in the schema, "
                                  f"not {self.schema.type_of(c)}.")
        if TIMESTAMP in self.schema.names and self.schema.type_of(TIMESTAMP) != "timestamp" \
                and self.dataset_type != "ITEM_METADATA":
            raise SchemaError(f"{where}: field 'timestamp' must have type timestamp in the schema.")

    def wanted(self, names: list[str], where: str) -> dict[str, str]:
        """Canonical column -> type for the columns to read, given the (mapped) column names."""
        if self.schema is not None:
            out = {n: self.schema.type_of(n) for n in self.schema.names}
        else:
            out = {}
            for n in names:
                t = self.default_type(n)
                if t is not None:
                    out[n] = t
                elif self.dataset_type != "TARGET_TIME_SERIES" and n not in self.constants:
                    out[n] = "auto"
        if self.columns is not None:
            keep = set(self.columns) | set(self.required())
            unknown = [c for c in self.columns if c not in names and c not in self.constants]
            if unknown:
                raise SchemaError(f"{where}: column(s) {unknown} asked for in columns= are not in the data "
                                  f"(it has {names}).")
            out = {n: (out.get(n) or "auto") for n in names if n in keep}
        for c in self.constants:
            out.pop(c, None)
        missing = [c for c in self.required() if c not in out and c not in self.constants]
        if missing:
            hint = (f" Map a column to it with column_map={{'<your column>': '{missing[0]}'}}"
                    + (f" or give a constant with {missing[0]}='...'" if missing[0] in self.key_columns else "")
                    + ".")
            raise SchemaError(f"{where}: missing required column(s) {missing} (it has {names}).{hint}",
                              reason=MISSING_COLUMNS, columns=missing, dataset_type=self.dataset_type)
        return out
