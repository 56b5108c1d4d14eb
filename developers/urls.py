from __future__ import annotations

from django.urls import path

from developers import views

app_name = "developers"
WEBHOOK = "developers/webhooks/<id:endpoint_id>"
urlpatterns = [
    path("developers", views.index, name="index"),
    path("developers/logs", views.request_log, name="logs"),
    path("developers/logs/<id:request_id>", views.request_log_detail, name="log_detail"),
    path("developers/keys", views.key_create, name="key_create"),
    path("developers/keys/<id:key_id>/revoke", views.key_revoke, name="key_revoke"),
    path("developers/keys/<id:key_id>/delete", views.key_delete, name="key_delete"),
    path("developers/webhooks/new", views.webhook_new, name="webhook_new"),
    path(WEBHOOK, views.webhook_detail, name="webhook_detail"),
    path(f"{WEBHOOK}/secret", views.webhook_secret, name="webhook_secret"),
    path(f"{WEBHOOK}/edit", views.webhook_edit, name="webhook_edit"),
    path(f"{WEBHOOK}/disable", views.webhook_disable, name="webhook_disable"),
    path(f"{WEBHOOK}/enable", views.webhook_enable, name="webhook_enable"),
    path(f"{WEBHOOK}/delete", views.webhook_delete, name="webhook_delete"),
    path(f"{WEBHOOK}/rotate", views.webhook_rotate, name="webhook_rotate"),
    path(f"{WEBHOOK}/test", views.webhook_test, name="webhook_test"),
    path(f"{WEBHOOK}/pings/<id:delivery_id>", views.webhook_ping, name="webhook_ping"),
    path(
        f"{WEBHOOK}/pings/<id:delivery_id>/result",
        views.webhook_ping_result,
        name="webhook_ping_result",
    ),
    path(
        f"{WEBHOOK}/deliveries/<id:delivery_id>/resend",
        views.webhook_resend,
        name="webhook_resend",
    ),
]
