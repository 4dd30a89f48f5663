"""Events lose the database constraint on `source`: they are only unpacked from landed batches,
whose own constraint checked the source, and the check on each event row cost about a quarter
of unpacking's insert. Django's PROTECT still guards deleting a source with events."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tracking', '0005_event_source_index_is_the_unique_constraint'),
    ]

    operations = [
        migrations.AlterField(
            model_name='landedevent',
            name='source',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='tracking.source'),
        ),
    ]
