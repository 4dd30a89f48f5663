"""My day (today's and overdue tasks, slipped follow-up plans, unread reminders), the task list
with filters and bulk actions, the task form, and the complete / snooze / reminder actions."""

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from guanxi.activities import queries, services
from guanxi.activities.forms import SnoozeForm, TaskBulkForm, TaskFilterForm, TaskForm
from guanxi.activities.models import ReminderKind, Task
from guanxi.activities.views.common import Targets, add_errors, record_url, request_user, safe_next, targets_from
from guanxi.core.pagination import InvalidCursorError, capped_count, keyset_page, parse_ordering
from guanxi.customers.forms.common import assignable_users, filterable_users
from guanxi.staff.models import User

PAGE_SIZE = 25


def reminder_text(kind: str, params: dict[str, Any], text: str) -> str:
    """A reminder's sentence in the reader's language, built from what the job stored."""
    if kind == ReminderKind.RECLAIM_WARNING:
        count = int(params.get("accounts", 0)) + int(params.get("people", 0))
        days = int(params.get("days", 0))
        return ngettext(
            "%(count)d of your customers will return to the shared pool within %(days)d days unless you follow up.",
            "%(count)d of your customers will return to the shared pool within %(days)d days unless you follow up.",
            count,
        ) % {"count": count, "days": days}
    if kind == ReminderKind.TASK:
        return _("Task due: %(title)s") % {"title": text}
    return text


