from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from guanxi.staff.models import Team, User


@admin.register(User)
class StaffUserAdmin(UserAdmin):  # type: ignore[type-arg]  # django-stubs types UserAdmin generically
    list_display = ("username", "first_name", "last_name", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Guanxi", {"fields": ("role", "team", "language")}))  # type: ignore[misc]  # stubs mark fieldsets optional


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # ModelAdmin is generic in django-stubs
    list_display = ("name", "manager")
