"""A URL conf for the error page tests: the project's, plus a view that raises."""

from config.urls import handler500, urlpatterns as project_urlpatterns
from django.urls import path


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), *project_urlpatterns]

__all__ = ["handler500", "urlpatterns"]
