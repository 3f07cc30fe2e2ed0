"""Behind ``subscription.py``: reading events in commit order and waiting for new ones.

* :mod:`.reads`: one query per batch, the next readable events after a position;
* :mod:`.records`: event rows as ``RecordedRaw``;
* :mod:`.loop`: the batch loop of every subscription iterator (reconnects included);
* :mod:`.notify`: waking caught-up readers (``LISTEN/NOTIFY``, or polling);
* :mod:`.lag`: reporting transactions that hold readers back.
"""
