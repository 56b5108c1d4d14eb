from __future__ import annotations

from django.urls import path

from fax_numbers import views

app_name = "numbers"
urlpatterns = [
    path("numbers", views.number_list, name="dashboard_numbers"),
    path("numbers/<id:number_id>/email", views.number_email, name="dashboard_number_email"),
]
