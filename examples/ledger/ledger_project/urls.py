"""URLs of the ledger example: the admin, where eventhex shows streams, events and the outbox."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
