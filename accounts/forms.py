from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation

from accounts.models import DOCUMENT_RETENTION_MAX_DAYS, Role, User
from accounts.services import (
    ACCOUNT_NAME_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    header_unprintable,
    header_unprintable_message,
)

# Offered as suggestions; any IANA zone name is accepted (checked with zoneinfo).
COMMON_TIME_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/Toronto",
    "America/Halifax",
    "America/Vancouver",
    "America/Mexico_City",
    "Europe/London",
    "Europe/Paris",
    "UTC",
]


class SignUpForm(forms.Form):
    """Sign-up, step one. It never says whether the address has an account: that answer goes
    to the mailbox (`account_sign_up_request`)."""

    # The account's name: the business name on the header line of every fax (editable later in
    # Settings), so it is held to what fits there.
    name = forms.CharField(
        label="Business name (printed on the faxes you send)",
        max_length=ACCOUNT_NAME_MAX_LENGTH,
        required=False,
    )
    email = forms.EmailField(max_length=EMAIL_MAX_LENGTH)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        unprintable = header_unprintable(name)
        if unprintable:
            raise forms.ValidationError(header_unprintable_message(unprintable))
        return name

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class SignUpPasswordForm(forms.Form):
    """Sign-up, step two, behind the mailed link: the password of the new account."""

    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False
    )

    def __init__(self, *args: object, email: str, name: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.user = User(email=email, name=name)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        password_validation.validate_password(password, self.user)
        return password


class DocumentRetentionForm(forms.Form):
    """The account's document retention, in days (0 deletes each document once its fax ends)."""

    document_retention_days = forms.IntegerField(
        label="Keep documents for (days)",
        min_value=0,
        max_value=DOCUMENT_RETENTION_MAX_DAYS,
        help_text=(
            f"0 to {DOCUMENT_RETENTION_MAX_DAYS}. Counted from when each fax was delivered, "
            "failed or canceled; 0 deletes the document within a minute of that. Faxes keep "
            "their status, pages and the document's type, size and hash."
        ),
    )


class AccountProfileForm(forms.Form):
    """The account's name (the business name on the header line) and time zone. The rules are
    the service's (`account_profile_check`); the form gives them their fields."""

    name = forms.CharField(
        label="Business name",
        max_length=ACCOUNT_NAME_MAX_LENGTH,
        help_text="On the header line of every page you fax and on the cover page.",
    )
    time_zone = forms.CharField(
        label="Time zone",
        max_length=64,
        help_text="The header line's date and time, and the dashboard's days, e.g. "
        "America/Chicago.",
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(max_length=EMAIL_MAX_LENGTH)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.DEVELOPER)

    def __init__(self, *args: object, roles: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = roles

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationPasswordForm(SignUpPasswordForm):
    """Joining by invitation without a login yet: the new login's password (and name)."""

    name = forms.CharField(max_length=200, required=False)


class CodeForm(forms.Form):
    """A second-factor code: six digits from the app, or a recovery code."""

    code = forms.CharField(
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


class ReauthenticateForm(CodeForm):
    """Turning two-factor login off asks for the password and a code again."""

    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}), strip=False
    )
    field_order = ["password", "code"]
