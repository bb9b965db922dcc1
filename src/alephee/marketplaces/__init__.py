"""The marketplace catalogue and the channel contract, below every domain.

``models`` (the catalogue, the outbox, cursors and the sandbox's tables), ``contract`` (what a connector
implements), ``registry`` (which connector serves a marketplace), ``topics`` (outbox topics → channel calls),
``outbox`` (queueing work for the worker) and ``delivery`` (what the worker hands its senders).
"""
