"""Shared fixtures: every test connects to the tessera server named by TESSERA_URL.

crates/server/tests/python_clients.rs starts a real `tessera start-single-node` and runs
`python -m pytest clients/python` with TESSERA_URL set; to run by hand against a server you
started yourself:

    TESSERA_URL=postgresql://root@127.0.0.1:26257/defaultdb?sslmode=disable \
        $TESSERA_PYENV/bin/python -m pytest -q clients/python
"""

import os

import pytest


@pytest.fixture(scope="session")
def url():
    value = os.environ.get("TESSERA_URL")
    if not value:
        pytest.fail("TESSERA_URL is not set: point it at a running tessera server")
    return value


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "hangs_server: the test is expected to leave the server blocked (a known tessera bug);"
        " it runs after every other test",
    )


def pytest_collection_modifyitems(session, config, items):
    """Moves tests marked hangs_server to the end, keeping the order of the rest."""
    items.sort(key=lambda item: item.get_closest_marker("hangs_server") is not None)
