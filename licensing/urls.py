from django.urls import path

from . import views

app_name = "licensing"

urlpatterns = [path("licenses/", views.licenses, name="licenses")]
