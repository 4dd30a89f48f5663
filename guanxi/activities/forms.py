"""Forms of the follow-up pages. They parse and show input; every write goes through `services`."""

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from guanxi.activities.models import Activity, ActivityKind, TalkScript, TaskOrigin, TaskStatus
from guanxi.customers.models import Grade
from guanxi.sales.models import Stage
from guanxi.staff.models import Team, User

DATETIME_WIDGET = {"type": "datetime-local"}
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def _datetime_field(label: Any, required: bool = True, help_text: Any = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        help_text=help_text,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs=DATETIME_WIDGET, format="%Y-%m-%dT%H:%M"),
    )


class ActivityForm(forms.ModelForm[Activity]):
    occurred_at = _datetime_field(_("When"))
    answered_at = _datetime_field(
        _("Answered at"), required=False, help_text=_("For a contact the customer started: when we answered.")
    )

    class Meta:
        model = Activity
        fields = ("kind", "initiated_by", "occurred_at", "answered_at", "subject", "body", "outcome", "next_step")
        widgets = {"body": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Scripts follow the chosen kind: the select asks the server for them as it changes.
        self.fields["kind"].widget.attrs.update({"data-scripts": "kind"})

    def _post_clean(self) -> None:
        """The service validates the instance (with the targets); the form only parses."""


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    due_at = _datetime_field(_("Due"))
    remind_at = _datetime_field(_("Remind me at"), required=False)
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=User.objects.none(), required=False)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, users: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if users is not None:
            self.fields["assignee"].queryset = users  # type: ignore[attr-defined]  # a ModelChoiceField


class TaskFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any status")), *TaskStatus.choices])
    due = forms.ChoiceField(
        label=_("Due"),
        required=False,
        choices=[("", _("Any time")), ("overdue", _("Overdue")), ("today", _("Today")), ("week", _("Next 7 days"))],
    )
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    origin = forms.ChoiceField(label=_("Created"), required=False, choices=[("", _("Any way")), *TaskOrigin.choices])

    def __init__(self, *args: Any, users: list[User] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            ("", _("Anyone")),
            ("me", _("Me")),
            ("none", _("Nobody")),
            *[(str(u.pk), str(u)) for u in users or []],
        ]


class TaskBulkForm(forms.Form):
    ACTIONS = [("complete", _("Mark done")), ("cancel", _("Cancel")), ("reassign", _("Reassign"))]
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    ids = forms.TypedMultipleChoiceField(coerce=int, required=True)
    assignee = forms.CharField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids_field = cast(forms.TypedMultipleChoiceField, self.fields["ids"])
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else self.data.get("ids", [])
        ids_field.choices = [(v, v) for v in raw if str(v).isdigit()]


class SnoozeForm(forms.Form):
    CHOICES = [("1h", _("1 hour")), ("tomorrow", _("Tomorrow 9:00")), ("week", _("In a week"))]
    until = forms.ChoiceField(choices=CHOICES)


class PlanForm(forms.Form):
    """One row per grade: an interval in days (empty: no plan) and whether it is on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for grade, label in Grade.choices:
            self.fields[f"days_{grade}"] = forms.IntegerField(
                label=_("Grade %(grade)s: follow up every (days)") % {"grade": label},
                required=False,
                min_value=1,
                max_value=3650,
            )
            self.fields[f"active_{grade}"] = forms.BooleanField(label=_("Active"), required=False)

    def rows(self) -> list[tuple[Any, Any, Any]]:
        return [(label, self[f"days_{grade}"], self[f"active_{grade}"]) for grade, label in Grade.choices]


class TalkScriptForm(forms.ModelForm[TalkScript]):
    class Meta:
        model = TalkScript
        fields = ("title", "kind", "stage", "body", "is_active", "position")
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = Stage.objects.select_related("pipeline")  # type: ignore[attr-defined]  # a ModelChoiceField
        self.fields["kind"].choices = [("", _("Every kind")), *ActivityKind.choices]  # type: ignore[attr-defined]  # a ChoiceField

    def _post_clean(self) -> None:
        """The service validates and saves."""


class PoolRulesForm(forms.ModelForm[Team]):
    class Meta:
        model = Team
        fields = (
            "reclaim_after_days_without_follow_up",
            "reclaim_after_days_without_win",
            "reclaim_warning_days",
            "max_customers_per_rep",
        )

    def _post_clean(self) -> None:
        """The service validates and saves."""
