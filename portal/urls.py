from django.urls import path

from . import views

urlpatterns = [
    path("inbox/<int:pk>/cost/", views.conversation_cost, name="conversation-cost"),
    path("contacts/", views.contact_list, name="contacts"),
]
