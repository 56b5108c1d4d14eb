from __future__ import annotations

from django.urls import path

from developers import views

app_name = "developers"
urlpatterns = [
    path("developers", views.index, name="index"),
    path("developers/keys", views.key_create, name="key_create"),
    path("developers/keys/<str:key_id>/revoke", views.key_revoke, name="key_revoke"),
    path("developers/keys/<str:key_id>/delete", views.key_delete, name="key_delete"),
]
