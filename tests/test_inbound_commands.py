"""The operator commands for received faxes: set_number_email and simulate_inbound_fax."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from faxes.models import Fax
from tests import documents

pytestmark = pytest.mark.django_db


def test_it_sets_a_numbers_email_recipients(account) -> None:
    number = account.fax_numbers.get()

    call_command("set_number_email", number.number, "--to", "a@x.test, b@y.test", "--attach-pdf")

    number.refresh_from_db()
    assert (number.email_recipients, number.email_attach_pdf) == (["a@x.test", "b@y.test"], True)


def test_it_refuses_more_than_ten_recipients(account) -> None:
    number = account.fax_numbers.get()
    many = ",".join(f"r{i}@x.test" for i in range(11))

    with pytest.raises(CommandError, match="At most 10"):
        call_command("set_number_email", number.number, "--to", many)


def test_it_refuses_something_that_is_not_an_address(account) -> None:
    with pytest.raises(CommandError, match="not an email address"):
        call_command("set_number_email", account.fax_numbers.get().number, "--to", "nope")


def test_it_simulates_a_received_fax_with_a_generated_page(account, pipeline) -> None:
    call_command("simulate_inbound_fax", account.fax_numbers.get().number, "--from", "anonymous")

    fax = Fax.objects.get()
    assert (fax.direction, fax.status, fax.from_number) == ("inbound", "received", "anonymous")
    assert (fax.page_count, fax.livemode) == (1, True)


def test_it_simulates_a_received_fax_from_a_file(account, pipeline, tmp_path) -> None:
    path = tmp_path / "referral.pdf"
    path.write_bytes(documents.pdf_bytes(pages=4))

    call_command("simulate_inbound_fax", account.fax_numbers.get().number, "--file", str(path))

    assert Fax.objects.get().page_count == 4


def test_it_refuses_to_simulate_on_a_number_nobody_holds(db) -> None:
    with pytest.raises(CommandError, match="No account holds"):
        call_command("simulate_inbound_fax", "+15559990000")
