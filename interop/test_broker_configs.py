"""Broker configs (issue 17): DescribeConfigs on a BROKER reports every key Kafka 4.0
reports, with the broker's real listeners; every Kafka broker key is accepted statically
(`--set`), the dynamic ones by IncrementalAlterConfigs, read-only and unknown keys are
refused as Kafka refuses them, passwords are reported sensitive with no value."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource,
                                   ResourceType)
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType, KafkaAdminClient

from broker import Broker
from clients import admin

T = 15  # seconds, for every admin future

EXTRA_ARGS = ["--set", "sasl.kerberos.min.time.before.relogin=120000",
              "--set", "ssl.keystore.password=hunter2",
              "--set", "num.replica.fetchers=3"]


@pytest.fixture(scope="module")
def bc_broker(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("broker_configs"), "broker_configs", EXTRA_ARGS)
    b.start()
    yield b
    b.assert_alive()
    code = b.stop()
    assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


def describe(bootstrap: str) -> dict[str, ConfigEntry]:
    a = admin(bootstrap)  # must outlive the futures
    res = ConfigResource(ResourceType.BROKER, "1")
    fs = a.describe_configs([res], request_timeout=T)
    return fs[res].result(timeout=T)


def alter(bootstrap: str, key: str, value: str):
    a = admin(bootstrap)
    res = ConfigResource(ResourceType.BROKER, "1", incremental_configs=[
        ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)])
    fs = a.incremental_alter_configs([res], request_timeout=T)
    return fs[res].result(timeout=T)


def test_describe_reports_every_key_with_real_listeners(bc_broker):
    cfg = describe(bc_broker.bootstrap)
    assert len(cfg) >= 250, len(cfg)
    want = f"PLAINTEXT://{bc_broker.bootstrap}"
    assert cfg["listeners"].value == want
    assert cfg["advertised.listeners"].value == want
    assert cfg["advertised.listeners"].is_read_only
    assert cfg["listener.security.protocol.map"].value == "PLAINTEXT:PLAINTEXT"
    assert cfg["inter.broker.listener.name"].value == "PLAINTEXT"
    assert cfg["node.id"].value == "1" and cfg["broker.id"].value == "1"
    assert cfg["log.dirs"].value == str(bc_broker.data_dir)
    assert cfg["process.roles"].value == "broker,controller"
    # Kafka keys Strata keeps: static when set, Kafka's default otherwise.
    relogin = cfg["sasl.kerberos.min.time.before.relogin"]
    assert relogin.value == "120000"
    assert relogin.source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert cfg["num.replica.fetchers"].value == "3"
    assert cfg["num.io.threads"].value == "8"
    assert cfg["num.io.threads"].source == ConfigSource.DEFAULT_CONFIG.value
    # A password: sensitive, no value.
    pw = cfg["ssl.keystore.password"]
    assert pw.is_sensitive and pw.value is None


def test_kafka_python_sees_the_same(bc_broker):
    a = KafkaAdminClient(bootstrap_servers=bc_broker.bootstrap)
    try:
        res = KpConfigResource(ConfigResourceType.BROKER, "1")
        got = a.describe_configs([res], config_filter="all")["broker"]["1"]
        assert len(got) >= 250, len(got)
        assert got["listeners"]["value"] == f"PLAINTEXT://{bc_broker.bootstrap}"
        assert got["sasl.kerberos.min.time.before.relogin"]["value"] == "120000"
        assert got["ssl.keystore.password"]["value"] is None
        assert got["ssl.keystore.password"]["is_sensitive"]
    finally:
        a.close()


def test_dynamic_per_broker_key_is_accepted(bc_broker):
    bs = bc_broker.bootstrap
    alter(bs, "sasl.kerberos.min.time.before.relogin", "90000")
    e = describe(bs)["sasl.kerberos.min.time.before.relogin"]
    assert e.value == "90000"
    assert e.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value


def test_read_only_key_is_refused_like_kafka(bc_broker):
    with pytest.raises(KafkaException) as ei:
        alter(bc_broker.bootstrap, "log.dirs", "/elsewhere")
    err = ei.value.args[0]
    assert err.code() == KafkaError.INVALID_REQUEST, err
    assert "cannot be updated dynamically" in err.str()


def test_bogus_key_is_refused(bc_broker):
    with pytest.raises(KafkaException) as ei:
        alter(bc_broker.bootstrap, "bogus.key", "1")
    err = ei.value.args[0]
    assert err.code() == KafkaError.INVALID_CONFIG, err
    assert "bogus.key" in err.str()


def test_unknown_static_key_is_refused(tmp_path):
    b = Broker(tmp_path, "bogus_static", ["--set", "bogus.key=1"])
    with pytest.raises(Exception):
        b.start(timeout=10)
    b.proc and b.proc.poll() is None and b.stop()
    assert "bogus.key" in b.log_tail()
