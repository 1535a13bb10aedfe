"""A URL conf for the error page tests: the project's, plus a view that raises."""

from django.urls import path

from config.urls import handler500
from config.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), *project_urlpatterns]

__all__ = ["handler500", "urlpatterns"]
