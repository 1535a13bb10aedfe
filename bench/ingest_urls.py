"""The product's URLs plus bench/ingest.py's reference: a Django POST view doing
one durable INSERT (autocommit, so one commit) of the body it was sent."""

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as product

REFERENCE_TABLE = "bench_reference_insert"


@csrf_exempt
@require_POST
def one_insert(request):
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {REFERENCE_TABLE} (body) VALUES (%s) RETURNING id",  # noqa: S608
            [request.body.decode()],
        )
        (pk,) = cursor.fetchone()
    return JsonResponse({"id": pk}, status=200)


urlpatterns = [path("bench/insert/", one_insert), *product]
