"""Ship the default lifecycle rules as editable rows (a frozen copy of lifecycle.DEFAULT_RULES)."""

from django.db import migrations

DEFAULTS = [
    {"stage": "won_back", "max_days_since_last": 90, "from_stages": ["lost", "won_back"],
     "description": "Was lost and bought again; stays won back while ordering within 90 days."},
    {"stage": "lost", "min_days_since_last": 365, "description": "No order for a year or more."},
    {"stage": "new", "max_orders": 1, "max_days_since_last": 90,
     "description": "One order so far, placed within the last 90 days."},
    {"stage": "at_risk", "max_p_alive": 0.3,
     "description": "The purchase model gives at most a 30% chance that the customer is still buying."},
    {"stage": "loyal", "min_orders": 4, "rfm_segments": ["champions", "loyal"],
     "description": "Four or more orders and an RFM segment of champions or loyal."},
    {"stage": "active", "max_days_since_last": 180, "description": "Ordered within the last 180 days."},
    {"stage": "at_risk", "description": "Everyone else who has bought: no order for 6 to 12 months."},
]


def add_defaults(apps, schema_editor):
    LifecycleRule = apps.get_model("analytics", "LifecycleRule")
    if LifecycleRule.objects.exists():
        return
    LifecycleRule.objects.bulk_create(
        [LifecycleRule(position=(i + 1) * 10, **rule) for i, rule in enumerate(DEFAULTS)]
    )


def remove_defaults(apps, schema_editor):
    LifecycleRule = apps.get_model("analytics", "LifecycleRule")
    descriptions = [rule["description"] for rule in DEFAULTS]
    LifecycleRule.objects.filter(description__in=descriptions).delete()


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_runs_rules_results")]

    operations = [migrations.RunPython(add_defaults, remove_defaults)]
