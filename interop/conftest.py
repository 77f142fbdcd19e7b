"""Fixtures for the interop suite: a real `strata server` process per test module.

The binary is $STRATA_BIN or target/release/strata (scripts/test.sh builds it first).
"""

from __future__ import annotations

import pytest

from broker import Broker


@pytest.fixture(scope="module")
def broker(tmp_path_factory, request):
    """One broker for the whole module, stopped with SIGTERM at the end (exit code must be 0)."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    b = Broker(tmp_path_factory.mktemp(name), name)
    b.start()
    yield b
    b.assert_alive()
    code = b.stop()
    assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


class BrokerFactory:
    """Makes brokers for tests that kill and restart them; stops leftovers at teardown."""

    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.brokers: list[Broker] = []

    def __call__(self, name: str = "broker", extra_args: list[str] | None = None) -> Broker:
        b = Broker(self.tmp_path_factory.mktemp(name), name, extra_args)
        self.brokers.append(b)
        return b.start()


@pytest.fixture
def broker_factory(tmp_path_factory):
    f = BrokerFactory(tmp_path_factory)
    yield f
    for b in f.brokers:
        if b.running():
            code = b.stop()
            assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tail of every involved broker's log to the report."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    funcargs = getattr(item, "funcargs", {}) or {}
    brokers = []
    for value in funcargs.values():
        if isinstance(value, Broker):
            brokers.append(value)
        elif isinstance(value, BrokerFactory):
            brokers.extend(value.brokers)
    for b in brokers:
        rep.sections.append((f"strata log ({b.name})", b.log_tail(120)))