@login_required
@require_GET
def my_day(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    now = timezone.now()
    tasks = list(queries.my_day_tasks(user, now)[:100])
    reminders = [
        {"reminder": r, "text": reminder_text(r.kind, r.params, r.text)}
        for r in queries.unread_reminders(user, now)[:20]
    ]
    accounts, people, plans = queries.slipped_customers(user, now)
    return render(
        request,
        "activities/my_day.html",
        {
            "overdue": [t for t in tasks if t.due_at < now],
            "today": [t for t in tasks if t.due_at >= now],
            "reminders": reminders,
            "slipped_accounts": accounts,
            "slipped_people": people,
            "plans": plans,
            "now": now,
            "snooze_choices": SnoozeForm.CHOICES,
        },
    )


def _task_columns(ordering: str) -> list[dict[str, str]]:
    labels = {"due_at": _("Due"), "created_at": _("Created on")}
    columns = []
    for field in queries.TASK_ORDERING:
        active = ordering.lstrip("-") == field
        descending = ordering.startswith("-")
        columns.append(
            {
                "field": field,
                "label": labels[field],
                "ordering": f"-{field}" if active and not descending else field,
                "direction": ("desc" if descending else "asc") if active else "",
            }
        )
    return columns


@login_required
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    now = timezone.now()
    users = list(filterable_users(user))
    filter_form = TaskFilterForm(request.GET or {"status": "open"}, users=users)
    filters = queries.TaskFilters.from_query(request.GET or {"status": "open"})
    queryset = queries.filter_tasks(queries.visible_tasks(user), filters, user, now)
    ordering = parse_ordering(request.GET.get("ordering"), queries.TASK_ORDERING, "due_at")
    cursor = request.GET.get("cursor") or None
    rows = queries.task_rows(queryset)
    try:
        page = keyset_page(rows, ordering=ordering, cursor=cursor, size=PAGE_SIZE)
    except InvalidCursorError:
        page = keyset_page(rows, ordering=ordering, cursor=None, size=PAGE_SIZE)
    total, more = capped_count(queryset)
    return render(
        request,
        "activities/task_list.html",
        {
            "items": page.items,
            "page": page,
            "total": total,
            "total_more": more,
            "filter_form": filter_form,
            "ordering": ordering,
            "columns": _task_columns(ordering),
            "is_filtered": any(request.GET.get(k) for k in ("q", "assignee", "due", "origin"))
            or request.GET.get("status", "open") != "open",
            "assignable_users": list(assignable_users(user)),
            "bulk_actions": TaskBulkForm.ACTIONS,
            "now": now,
        },
    )


@login_required
@require_POST
def task_bulk(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = TaskBulkForm(request.POST)
    target = safe_next(request, request.POST.get("next"), reverse("activities:task-list"))
    if not form.is_valid():
        messages.error(request, _("Select at least one task and an action."))
        return redirect(target)
    assignee: User | None = None
    raw = form.cleaned_data.get("assignee") or ""
    if form.cleaned_data["action"] == "reassign" and raw:
        assignee = get_object_or_404(User, pk=int(raw)) if str(raw).isdigit() else None
    try:
        count = services.bulk_update_tasks(user, form.cleaned_data["ids"], form.cleaned_data["action"], assignee)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, ngettext("Updated %(count)d task.", "Updated %(count)d tasks.", count) % {"count": count}
        )
    return redirect(target)


def _visible_task(request: HttpRequest, pk: int) -> Task:
    return get_object_or_404(queries.task_rows(queries.visible_tasks(request_user(request))), pk=pk)


def _task_form(request: HttpRequest, task: Task | None) -> HttpResponse:
    user = request_user(request)
    targets = (
        targets_from(request, request.POST if request.method == "POST" else request.GET)
        if task is None
        else Targets(account=task.account, person=task.person, lead=task.lead, opportunity=task.opportunity)
    )
    initial: dict[str, Any]
    if task is None:
        initial = {
            "assignee": user,
            "due_at": timezone.localtime().replace(minute=0, second=0, microsecond=0) + timedelta(days=1),
        }
    else:
        initial = {
            "title": task.title,
            "notes": task.notes,
            "due_at": timezone.localtime(task.due_at),
            "remind_at": timezone.localtime(task.remind_at) if task.remind_at else None,
            "assignee": task.assignee,
        }
    users = assignable_users(user)
    if task is not None and task.assignee_id:
        users = users | User.objects.filter(pk=task.assignee_id)
    form = TaskForm(request.POST or None, initial=initial, users=users.distinct())
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            if task is None:
                saved = services.create_task(user, data, **targets.as_kwargs())
            else:
                saved = services.update_task(user, task, data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Saved the task “%(title)s”.") % {"title": saved.title})
            return redirect(safe_next(request, request.POST.get("next"), reverse("activities:task-list")))
    can_edit = task is None or queries.editable_tasks(user).filter(pk=task.pk).exists()
    return render(
        request,
        "activities/task_form.html",
        {
            "form": form,
            "task": task,
            "targets": targets,
            "target_url": record_url(targets.main) if targets else "",
            "can_edit": can_edit,
            "next": request.GET.get("next") or request.POST.get("next") or "",
            "snooze_choices": SnoozeForm.CHOICES,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def task_create(request: HttpRequest) -> HttpResponse:
    return _task_form(request, None)


@login_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _task_form(request, _visible_task(request, pk))


def _after_action(request: HttpRequest) -> HttpResponse:
    return redirect(safe_next(request, request.POST.get("next"), reverse("activities:my-day")))


@login_required
@require_POST
def task_complete(request: HttpRequest, pk: int) -> HttpResponse:
    task = _visible_task(request, pk)
    services.complete_task(request_user(request), task)
    messages.success(request, _("Marked “%(title)s” done.") % {"title": task.title})
    return _after_action(request)


@login_required
@require_POST
def task_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    task = _visible_task(request, pk)
    services.reopen_task(request_user(request), task)
    return _after_action(request)


def snooze_until(choice: str, now: datetime) -> datetime:
    local = timezone.localtime(now)
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "week":
        return now + timedelta(days=7)
    return (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)


@login_required
@require_POST
def task_snooze(request: HttpRequest, pk: int) -> HttpResponse:
    task = _visible_task(request, pk)
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose how long to snooze."))
        return _after_action(request)
    try:
        services.snooze_task(request_user(request), task, snooze_until(form.cleaned_data["until"], timezone.now()))
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Snoozed “%(title)s”.") % {"title": task.title})
    return _after_action(request)


@login_required
@require_POST
def reminders_read(request: HttpRequest) -> HttpResponse:
    """Mark one reminder (`id`) or all of the user's reminders read."""
    user = request_user(request)
    raw = request.POST.get("id", "")
    if raw and not raw.isdigit():
        raise PermissionDenied
    services.mark_reminders_read(user, [int(raw)] if raw else None)
    return _after_action(request)
