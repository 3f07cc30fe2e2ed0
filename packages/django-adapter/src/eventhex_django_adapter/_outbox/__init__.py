"""The outbox room: the one table module behind ``outbox`` (``Outbox.run``) and ``relay_source``
(the relay's source), and the decoding of its rows."""
