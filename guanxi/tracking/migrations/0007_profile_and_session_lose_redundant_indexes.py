"""A profile's contact and a session's profile lose Django's own FK indexes: (person, last seen,
id) and both (profile, …) session indexes start with the same column and serve the same
look-ups, and every index is kept up on each row processing writes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0007_owner_without_own_index'),
        ('tracking', '0006_event_source_checked_at_landing'),
    ]

    operations = [
        migrations.AlterField(
            model_name='profile',
            name='person',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='tracking_profiles', to='customers.person', verbose_name='contact'),
        ),
        migrations.AlterField(
            model_name='session',
            name='profile',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='sessions', to='tracking.profile'),
        ),
    ]
