"""Routes for tests/config/test_rls.py: they report, from the database itself, whom a request runs as."""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.views import SupplierApiView


def _session() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, coalesce(current_setting('supplyline.supplier_ids', true), '')")
        role, supplier_ids = cursor.fetchone()
    return {"role": role, "supplier_ids": supplier_ids}


def database_session(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_session())


def fails(request: HttpRequest) -> JsonResponse:
    raise RuntimeError(f"failed as {_session()['role']}")


class DatabaseSessionApi(SupplierApiView):
    required_scopes = {"GET": "orders:read"}

    def get(self, request: Request) -> Response:
        return Response(_session())


urlpatterns = [
    path("session/", database_session),
    path("fails/", fails),
    path("api/session/", DatabaseSessionApi.as_view()),
    path("", include("config.urls")),
]
