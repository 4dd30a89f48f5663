"""Database helpers shared by the apps that outgrow Django's cursors on PostgreSQL."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

if TYPE_CHECKING:
    import psycopg


@contextmanager
def server_binding_cursor(connection: BaseDatabaseWrapper = default_connection) -> Iterator["psycopg.Cursor[Any]"]:
    """A psycopg cursor on Django's own PostgreSQL connection, in its transaction, that binds
    parameters on the server.

    Django's psycopg cursors bind on the client: every call splits and quotes the statement in
    Python, which dominates a statement with thousands of parameters, and they cannot fetch
    binary results. Errors still become Django's and mark the connection as Django's own
    cursors would; statements run here are not in Django's query log (DEBUG, assertNumQueries).
    """
    import psycopg  # only installed where PostgreSQL is used

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor
