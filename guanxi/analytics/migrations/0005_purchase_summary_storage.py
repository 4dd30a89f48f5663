"""Store purchase summaries for frequent in-place updates (PostgreSQL only).

Each refresh rewrites the rows of every customer with new orders, often a tenth of the store:

- the table is UNLOGGED: the rows are derived from the orders and rebuilt from them, so they
  need no write-ahead log, which cost more than the updates themselves (a full page image for
  nearly every page after each checkpoint). After a crash PostgreSQL empties an unlogged
  table, and the next refresh, finding it empty, rebuilds it (`purchase_store.refresh`);
- Django gives the text primary key a second, `varchar_pattern_ops` index for LIKE queries
  that nothing here runs; every non-HOT update wrote to it;
- pages are left 30 % free, so an updated row usually stays on its page and no index is
  touched at all (a HOT update).
"""

from typing import Any

from django.db import migrations

TABLE = "analytics_purchasesummary"


def _tune(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [TABLE, "%varchar_pattern_ops%"],
        )
        names = [row[0] for row in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f"DROP INDEX {quote(name)}")
    schema_editor.execute(f"ALTER TABLE {quote(TABLE)} SET (fillfactor = 70)")
    schema_editor.execute(f"ALTER TABLE {quote(TABLE)} SET UNLOGGED")


def _untune(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("analytics", "PurchaseSummary")
    schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(TABLE)} SET LOGGED")
    schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(TABLE)} RESET (fillfactor)")
    like_index = schema_editor._create_like_index_sql(model, model._meta.get_field("customer"))
    if like_index is not None:
        schema_editor.execute(like_index)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0004_purchase_summaries")]

    operations = [migrations.RunPython(_tune, _untune, elidable=False)]
