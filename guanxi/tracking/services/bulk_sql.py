"""Multi-row writes and lookups of processing, one statement per batch and step.

Django's `bulk_update` builds a CASE expression per field and row, and `bulk_create` and
`get_db_prep_save` cost more per row than the database spends on it at the sizes processing
writes (thousands of rows a batch). What these helpers send differs by database, because the
costs do:

- PostgreSQL: the rows travel as ONE JSON document parameter, unpacked by the server
  (`jsonb_array_elements`), so the statement text is short and the same every batch. Multi-row
  `VALUES` with a placeholder per value cost psycopg about 4 µs per placeholder to split the
  query in Python (its cache only keeps short statements) and 50 µs a row in all; arrays
  (`unnest`) cost 5–15 µs a value to quote. The document is written by orjson, which also
  writes UTC datetimes itself (five times faster than `isoformat` a value and `json.dumps`);
  the standard library stays the fallback for what orjson refuses (integers beyond 64 bits,
  lone surrogates) and datetimes in other zones are written by `isoformat` (orjson drops an
  offset's seconds) (`benchmarks/bench_tracking_processing.py`).
- SQLite: multi-row `VALUES` with placeholders (bound in C), at most `CHUNK` rows a statement to
  stay under the bound-parameter limit; `json_each` was twice as slow there.
"""

import datetime
import json
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson
from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.db.models.fields import AutoFieldMixin
from django.db.models.functions import Cast

from guanxi.tracking.messages import orjson_reads_exactly

CHUNK = 500
LOOKUP_CHUNK = 900  # below SQLite's smallest bound-parameter limit
Field = models.Field[Any, Any]


