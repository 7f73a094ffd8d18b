"""The embedded local DynamoDB: moto's server on 127.0.0.1, its data kept on disk.

With no AWS settings every local tool (the API server, ``create_tables()``, the
migration) shares one engine process per data folder: the first tool that needs it
starts it, the others find it through ``engine.json``, and it stops by itself after a
quiet spell. Only requests signed with the folder's secret are served.

Two sides: ``launcher`` (what tools import: find or start the engine, sign and heal;
no moto) and ``server`` (the engine process, ``python -m localdb``). moto is a
development dependency, and this package is a development tool beside the product, not
part of it: it imports nothing of ``backend``, and neither the wheel nor the Lambda
package holds it. The application knows only what this module exports, imported lazily
by ``backend.storage`` when no AWS settings are given.
"""

from localdb.launcher import (
    EngineError,
    attach,
    credentials,
    ensure_running,
    keep_alive,
)

__all__ = ["EngineError", "attach", "credentials", "ensure_running", "keep_alive"]
