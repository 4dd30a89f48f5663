"""Search keys compare byte by byte, so a prefix is a plain index range on every database.

SQLite compares TEXT in binary order already; PostgreSQL needs the "C" collation on the column,
which Django cannot declare portably (SQLite knows no collation named "C").
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def to_binary(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('ALTER TABLE customers_searchterm ALTER COLUMN term TYPE varchar(64) COLLATE "C"')


def to_default(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('ALTER TABLE customers_searchterm ALTER COLUMN term TYPE varchar(64) COLLATE "default"')


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_customer_records")]

    operations = [migrations.RunPython(to_binary, to_default)]
