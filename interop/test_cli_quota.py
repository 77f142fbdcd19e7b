"""`strata quota set|list` against a real broker: AlterClientQuotas / DescribeClientQuotas
(KIP-546) with user, client-id and ip entities, defaults, removal, validate-only and the
broker's refusals.

Needs the broker side of the two APIs (branch wt-quota); kept apart from the security CLI tests
so it runs once that is merged. Quotas are global, so every test uses entity names of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

from broker import strata_bin


def strata(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("STRATA_CLIENT_CONFIG", "STRATA_BOOTSTRAP")}
    return subprocess.run([str(strata_bin()), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def ok(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:{res.stdout}\nstderr:{res.stderr}"
    return res.stdout


def quotas(broker, *filters: str) -> list[dict]:
    out = ok(strata("-b", broker.bootstrap, "quota", "list", *filters, "--format", "json"))
    return json.loads(out)["quotas"]


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_set_list_and_remove_user_quotas(broker):
    user = name("alice")
    out = ok(strata("-b", broker.bootstrap, "quota", "set", "--user", user,
                    "--producer-byte-rate", "1024", "--consumer-byte-rate", "2048",
                    "--format", "json"))
    assert json.loads(out) == {"entity": {"user": user},
                               "set": {"producer_byte_rate": 1024.0,
                                       "consumer_byte_rate": 2048.0},
                               "removed": [], "validate_only": False}
    assert quotas(broker, "--user", user) == [
        {"entity": {"user": user},
         "values": {"consumer_byte_rate": 2048.0, "producer_byte_rate": 1024.0}}]

    out = ok(strata("-b", broker.bootstrap, "quota", "set", "--user", user,
                    "--remove", "producer-byte-rate", "--request-percentage", "50"))
    assert f"altered quotas of user={user}" in out and "removed producer_byte_rate" in out, out
    assert quotas(broker, "--user", user) == [
        {"entity": {"user": user},
         "values": {"consumer_byte_rate": 2048.0, "request_percentage": 50.0}}]

    ok(strata("-b", broker.bootstrap, "quota", "set", "--user", user,
              "--remove", "consumer_byte_rate", "--remove", "request_percentage"))
    assert quotas(broker, "--user", user) == []


def test_user_and_client_id_pairs_and_defaults(broker):
    user = name("bob")
    client = name("app")
    ok(strata("-b", broker.bootstrap, "quota", "set", "--user", user, "--client-id", client,
              "--producer-byte-rate", "4096"))
    ok(strata("-b", broker.bootstrap, "quota", "set", "--user", user, "--default-client-id",
              "--producer-byte-rate", "8192"))
    ok(strata("-b", broker.bootstrap, "quota", "set", "--default-user",
              "--consumer-byte-rate", "100000"))

    pair = quotas(broker, "--user", user, "--client-id", client)
    assert pair == [{"entity": {"client-id": client, "user": user},
                     "values": {"producer_byte_rate": 4096.0}}]
    with_default = quotas(broker, "--user", user, "--default-client-id")
    assert with_default == [{"entity": {"client-id": None, "user": user},
                             "values": {"producer_byte_rate": 8192.0}}]
    default_user = quotas(broker, "--default-user", "--strict")
    assert {"entity": {"user": None}, "values": {"consumer_byte_rate": 100000.0}} in default_user

    # Unfiltered: every entity, ours among them; text output names defaults as Kafka does.
    entities = [q["entity"] for q in quotas(broker)]
    assert {"client-id": client, "user": user} in entities
    assert {"client-id": None, "user": user} in entities
    text = ok(strata("-b", broker.bootstrap, "quota", "list", "--user", user,
                     "--default-client-id"))
    assert f"user={user},client-id=<default>" in text or \
        f"client-id=<default>,user={user}" in text, text

    # --user alone without --strict also matches the pairs that include the user.
    loose = quotas(broker, "--user", user)
    assert len(loose) == 2, loose
    assert quotas(broker, "--user", user, "--strict") == []

    ok(strata("-b", broker.bootstrap, "quota", "set", "--default-user",
              "--remove", "consumer_byte_rate"))


def test_ip_connection_creation_rate(broker):
    ip = "10.11.12.13"
    ok(strata("-b", broker.bootstrap, "quota", "set", "--ip", ip,
              "--connection-creation-rate", "10"))
    assert quotas(broker, "--ip", ip) == [
        {"entity": {"ip": ip}, "values": {"connection_creation_rate": 10.0}}]
    ok(strata("-b", broker.bootstrap, "quota", "set", "--ip", ip,
              "--remove", "connection_creation_rate"))
    assert quotas(broker, "--ip", ip) == []


def test_validate_only_changes_nothing(broker):
    user = name("carol")
    out = ok(strata("-b", broker.bootstrap, "quota", "set", "--user", user,
                    "--producer-byte-rate", "1000", "--validate-only"))
    assert out.startswith("validated quotas of"), out
    assert quotas(broker, "--user", user) == []


def test_broker_refusals_show_the_kafka_error(broker):
    # A byte rate is not a quota of an IP entity: Kafka refuses it (INVALID_REQUEST).
    res = strata("-b", broker.bootstrap, "quota", "set", "--ip", "10.0.0.9",
                 "--producer-byte-rate", "5")
    assert res.returncode != 0
    assert "INVALID_REQUEST" in res.stderr, res.stderr
    assert quotas(broker, "--ip", "10.0.0.9") == []
    # Connection creation rates are for IP entities only.
    res = strata("-b", broker.bootstrap, "quota", "set", "--user", name("dave"),
                 "--connection-creation-rate", "5")
    assert res.returncode != 0
    assert "INVALID_REQUEST" in res.stderr, res.stderr


def test_client_side_refusals_do_not_reach_the_broker(broker):
    for args, words in [
        (["--producer-byte-rate", "5"], "name the entity"),
        (["--user", "x"], "nothing to change"),
        (["--user", "x", "--remove", "bogus"], "unknown quota"),
        (["--user", "x", "--ip", "1.2.3.4", "--request-percentage", "1"], "cannot be used"),
    ]:
        res = strata("-b", broker.bootstrap, "quota", "set", *args)
        assert res.returncode != 0, args
        assert words in res.stderr, (args, res.stderr)
