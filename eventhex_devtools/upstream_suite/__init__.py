"""python-event-sourcery 0.6.1's own test suite, run against eventhex (``python -m`` this package).

eventhex promises that code written for ``event_sourcery_django.DjangoBackend`` works by changing
only the import. This package holds that promise to the library's own tests: it fetches the
``python-event-sourcery==0.6.1`` sdist from the package index, and runs its event-store tests
with their ``--backends django`` selection on a throw-away PostgreSQL, once with ``USE_TZ =
False`` and once with ``True``. Nothing of the suite is edited or copied: a pytest plugin
(:mod:`.plugin`) makes the suite's ``import event_sourcery_django`` resolve to
``eventhex_django_adapter`` and points Django at :mod:`.settings`.

One class is deselected: ``TestMissesEventsThatWereNotCommittedWithinSpecifiedTimeout`` asserts
that a subscriber *loses* events whose transaction commits after its time limit; eventhex
delivers them (``docs/migrating.md``).
"""
