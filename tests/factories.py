"""factory_boy factories. Numbers use area code 555 with exchange 010, which ring no one."""

from __future__ import annotations

import factory

from accounts.models import Account, Membership, Plan, Role, User
from accounts.services import plans_ensure_defaults
from developers.models import WebhookEndpoint, WebhookEventType
from fax_numbers.models import FaxNumber
from faxes.models import DocumentSource, Fax

PASSWORD = "correct-horse-battery-staple"


def plan(slug: str) -> Plan:
    """The plan, re-seeded first: transactional tests flush the rows the migration made."""
    plans_ensure_defaults()
    return Plan.objects.get(slug=slug)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class AccountFactory(factory.django.DjangoModelFactory):
    """An account with its owner as member. `with_number=True` adds one fax number."""

    class Meta:
        model = Account
        skip_postgeneration_save = True

    class Params:
        plan_slug = "business"

    name = factory.Sequence(lambda n: f"Clinic {n}")
    owner = factory.SubFactory(UserFactory)
    plan = factory.LazyAttribute(lambda o: plan(o.plan_slug))

    @factory.post_generation
    def members(obj: Account, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            Membership.objects.create(account=obj, user=obj.owner, role=Role.OWNER)

    @factory.post_generation
    def with_number(obj: Account, create: bool, extracted: object, **kwargs: object) -> None:
        if create and extracted:
            FaxNumberFactory(account=obj)


def member(account: Account, role: str, **user_fields: object) -> User:
    """A new user who is a member of `account` with `role`."""
    user = UserFactory(**user_fields)
    Membership.objects.create(account=account, user=user, role=role)
    return user


class FaxNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FaxNumber

    account = factory.SubFactory(AccountFactory)
    number = factory.Sequence(lambda n: f"+1555010{n % 10000:04d}")
    label = "Main line"


class FaxFactory(factory.django.DjangoModelFactory):
    """A fax row as the API stores it (without a document file, which these tests never read)."""

    class Meta:
        model = Fax

    account = factory.SubFactory(AccountFactory)
    to_number = "+15551234567"
    from_number = factory.LazyAttribute(lambda o: o.account.fax_numbers.first().number)
    document_source = DocumentSource.INLINE
    document_content_type = "application/pdf"
    document_size_bytes = 1024
    page_count = 1


def endpoint_for_every_event(
    account: Account, url: str = "https://hooks.example.com/sfm"
) -> WebhookEndpoint:
    """An enabled webhook endpoint of `account` that subscribes to every event type."""
    return WebhookEndpoint.objects.create(
        account=account, url=url, secret="whsec_test", event_types=list(WebhookEventType.values)
    )
