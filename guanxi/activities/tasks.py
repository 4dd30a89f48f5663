"""Background jobs of the activities app: thin wrappers around services, safe to retry.

Schedule `apply_pool_rules` once a day (e.g. 02:00 local time, `manage.py apply_pool_rules` from
cron or a scheduler enqueuing the task) and `send_task_reminders` every few minutes.
"""

from django.tasks import task
from django.utils import timezone

from guanxi.activities import services


@task()
def apply_pool_rules() -> dict[str, int]:
    """Reclaim neglected customers into the shared pool and warn owners of the next ones.

    A rerun the same day moves nothing more (moved rows have no owner) and warns no one twice.
    """
    return services.run_pool_rules()


@task()
def send_task_reminders() -> int:
    """Turn tasks whose reminder time has come into in-app reminders, once each."""
    return services.send_task_reminders(timezone.now())
