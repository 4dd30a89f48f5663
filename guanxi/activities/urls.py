"""Pages of the activities app, under /follow-up/."""

from django.urls import path

from guanxi.activities.views import records, settings, tasks

app_name = "activities"

urlpatterns = [
    path("", records.activity_list, name="activity-list"),
    path("log/", records.log_activity, name="log"),
    path("scripts/", records.scripts, name="scripts"),
    path("my-day/", tasks.my_day, name="my-day"),
    path("tasks/", tasks.task_list, name="task-list"),
    path("tasks/new/", tasks.task_create, name="task-create"),
    path("tasks/bulk/", tasks.task_bulk, name="task-bulk"),
    path("tasks/<int:pk>/", tasks.task_detail, name="task-detail"),
    path("tasks/<int:pk>/complete/", tasks.task_complete, name="task-complete"),
    path("tasks/<int:pk>/reopen/", tasks.task_reopen, name="task-reopen"),
    path("tasks/<int:pk>/snooze/", tasks.task_snooze, name="task-snooze"),
    path("reminders/read/", tasks.reminders_read, name="reminders-read"),
    path("settings/plans/", settings.plan_settings, name="plan-settings"),
    path("settings/scripts/", settings.script_list, name="script-list"),
    path("settings/scripts/new/", settings.script_create, name="script-create"),
    path("settings/scripts/<int:pk>/edit/", settings.script_edit, name="script-edit"),
    path("settings/scripts/<int:pk>/delete/", settings.script_delete, name="script-delete"),
    path("settings/pool-rules/", settings.pool_rules, name="pool-rules"),
    path("settings/pool-rules/<int:pk>/", settings.pool_rules_edit, name="pool-rules-edit"),
]
