"""``alephee serve``: the API (and its embedded worker with ``--with-worker``)."""

from __future__ import annotations

from typing import Annotated

import typer

from alephee.config import Settings

# With --workers N, uvicorn's supervisor kills a process that does not answer its ping within this many seconds
# (uvicorn's default: 5) and starts another. Importing the application takes several seconds of CPU, and a busy
# host can starve a process longer than 5 s: the replacements were killed in turn, in a loop, before serving.
WORKER_HEALTHCHECK_SECONDS = 30


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (share the database and, with Redis, limits).")] = 1,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also deliver the outbox from a background thread of each process.")
    ] = False,
) -> None:
    """Apply migrations, then serve the API (and Swagger at /swagger/ui/index)."""
    import logging.config

    import uvicorn

    from alephee.bootstrap import prepare_database
    from alephee.logs import log_config
    from alephee.memory import cap_malloc_arenas

    settings = Settings()
    # First thing: an arena that a thread makes before the cap stays, and one was made between here and create_app
    # (whose own call covers each process that --workers starts).
    cap_malloc_arenas(settings.malloc_arenas)
    # Configured before the database is prepared, so its warning (autovacuum off) is logged like the rest;
    # uvicorn applies the same configuration again in every server process.
    logging.config.dictConfig(log_config(settings))
    prepare_database(settings, service=True)
    typer.echo(f"Alephee hub on http://{host}:{port}/v2  Swagger: http://{host}:{port}/swagger/ui/index", err=True)
    uvicorn.run(
        # The worker variant starts/stops its thread in the app's lifespan, so shutdown waits for it.
        "alephee.app:create_app_with_worker" if with_worker else "alephee.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        loop="uvloop",
        # httptools plus a cap and deadlines on request heads and an idle limit on bodies (http/server.py).
        http="alephee.http.server:GuardedHttpToolsProtocol",
        timeout_keep_alive=settings.http_keep_alive_seconds,  # type: ignore[arg-type]  # uvicorn says int; a float works
        log_level=settings.log_level.lower(),
        # Our access log (alephee.access, written by http/middleware.py) replaces uvicorn's.
        log_config=log_config(settings),
        access_log=False,
    )
