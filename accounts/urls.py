from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import member_views, two_factor_views, views

urlpatterns = [
    path("login/", two_factor_views.LoginView.as_view(), name="login"),
    path("login/code/", two_factor_views.login_code, name="login_code"),
    path("two-factor/", two_factor_views.two_factor, name="two_factor"),
    path("two-factor/setup/", two_factor_views.two_factor_setup, name="two_factor_setup"),
    path("two-factor/off/", two_factor_views.two_factor_off, name="two_factor_off"),
    path(
        "two-factor/recovery-codes/",
        two_factor_views.recovery_codes_new,
        name="recovery_codes_new",
    ),
    path(
        "invitations/<str:token>/",
        member_views.invitation_accept_page,
        name="invitation_accept",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("signup/confirm/<str:token>/", views.signup_confirm, name="signup_confirm"),
    path("password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

# Under /dashboard/ (namespace "dashboard"). Every view here is a `member_required` view.
dashboard_urlpatterns = [
    path("", views.home, name="home"),
    path("settings", views.account_settings, name="settings"),
    path("switch", member_views.switch, name="switch"),
    path("leave", member_views.leave, name="leave"),
    path("members", member_views.members, name="members"),
    path("members/<int:membership_id>/role", member_views.member_role, name="member_role"),
    path("members/<int:membership_id>/remove", member_views.member_remove, name="member_remove"),
    path(
        "invitations/<int:invitation_id>/withdraw",
        member_views.invitation_withdraw,
        name="invitation_withdraw",
    ),
    path("two-factor", member_views.two_factor_requirement, name="two_factor_requirement"),
]
