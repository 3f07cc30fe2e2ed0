"""eventhex benchmarks: eventhex's Django adapter side by side with python-event-sourcery 0.6.1's
own Django backend (the comparison target, ``event_sourcery_django``, imported only here) and the
raw-SQL floor written with psycopg.

Run ``hatch run bench:all`` (or ``hatch run bench:run GROUP``) from the repository root;
``python -m benchmarks --help`` lists the groups (:mod:`benchmarks.groups`) and the options.
Results go to ``benchmarks/out/*.jsonl`` and ``benchmarks/RESULTS.md``.
"""
