from django.urls import path

from guanxi.customers import views

app_name = "customers"

urlpatterns = [
    path("accounts/", views.account_list, name="account-list"),
    path("accounts/new/", views.account_create, name="account-create"),
    path("accounts/bulk/", views.account_bulk, name="account-bulk"),
    path("accounts/<int:pk>/", views.account_detail, name="account-detail"),
    path("accounts/<int:pk>/edit/", views.account_edit, name="account-edit"),
    path("accounts/<int:pk>/delete/", views.account_delete, name="account-delete"),
    path("accounts/<int:pk>/stage/", views.account_stage, name="account-stage"),
    path("accounts/<int:pk>/roles/", views.account_role_add, name="account-role-add"),
    path("accounts/<int:pk>/relationships/", views.account_relationship_add, name="account-relationship-add"),
    path("people/", views.person_list, name="person-list"),
    path("people/new/", views.person_create, name="person-create"),
    path("people/bulk/", views.person_bulk, name="person-bulk"),
    path("people/<int:pk>/", views.person_detail, name="person-detail"),
    path("people/<int:pk>/edit/", views.person_edit, name="person-edit"),
    path("people/<int:pk>/delete/", views.person_delete, name="person-delete"),
    path("people/<int:pk>/stage/", views.person_stage, name="person-stage"),
    path("people/<int:pk>/roles/", views.person_role_add, name="person-role-add"),
    path("people/<int:pk>/relationships/", views.person_relationship_add, name="person-relationship-add"),
    path("people/<int:pk>/consent/", views.person_consent, name="person-consent"),
    path("roles/<int:pk>/remove/", views.role_remove, name="role-remove"),
    path("relationships/<int:pk>/remove/", views.relationship_remove, name="relationship-remove"),
    path("lookup/", views.lookup, name="lookup"),
    path("settings/tags/", views.tag_list, name="tag-list"),
    path("settings/tags/new/", views.tag_create, name="tag-create"),
    path("settings/tags/<int:pk>/edit/", views.tag_edit, name="tag-edit"),
    path("settings/tags/<int:pk>/delete/", views.tag_delete, name="tag-delete"),
    path("settings/attributes/", views.attribute_list, name="attribute-list"),
    path("settings/attributes/new/", views.attribute_create, name="attribute-create"),
    path("settings/attributes/<int:pk>/edit/", views.attribute_edit, name="attribute-edit"),
    path("settings/attributes/<int:pk>/delete/", views.attribute_delete, name="attribute-delete"),
]