def _fields(model: type[models.Model], names: Sequence[str]) -> list[Field]:
    found = [model._meta.get_field(name) for name in names]
    fields = [field for field in found if isinstance(field, models.Field)]
    if len(fields) != len(found):
        raise ValueError("only concrete fields can be written")
    return fields


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _document(value: Any) -> str:
    """`_json_text` of a value, written by orjson where it can (the same JSON value)."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_iso_default)


def _iso_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# Zones orjson writes exactly: it writes an offset as hours and minutes only.
_UTC_ZONES = frozenset({datetime.UTC, zoneinfo.ZoneInfo("UTC")})


def _pg_datetime(value: datetime.datetime | None) -> datetime.datetime | str | None:
    if value is None or value.tzinfo in _UTC_ZONES:
        return value
    return value.isoformat()


def _naive_utc(value: datetime.datetime) -> str:
    """SQLite's stored form of an aware datetime (what `adapt_datetimefield_value` gives, without
    its settings look-ups, which cost more than the rest of a row)."""
    if value.utcoffset():
        value = value.astimezone(datetime.UTC)
    return str(value.replace(tzinfo=None))


def datetime_preparer() -> Callable[[datetime.datetime | None], Any]:
    """How a datetime goes into a JSON document this database reads back (PostgreSQL: orjson
    writes a UTC one, others go as ISO text with their whole offset) or into a SQLite
    placeholder (Django's naive-UTC text)."""
    if _postgres():
        return _pg_datetime
    return lambda value: None if value is None else _naive_utc(value)


def _preparer(field: Field) -> Callable[[Any], Any]:
    """A fast stand-in for `field.get_db_prep_save` for the field types written here: a value for
    a SQLite placeholder, or for the JSON document PostgreSQL unpacks (a datetime as itself or
    ISO text for `_document`, a JSON field's value as itself, a decimal as text so no digit is
    lost)."""
    ops = connection.ops
    postgres = _postgres()
    if isinstance(field, models.DateTimeField):
        return datetime_preparer()
    if isinstance(field, models.JSONField):
        return _as_is if postgres else _json_text
    if isinstance(field, models.DecimalField):
        if postgres:
            return lambda value: None if value is None else str(Decimal(value))
        return lambda value: ops.adapt_decimalfield_value(value, field.max_digits, field.decimal_places)
    if isinstance(field, models.IntegerField | models.CharField | models.ForeignKey | AutoFieldMixin):
        return _as_is
    return lambda value: field.get_db_prep_save(value, connection)


def read_json(text: str | None) -> Any:
    """A JSON column's value from its text, as Django's `JSONField.from_db_value` gives it (the
    standard library's `json.loads`; the text itself when it is not JSON), decoded by orjson
    where that gives the same: three times faster, and processing decodes every event's
    payload and every stored traits row."""
    if text is None:
        return None
    try:
        raw = text.encode()
    except UnicodeEncodeError:
        raw = b""  # a lone surrogate: the standard library decides
    if raw and orjson_reads_exactly(raw):  # else an integer too wide for 64 bits, read exactly below
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # NaN, Infinity, a lone escaped surrogate…: read as the standard library reads them
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def json_text(expression: str) -> Any:
    """A JSON column read as its text, so the query runs no per-value converter (`read_json`)."""
    return Cast(expression, models.TextField())


def _pg_unpacked(fields: Sequence[Field]) -> str:
    """A subquery giving the rows of the JSON document parameter as columns c1, c2… (in
    document order as `n`), each cast to its field's column type."""
    columns = []
    for n, field in enumerate(fields):
        if isinstance(field, models.JSONField):
            columns.append(f"(r -> {n}) AS c{n + 1}")
            continue
        # Text stays text: a cast to varchar(n) would cut a long value where the INSERT refuses it.
        kind = "text" if isinstance(field, models.CharField) else field.db_type(connection)
        columns.append(f"(r ->> {n})::{kind} AS c{n + 1}")
    return f"SELECT {', '.join(columns)}, n FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(r, n)"  # noqa: S608  -- casts from the model's field types; the rows are the parameter


def _as_is(value: Any) -> Any:
    return value


def _prepared(preparers: Sequence[Callable[[Any], Any]], rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
    """The rows with each value prepared; values that go as they are are not touched (most
    are), and rows with nothing to prepare are not copied."""
    width = len(preparers)
    if any(len(values) != width for values in rows):
        raise ValueError("each row needs one value per column")
    converted = [(n, prepare) for n, prepare in enumerate(preparers) if prepare is not _as_is]
    if not converted:
        return rows
    prepared = []
    for values in rows:
        row = list(values)
        for n, prepare in converted:
            row[n] = prepare(row[n])
        prepared.append(row)
    return prepared


def update_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    least: Iterable[str] = (),
    greatest: Iterable[str] = (),
    constants: Mapping[str, Any] | None = None,
) -> None:
    """Set `fields` per row; each row is (primary key, value for each field). A field named in
    `least` / `greatest` only ever moves down / up (the smaller / larger of stored and new, so no
    read is needed first); `constants` are set to the same value on every row."""
    if not rows:
        return
    meta = model._meta
    pk = _fields(model, [meta.pk.name])[0]
    columns = _fields(model, fields)
    typed = [pk, *columns]
    quote = connection.ops.quote_name
    postgres = _postgres()
    table = quote(meta.db_table)
    target = "t" if postgres else table
    down, up = set(least), set(greatest)
    assignments = []
    for n, field in enumerate(columns, start=2):
        column = quote(str(field.column))
        new = f"v.c{n}" if postgres else f"v.column{n}"
        if field.name in down:
            new = f"{'LEAST' if postgres else 'min'}({target}.{column}, {new})"
        elif field.name in up:
            new = f"{'GREATEST' if postgres else 'max'}({target}.{column}, {new})"
        assignments.append(f"{column} = {new}")
    constant_fields = _fields(model, list(constants or {}))
    constant_params = [_fixed_value(field, (constants or {})[field.name]) for field in constant_fields]
    assignments.extend(f"{quote(str(field.column))} = %s" for field in constant_fields)
    preparers = [_preparer(field) for field in typed]
    pk_column = quote(str(pk.column))
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute(
                f"UPDATE {table} AS t SET {', '.join(assignments)} "  # noqa: S608  -- names from the model; values are parameters
                f"FROM ({_pg_unpacked(typed)}) AS v WHERE t.{pk_column} = v.c1",
                [*constant_params, _document(_prepared(preparers, rows))],
            )
            return
        row = "(" + ", ".join(["%s"] * len(typed)) + ")"
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params: list[Any] = list(constant_params)
            for values in _prepared(preparers, chunk):
                params.extend(values)
            cursor.execute(
                f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608  -- names from the model; values are parameters
                f"FROM (VALUES {', '.join([row] * len(chunk))}) AS v "
                f"WHERE {table}.{pk_column} = v.column1",
                params,
            )


def _fixed_value(field: Field, value: Any) -> Any:
    """A constant for a plain placeholder (no JSON document around it)."""
    if isinstance(field, models.DateTimeField) and value is not None:
        return connection.ops.adapt_datetimefield_value(value)
    return field.get_db_prep_save(value, connection)


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
    """Multi-row INSERTs; returns the new primary keys in row order (RETURNING, as
    `bulk_create` relies on too: on PostgreSQL it also inserts `SELECT … FROM UNNEST(…)`)."""
    if not rows:
        return []
    meta = model._meta
    pk = _fields(model, [meta.pk.name])[0]
    columns = _fields(model, fields)
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(field.column)) for field in columns)
    preparers = [_preparer(field) for field in columns]
    table = quote(meta.db_table)
    returning = f"RETURNING {quote(str(pk.column))}"
    ids: list[int] = []
    with connection.cursor() as cursor:
        if _postgres():
            selected = ", ".join(f"v.c{n}" for n in range(1, len(columns) + 1))
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {selected} FROM ({_pg_unpacked(columns)}) AS v "  # noqa: S608  -- names from the model; values are parameters
                f"ORDER BY v.n {returning}",
                [_document(_prepared(preparers, rows))],
            )
            ids = [int(r[0]) for r in cursor.fetchall()]
        else:
            row = "(" + ", ".join(["%s"] * len(columns)) + ")"
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start : start + CHUNK]
                params: list[Any] = []
                for values in _prepared(preparers, chunk):
                    params.extend(values)
                cursor.execute(
                    f"INSERT INTO {table} ({names}) VALUES {', '.join([row] * len(chunk))} {returning}",  # noqa: S608  -- as above
                    params,
                )
                ids.extend(int(r[0]) for r in cursor.fetchall())
    if len(ids) != len(rows):
        raise RuntimeError("the database did not return the new rows' keys")
    return ids


def in_chunks(values: Sequence[Any]) -> Iterator[Sequence[Any] | RawSQL]:
    """Right-hand sides for `field__in=` covering all `values`: on PostgreSQL one subquery over
    a JSON document parameter (one statement, whatever the count), on SQLite lists of at most
    LOOKUP_CHUNK values (under its smallest bound-parameter limit)."""
    if not values:
        return
    if _postgres():
        kind = "bigint" if isinstance(values[0], int) else "text"
        yield RawSQL(f"SELECT x::{kind} FROM jsonb_array_elements_text(%s::jsonb) AS x", [_document(list(values))])  # noqa: S608, S611  -- a fixed statement; the values are its parameter
        return
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]
