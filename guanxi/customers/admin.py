from django.contrib import admin

from guanxi.customers.models import Account, ConsentRecord, Person


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # ModelAdmin is generic in django-stubs
    list_display = ("name", "kind", "owner", "lifecycle_stage")
    search_fields = ("name",)
    raw_id_fields = ("owner", "parent", "created_by")


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # ModelAdmin is generic in django-stubs
    list_display = ("full_name", "owner", "lifecycle_stage")
    search_fields = ("full_name",)
    raw_id_fields = ("owner", "created_by")


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # ModelAdmin is generic in django-stubs
    """Read-only: consent is proof and is only ever appended through the services."""

    list_display = ("person", "purpose", "channel", "granted", "source", "recorded_at")
    raw_id_fields = ("person", "recorded_by")

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: object) -> bool:
        return False
