"""The databases the suite runs on, and the mark for tests whose subject does not depend on
the database (media, live view, the recorder's faults): they run on SQLite only, while the
store's own tests and the API's run on both."""

from __future__ import annotations

import pytest

BACKENDS = ["sqlite", "postgresql"]

# On a test, a class or a module (``pytestmark``); tests that use no database are left as
# they are (see ``pytest_generate_tests`` in tests/conftest.py).
SQLITE_ONLY = pytest.mark.sqlite_only


def only_sqlite(metafunc: pytest.Metafunc) -> bool:
    """Whether this test, marked SQLITE_ONLY and using a database, runs on SQLite alone."""
    marked = metafunc.definition.get_closest_marker("sqlite_only") is not None
    own = any(
        "database_url" in str(mark.args[0])
        for mark in metafunc.definition.iter_markers("parametrize")
    )
    return marked and not own and "database_url" in metafunc.fixturenames
