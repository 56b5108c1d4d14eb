from __future__ import annotations

from django.urls import path

from faxes import views

app_name = "faxes"
urlpatterns = [
    path("faxes", views.fax_list, name="dashboard_list"),
    path("faxes/send", views.fax_send, name="dashboard_send"),
    path("faxes/send/preview", views.fax_send_preview, name="dashboard_send_preview"),
    path("faxes/<id:fax_id>", views.fax_detail, name="dashboard_detail"),
    path("faxes/<id:fax_id>/live", views.fax_live, name="dashboard_live"),
    path("faxes/<id:fax_id>/document", views.fax_document, name="dashboard_document"),
    path("faxes/<id:fax_id>/cancel", views.fax_cancel_view, name="dashboard_cancel"),
    path("faxes/<id:fax_id>/resend", views.fax_resend_view, name="dashboard_resend"),
    path(
        "faxes/<id:fax_id>/pages/<int:page_number>.png",
        views.fax_page_image,
        name="dashboard_page_image",
    ),
    path("inbox", views.inbox, name="dashboard_inbox"),
]
