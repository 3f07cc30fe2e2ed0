"""Carry an ``event_sourcery_django`` event store over to eventhex.

Add ``"eventhex_django_adapter.contrib.upstream_import"`` to ``INSTALLED_APPS`` next to
``"eventhex_django_adapter"``, run ``migrate`` (it creates the eventhex tables; this app's own
migration creates nothing), then::

    python manage.py import_event_sourcery_django --dry-run
    python manage.py import_event_sourcery_django

The models here describe the tables of ``event_sourcery_django`` 0.6.1 (``managed = False``:
Django never creates, alters or drops them). Nothing of that package is imported. Remove the app
again once the import is done.
"""
