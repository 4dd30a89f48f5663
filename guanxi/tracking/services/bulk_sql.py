"""Multi-row writes of processing: UPDATE … FROM (VALUES …) and INSERT … RETURNING.

Django's `bulk_update` builds a CASE expression per field and row, and `bulk_create` and
`get_db_prep_save` cost more per row than the database spends on it at the sizes processing
writes (thousands of rows a batch). These helpers send placeholders only, values as
parameters, on SQLite (3.35+) and PostgreSQL alike.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models
from django.db.models.fields import AutoFieldMixin

CHUNK = 500
Field = models.Field[Any, Any]


def _fields(model: type[models.Model], names: Sequence[str]) -> list[Field]:
    found = [model._meta.get_field(name) for name in names]
    fields = [field for field in found if isinstance(field, models.Field)]
    if len(fields) != len(found):
        raise ValueError("only concrete fields can be written")
    return fields


def _preparer(field: Field) -> Callable[[Any], Any]:
    """A fast stand-in for `field.get_db_prep_save` for the field types written here."""
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.JSONField):
        return lambda value: json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(field, models.DecimalField):
        return lambda value: ops.adapt_decimalfield_value(value, field.max_digits, field.decimal_places)
    if isinstance(field, models.IntegerField | models.CharField | models.ForeignKey | AutoFieldMixin):
        return lambda value: value
    return lambda value: field.get_db_prep_save(value, connection)


def update_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Set `fields` per row; each row is (primary key, value for each field)."""
    if not rows:
        return
    meta = model._meta
    pk = _fields(model, [meta.pk.name])[0]
    columns = _fields(model, fields)
    typed = [pk, *columns]
    quote = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"
    table = quote(meta.db_table)
    if postgres:
        row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in typed) + ")"
    else:
        row = "(" + ", ".join(["%s"] * len(typed)) + ")"
    assignments = ", ".join(f"{quote(str(field.column))} = v.column{n}" for n, field in enumerate(columns, start=2))
    preparers = [_preparer(field) for field in typed]
    target = "t" if postgres else table
    alias = " AS t" if postgres else ""
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params: list[Any] = []
            for values in chunk:
                params.extend(prepare(value) for prepare, value in zip(preparers, values, strict=True))
            cursor.execute(
                f"UPDATE {table}{alias} SET {assignments} "  # noqa: S608  -- names from the model; values are parameters
                f"FROM (VALUES {', '.join([row] * len(chunk))}) AS v "
                f"WHERE {target}.{quote(str(pk.column))} = v.column1",
                params,
            )


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
    """Multi-row INSERTs; returns the new primary keys in row order (RETURNING, as
    `bulk_create` relies on too)."""
    if not rows:
        return []
    meta = model._meta
    pk = _fields(model, [meta.pk.name])[0]
    columns = _fields(model, fields)
    quote = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"
    marks = ["%s::jsonb" if postgres and isinstance(field, models.JSONField) else "%s" for field in columns]
    row = "(" + ", ".join(marks) + ")"
    names = ", ".join(quote(str(field.column)) for field in columns)
    preparers = [_preparer(field) for field in columns]
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params: list[Any] = []
            for values in chunk:
                params.extend(prepare(value) for prepare, value in zip(preparers, values, strict=True))
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES {', '.join([row] * len(chunk))} "  # noqa: S608  -- names from the model; values are parameters
                f"RETURNING {quote(str(pk.column))}",
                params,
            )
            returned = [int(r[0]) for r in cursor.fetchall()]
            if len(returned) != len(chunk):
                raise RuntimeError("the database did not return the new rows' keys")
            ids.extend(returned)
    return ids
