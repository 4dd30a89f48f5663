from django.contrib import admin

from guanxi.dataio import models


@admin.register(models.ImportJob)
class ImportJobAdmin(admin.ModelAdmin[models.ImportJob]):
    list_display = ["id", "original_name", "target", "stage", "status", "created_by", "created_at"]
    list_filter = ["target", "status", "stage"]


@admin.register(models.ExportJob)
class ExportJobAdmin(admin.ModelAdmin[models.ExportJob]):
    list_display = ["id", "target", "file_format", "status", "created_by", "created_at"]
    list_filter = ["target", "status"]


@admin.register(models.MergeRecord)
class MergeRecordAdmin(admin.ModelAdmin[models.MergeRecord]):
    list_display = ["id", "target", "survivor_id", "merged_id", "merged_by", "merged_at", "undone_at"]
    list_filter = ["target"]
