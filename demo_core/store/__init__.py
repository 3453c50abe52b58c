"""The workspace store: everything a user makes, kept in one SQLite file.

Pages never open the database themselves; they go through :func:`get_store` (one
:class:`Store` per ``$DEMO_STUDIO_HOME``). See :mod:`demo_core.store.db` for why SQLite,
how faults are handled and the schema.
"""

from demo_core.store.db import (
    SCHEMA_VERSION,
    MessageRow,
    Store,
    StoreError,
    get_store,
    new_id,
)

__all__ = ["SCHEMA_VERSION", "MessageRow", "Store", "StoreError", "get_store", "new_id"]
