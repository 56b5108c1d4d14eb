"""GET /v1/numbers."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from developers.models import Scope
from fax_numbers.models import FaxNumber
from fax_numbers.selectors import fax_number_rows_of_account
from sendfaxmail.lib.openapi import (
    ERROR_RESPONSES,
    ListEnvelopeSerializer,
    constant,
    response_headers,
)


class NumberSerializer(serializers.Serializer):
    """A fax number of the account: faxes are sent from it."""

    # Fields are explicit: a ModelSerializer introspects the model on every use.

    id = serializers.CharField(help_text="Opaque and stable, e.g. `num_3kTq…`.")
    object = serializers.SerializerMethodField()
    number = serializers.CharField(help_text="E.164, e.g. +15551234567: a `from` for faxes.")
    label = serializers.CharField(help_text="The account's name for the number; may be empty.")
    created_at = serializers.DateTimeField()

    @extend_schema_field(constant("number"))
    def get_object(self, number: FaxNumber) -> str:
        return "number"


class NumberListSerializer(ListEnvelopeSerializer):
    """The account's fax numbers."""

    # For the schema only: the view builds the dict.

    data = NumberSerializer(many=True, help_text="Oldest first.")


class NumberListView(APIView):
    required_scopes = {"GET": Scope.NUMBERS_READ}

    @extend_schema(
        operation_id="numbers_list",
        summary="List the account's fax numbers",
        parameters=response_headers(200),
        responses={200: NumberListSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        numbers = fax_number_rows_of_account(account_id=request.auth.account.pk)
        return Response({"object": "list", "data": [number_json(n) for n in numbers]})


def number_json(number: dict[str, Any]) -> dict[str, Any]:
    """A number as NumberSerializer describes it, built directly: DRF's serializer copies its
    fields on every use, which cost more than the query."""
    return {
        "id": number["id"],
        "object": "number",
        "number": number["number"],
        "label": number["label"],
        "created_at": number["created_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


urlpatterns = [path("numbers", NumberListView.as_view(), name="numbers")]
