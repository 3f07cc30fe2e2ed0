"""Behind ``storage.py``: how events are appended to streams and how streams are read.

* :mod:`.checks`: what an append is checked for before any statement runs;
* :mod:`.claim`: the SQL that claims a stream row for an append (create it, or move its
  version on), shared by every path below;
* :mod:`.append_sql`: PostgreSQL's one-statement append (claim, events, outbox rows);
* :mod:`.orm_append`: the event rows through the ORM (SQLite, and PostgreSQL's slow path);
* :mod:`.stream_rows`: finding a stream row, and the slow path that raises the exact error;
* :mod:`.event_uuids`: telling a duplicate event uuid from other integrity errors;
* :mod:`.reads`: loading a stream (its newest snapshot in range and the events after it).
"""
