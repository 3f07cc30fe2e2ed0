"""eventhex's own internals: for eventhex's packages (the Django adapter, the relay), not for users.

Nothing here is public API: names and signatures change without notice or changelog entry.
The Django adapter and the relay import these modules; an application, or an adapter outside
eventhex, uses the public modules instead (:mod:`eventhex_core_ports.ports`,
:mod:`eventhex_core_ports.container`, :mod:`eventhex_core_ports.backend`,
:mod:`eventhex_core_ports.in_memory`, :mod:`eventhex_core_ports.testing`,
:mod:`eventhex_core_ports.errors`).

- ``serde``: ``FastSerde``, event_sourcery's ``Serde`` without its generic deep copies.
- ``records``: event_sourcery's record types built without their validating constructors.
- ``reading``: the ``EventStore`` and subscription builder that read through the decoded-read
  ports.
- ``dispatch``: ``ListenerAwareDispatcher``, which decodes only events someone listens to.
- ``registry``: ``ExplainingEventRegistry``, whose failed lookups say how to fix them.
- ``validation``: the input rules every adapter checks before it writes or reads.
- ``stream_claim``: ``StreamClaim``, the rule that event versions continue the stream.
- ``logs``: the logging configuration of the relay and the Django commands (needs structlog:
  the ``eventhex-core-ports[logs]`` extra).
"""
