"""Staff who log into Guanxi, their teams and roles.

Named `staff`, not `accounts`: in a CRM an account is a customer.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from guanxi.core.names import display_name


class StaffRole(models.TextChoices):
    ADMIN = "admin", _("Admin")
    SALES_MANAGER = "sales_manager", _("Sales manager")
    SALES_REP = "sales_rep", _("Sales rep")
    SERVICE_AGENT = "service_agent", _("Service agent")
    MARKETER = "marketer", _("Marketer")
    ANALYST = "analyst", _("Analyst")


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    manager = models.ForeignKey(
        "staff.User",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_teams",
    )
    # The shared pool's rules for this team's customers (收回规则); empty means the rule is off.
    reclaim_after_days_without_follow_up = models.PositiveIntegerField(
        _("reclaim after days without follow-up"), null=True, blank=True
    )
    reclaim_after_days_without_win = models.PositiveIntegerField(
        _("reclaim after days without a won deal"), null=True, blank=True
    )
    reclaim_warning_days = models.PositiveIntegerField(_("warn the owner days before"), default=3)
    max_customers_per_rep = models.PositiveIntegerField(_("most customers a rep may hold"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=StaffRole.choices, default=StaffRole.SALES_REP)
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    language = models.CharField(_("language"), max_length=10, blank=True, default="")

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def get_full_name(self) -> str:
        """陈静 for Chinese names, Jing Chen for Latin ones (Django joins first and last with a space)."""
        return display_name(self.last_name, self.first_name)

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or self.role == StaffRole.ADMIN
