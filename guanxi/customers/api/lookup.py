"""GET /api/owner-lookup/?q=…: who owns the customer with this phone, email or name."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from guanxi.customers import queries
from guanxi.customers.api.common import actor_of


class OwnerSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="__str__")
    email = serializers.EmailField()
    team = serializers.CharField(source="team.name", default=None)


class OwnerMatchSerializer(serializers.Serializer[Any]):
    type = serializers.CharField(source="kind")
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    owner = OwnerSerializer(allow_null=True, help_text="null: the customer is in the shared pool.")
    visible = serializers.BooleanField(help_text="Whether you may open the record itself.")


class OwnerLookupView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True, description="A phone number, email or name.")],
        responses=OwnerMatchSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        """Every customer matching `q` with its owner, whoever may open it (at most 20 of each type)."""
        query = str(request.query_params.get("q", "")).strip()[:100]
        if not queries.owner_lookup_query_ok(query):
            raise serializers.ValidationError({"q": ["Enter at least two characters."]})
        matches = queries.owner_lookup(actor_of(request), query)
        return Response(OwnerMatchSerializer(matches, many=True).data)
