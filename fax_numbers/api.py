"""GET /v1/numbers."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from developers.models import Scope
from developers.openapi import ERROR_RESPONSES
from fax_numbers.models import FaxNumber


class NumberSerializer(serializers.Serializer):
    """Explicit fields: a ModelSerializer introspects the model on every use."""

    id = serializers.CharField(help_text="`num_…`")
    object = serializers.SerializerMethodField()
    number = serializers.CharField(help_text="E.164")
    label = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_object(self, number: FaxNumber) -> str:
        return "number"


class NumberListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = NumberSerializer(many=True)


class NumberListView(APIView):
    required_scopes = {"GET": Scope.NUMBERS_READ}

    @extend_schema(
        operation_id="numbers_list",
        summary="List the account's fax numbers",
        responses={200: NumberListSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        numbers = FaxNumber.objects.filter(account=request.auth.account).order_by(
            "created_at", "id"
        )
        return Response({"object": "list", "data": NumberSerializer(numbers, many=True).data})


urlpatterns = [path("numbers", NumberListView.as_view(), name="numbers")]
