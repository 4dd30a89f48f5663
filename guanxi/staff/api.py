"""API sign-in: trade a username and password for a token to send as `Authorization: Token <key>`."""

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView


class TokenLoginThrottle(AnonRateThrottle):
    """Slows down password guessing: a handful of attempts per minute per address."""

    rate = "20/min"


class ObtainTokenView(APIView):
    """Sign in with username and password; the answer holds the user's API token."""

    authentication_classes = []  # a sign-in needs no prior session, and so no CSRF token
    permission_classes = [AllowAny]
    throttle_classes = [TokenLoginThrottle]
    serializer_class = AuthTokenSerializer

    @extend_schema(
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, _created = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key}, status=status.HTTP_200_OK)
