from django.urls import path

from guanxi.customers.views import configuration, edit, lists, lookup, records

app_name = "customers"

urlpatterns = [
    path("accounts/", lists.account_list, name="account-list"),
    path("accounts/new/", edit.account_create, name="account-create"),
    path("accounts/bulk/", lists.account_bulk, name="account-bulk"),
    path("accounts/<int:pk>/", records.account_detail, name="account-detail"),
    path("accounts/<int:pk>/edit/", edit.account_edit, name="account-edit"),
    path("accounts/<int:pk>/delete/", edit.account_delete, name="account-delete"),
    path("accounts/<int:pk>/stage/", records.account_stage, name="account-stage"),
    path("accounts/<int:pk>/roles/", records.account_role_add, name="account-role-add"),
    path("accounts/<int:pk>/relationships/", records.account_relationship_add, name="account-relationship-add"),
    path("people/", lists.person_list, name="person-list"),
    path("people/new/", edit.person_create, name="person-create"),
    path("people/bulk/", lists.person_bulk, name="person-bulk"),
    path("people/<int:pk>/", records.person_detail, name="person-detail"),
    path("people/<int:pk>/edit/", edit.person_edit, name="person-edit"),
    path("people/<int:pk>/delete/", edit.person_delete, name="person-delete"),
    path("people/<int:pk>/stage/", records.person_stage, name="person-stage"),
    path("people/<int:pk>/roles/", records.person_role_add, name="person-role-add"),
    path("people/<int:pk>/relationships/", records.person_relationship_add, name="person-relationship-add"),
    path("people/<int:pk>/consent/", records.person_consent, name="person-consent"),
    path("roles/<int:pk>/remove/", records.role_remove, name="role-remove"),
    path("relationships/<int:pk>/remove/", records.relationship_remove, name="relationship-remove"),
    path("lookup/", lists.lookup, name="lookup"),
    path("lookup/owner/", lookup.owner_lookup, name="owner-lookup"),
    path("settings/tags/", configuration.tag_list, name="tag-list"),
    path("settings/tags/new/", configuration.tag_create, name="tag-create"),
    path("settings/tags/<int:pk>/edit/", configuration.tag_edit, name="tag-edit"),
    path("settings/tags/<int:pk>/delete/", configuration.tag_delete, name="tag-delete"),
    path("settings/attributes/", configuration.attribute_list, name="attribute-list"),
    path("settings/attributes/new/", configuration.attribute_create, name="attribute-create"),
    path("settings/attributes/<int:pk>/edit/", configuration.attribute_edit, name="attribute-edit"),
    path("settings/attributes/<int:pk>/delete/", configuration.attribute_delete, name="attribute-delete"),
]
