"""Issue 15: the schema registry every broker serves, driven by confluent-kafka's own
SchemaRegistryClient and its Avro and JSON Schema serializers, and by raw HTTP for the
error answers Confluent's clients rely on.

One broker (`--registry` on a free port) for most tests; restarts use their own broker.
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from confluent_kafka.schema_registry import (Schema, SchemaReference, SchemaRegistryClient,
                                             SchemaRegistryError)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from broker import strata_bin

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

USER_V1 = json.dumps({
    "type": "record", "name": "User", "namespace": "com.example",
    "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"}],
})
# Adds a field without a default: a BACKWARD reader cannot fill it from v1 data.
USER_V2_BREAKING = json.dumps({
    "type": "record", "name": "User", "namespace": "com.example",
    "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"},
               {"name": "email", "type": "string"}],
})
# Adds a field with a default: BACKWARD compatible.
USER_V2_COMPATIBLE = json.dumps({
    "type": "record", "name": "User", "namespace": "com.example",
    "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"},
               {"name": "email", "type": ["null", "string"], "default": None}],
})


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def http(method: str, url: str, body: bytes | dict | None = None,
         content_type: str = CONTENT_TYPE) -> tuple[int, dict | list | int | str, str]:
    """(status, decoded JSON body, content type) of one request."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw, status, ctype = r.read(), r.status, r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        raw, status, ctype = e.read(), e.code, e.headers.get("Content-Type", "")
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = raw.decode(errors="replace")
    return status, decoded, ctype


def produce_and_consume(broker, topic: str, serializer, deserializer, values: list) -> list:
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for v in values:
        ctx = SerializationContext(topic, MessageField.VALUE)
        p.produce(topic, value=serializer(v, ctx))
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique("reg"),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out: list = []
    try:
        for _ in range(120):
            m = c.poll(0.5)
            if m is None:
                if len(out) >= len(values):
                    break
                continue
            assert m.error() is None, m.error()
            # The wire format: magic byte 0, then the schema id (big-endian int32).
            assert m.value()[0] == 0
            out.append(deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)))
            if len(out) >= len(values):
                break
    finally:
        c.close()
    return out


def test_avro_records_round_trip_through_confluents_serializers(broker):
    client = SchemaRegistryClient({"url": broker.registry_url})
    topic = unique("avro")
    values = [{"name": f"user-{i}", "age": 20 + i} for i in range(20)]
    out = produce_and_consume(broker, topic, AvroSerializer(client, USER_V1),
                              AvroDeserializer(client), values)
    assert out == values
    subject = f"{topic}-value"
    assert subject in client.get_subjects()
    latest = client.get_latest_version(subject)
    assert latest.version == 1
    # The id in every record is the one the registry gave, and it resolves to the schema.
    fetched = SchemaRegistryClient({"url": broker.registry_url}).get_schema(latest.schema_id)
    assert json.loads(fetched.schema_str) == json.loads(USER_V1)
    assert fetched.schema_type == "AVRO"


def test_json_schema_records_round_trip_through_confluents_serializers(broker):
    client = SchemaRegistryClient({"url": broker.registry_url})
    topic = unique("json")
    schema = json.dumps({
        "$schema": "http://json-schema.org/draft-07/schema#", "title": "Order",
        "type": "object",
        "properties": {"id": {"type": "integer"}, "item": {"type": "string"}},
        "required": ["id", "item"],
    })
    values = [{"id": i, "item": f"thing-{i}"} for i in range(10)]
    out = produce_and_consume(
        broker, topic, JSONSerializer(schema, client),
        JSONDeserializer(schema, schema_registry_client=client), values)
    assert out == values
    latest = client.get_latest_version(f"{topic}-value")
    assert latest.schema.schema_type == "JSON"
    # A record the schema refuses is refused by the serializer, which checks it.
    with pytest.raises(Exception):
        JSONSerializer(schema, client)({"id": "not a number"},
                                      SerializationContext(topic, MessageField.VALUE))


def test_an_incompatible_schema_fails_with_409_under_backward_and_passes_under_none(broker):
    client = SchemaRegistryClient({"url": broker.registry_url})
    subject = unique("compat")
    first = client.register_schema(subject, Schema(USER_V1, "AVRO"))
    assert client.get_compatibility() == "BACKWARD"
    assert not client.test_compatibility(subject, Schema(USER_V2_BREAKING, "AVRO"))
    assert client.test_compatibility(subject, Schema(USER_V2_COMPATIBLE, "AVRO"))
    with pytest.raises(SchemaRegistryError) as e:
        client.register_schema(subject, Schema(USER_V2_BREAKING, "AVRO"))
    assert e.value.http_status_code == 409
    assert e.value.error_code == 409
    assert "incompatible" in e.value.error_message
    assert client.get_versions(subject) == [1]
    # verbose=true says why.
    status, body, _ = http(
        "POST", f"{broker.registry_url}/compatibility/subjects/{subject}/versions/latest"
                "?verbose=true", {"schema": USER_V2_BREAKING})
    assert status == 200 and body["is_compatible"] is False and body["messages"], body
    client.set_compatibility(subject, "NONE")
    assert client.get_compatibility(subject) == "NONE"
    second = client.register_schema(subject, Schema(USER_V2_BREAKING, "AVRO"))
    assert second != first
    assert client.get_versions(subject) == [1, 2]
    # The same schema again is the same id and version: nothing new is stored.
    assert client.register_schema(subject, Schema(USER_V2_BREAKING, "AVRO")) == second
    assert client.get_versions(subject) == [1, 2]
    assert client.lookup_schema(subject, Schema(USER_V1, "AVRO")).version == 1


def test_references_resolve_and_protect_what_they_reference(broker):
    client = SchemaRegistryClient({"url": broker.registry_url})
    address_subject, person_subject = unique("address"), unique("person")
    address = json.dumps({"type": "record", "name": "Address", "namespace": "com.example",
                          "fields": [{"name": "street", "type": "string"}]})
    person = json.dumps({"type": "record", "name": "Person", "namespace": "com.example",
                         "fields": [{"name": "name", "type": "string"},
                                    {"name": "home", "type": "com.example.Address"}]})
    client.register_schema(address_subject, Schema(address, "AVRO"))
    ref = SchemaReference("com.example.Address", address_subject, 1)
    person_id = client.register_schema(person_subject, Schema(person, "AVRO", [ref]))
    got = SchemaRegistryClient({"url": broker.registry_url}).get_schema(person_id)
    assert [(r.name, r.subject, r.version) for r in got.references] == \
        [("com.example.Address", address_subject, 1)]
    status, body, _ = http("GET", f"{broker.registry_url}/subjects/{address_subject}"
                                  "/versions/1/referencedby")
    assert (status, body) == (200, [person_id])
    # A referenced version cannot be deleted (42206).
    status, body, _ = http("DELETE", f"{broker.registry_url}/subjects/{address_subject}/versions/1")
    assert status == 422 and body["error_code"] == 42206, body
    # A reference to something that does not exist is an invalid schema.
    bad = SchemaReference("com.example.Address", unique("missing"), 1)
    with pytest.raises(SchemaRegistryError) as e:
        client.register_schema(unique("person"), Schema(person, "AVRO", [bad]))
    assert e.value.error_code == 42201
    # Records serialized with the referencing schema round-trip.
    topic = unique("refs")
    ser = AvroSerializer(client, Schema(person, "AVRO", [ref]),
                         conf={"auto.register.schemas": False, "use.latest.version": False})
    client.register_schema(f"{topic}-value", Schema(person, "AVRO", [ref]))
    values = [{"name": "ann", "home": {"street": "main"}}]
    assert produce_and_consume(broker, topic, ser, AvroDeserializer(client), values) == values


def test_soft_deleted_subjects_come_back_with_deleted_true(broker):
    client = SchemaRegistryClient({"url": broker.registry_url})
    subject = unique("gone")
    schema_id = client.register_schema(subject, Schema(USER_V1, "AVRO"))
    assert client.delete_subject(subject) == [1]
    assert subject not in client.get_subjects()
    status, body, _ = http("GET", f"{broker.registry_url}/subjects?deleted=true")
    assert status == 200 and subject in body
    status, body, _ = http("GET", f"{broker.registry_url}/subjects/{subject}/versions")
    assert status == 404 and body["error_code"] == 40401
    status, body, _ = http("GET", f"{broker.registry_url}/subjects/{subject}/versions?deleted=true")
    assert (status, body) == (200, [1])
    status, body, _ = http("GET", f"{broker.registry_url}/subjects/{subject}/versions/1?deleted=true")
    assert status == 200 and body["id"] == schema_id
    # The id still resolves while a soft-deleted version uses it.
    status, body, _ = http("GET", f"{broker.registry_url}/schemas/ids/{schema_id}")
    assert status == 200
    # Soft-deleting again: 40404; hard delete then removes it for good.
    status, body, _ = http("DELETE", f"{broker.registry_url}/subjects/{subject}")
    assert status == 404 and body["error_code"] == 40404, body
    assert client.delete_subject(subject, permanent=True) == [1]
    status, body, _ = http("GET", f"{broker.registry_url}/subjects?deleted=true")
    assert subject not in body
    # Registering again starts a new version after the deleted one.
    client.register_schema(subject, Schema(USER_V1, "AVRO"))
    assert client.get_versions(subject) == [2]


def test_bad_input_gets_confluents_error_codes_and_changes_nothing(broker):
    url = broker.registry_url
    subject = unique("strict")
    status, _, ctype = http("POST", f"{url}/subjects/{subject}/versions", {"schema": USER_V1})
    assert status == 200 and ctype.startswith(CONTENT_TYPE)

    def state():
        return [http("GET", f"{url}/subjects?deleted=true")[1],
                http("GET", f"{url}/subjects/{subject}/versions?deleted=true")[1],
                http("GET", f"{url}/config/{subject}?defaultToGlobal=true")[1],
                http("GET", f"{url}/mode")[1]]

    before = state()
    cases = [
        ("POST", f"/subjects/{subject}/versions", {"schema": "{\"type\": \"recrod\"}"}, 422, 42201),
        ("POST", f"/subjects/{subject}/versions", {"schema": "not json at all"}, 422, 42201),
        ("POST", f"/subjects/{subject}/versions", {"schema": ""}, 422, 42201),
        ("POST", f"/subjects/{subject}/versions", {}, 422, 42201),
        ("POST", f"/subjects/{subject}/versions",
         {"schema": USER_V1, "schemaType": "XML"}, 422, 42201),
        ("POST", f"/subjects/{subject}/versions",
         {"schema": USER_V1, "references": "nope"}, 422, 42201),
        ("POST", f"/subjects/{subject}/versions", b"{not json", 400, 400),
        ("POST", f"/subjects/{subject}/versions", b"[1, 2]", 400, 400),
        ("POST", f"/subjects/{subject}/versions",
         {"schema": USER_V1, "id": 12345}, 422, 42205),
        ("GET", f"/subjects/{subject}/versions/abc", None, 422, 42202),
        ("GET", f"/subjects/{subject}/versions/0", None, 422, 42202),
        ("GET", f"/subjects/{subject}/versions/99999999999", None, 422, 42202),
        ("GET", f"/subjects/{subject}/versions/7", None, 404, 40402),
        ("GET", f"/subjects/{unique('none')}/versions/1", None, 404, 40401),
        ("GET", "/schemas/ids/987654", None, 404, 40403),
        ("GET", "/schemas/ids/-1", None, 404, 40403),
        ("POST", f"/subjects/{subject}", {"schema": USER_V2_BREAKING}, 404, 40403),
        ("PUT", f"/config/{subject}", {"compatibility": "SIDEWAYS"}, 422, 42203),
        ("PUT", "/config", {"compat": "NONE"}, 422, 42203),
        ("PUT", "/mode", {"mode": "READSOMETIMES"}, 422, 42204),
        ("DELETE", f"/subjects/{subject}?permanent=true", None, 404, 40405),
        ("DELETE", f"/subjects/{subject}/versions/1?permanent=true", None, 404, 40407),
        ("GET", f"/config/{subject}", None, 404, 40408),
        ("GET", "/no/such/route", None, 404, 404),
    ]
    for method, path, body, want_status, want_code in cases:
        status, answer, ctype = http(method, url + path, body)
        assert (status, isinstance(answer, dict) and answer.get("error_code")) == \
            (want_status, want_code), (method, path, body, answer)
        assert answer["message"], answer
        assert ctype.startswith(CONTENT_TYPE), ctype
    # A body over http.max.request.bytes (1 MiB) is refused before it is read whole.
    huge = json.dumps({"schema": json.dumps({"type": "enum", "name": "E", "symbols":
                                             [f"S{i}" for i in range(200_000)]})}).encode()
    with socket.create_connection(("127.0.0.1", broker.registry_port), timeout=10) as sock:
        sock.sendall(f"POST /subjects/{subject}/versions HTTP/1.1\r\nHost: x\r\n"
                     f"Content-Type: {CONTENT_TYPE}\r\nContent-Length: {len(huge)}\r\n\r\n"
                     .encode() + huge[:1000])
        answer = sock.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer
    assert state() == before


def test_the_registry_answers_the_media_types_clients_send(broker):
    url = broker.registry_url
    subject = unique("media")
    for ctype in (CONTENT_TYPE, "application/vnd.schemaregistry+json", "application/json",
                  "application/octet-stream"):
        status, body, answer_type = http("POST", f"{url}/subjects/{subject}/versions",
                                         {"schema": USER_V1}, content_type=ctype)
        assert status == 200 and "id" in body, (ctype, body)
        assert answer_type.startswith(CONTENT_TYPE)
    status, body, _ = http("GET", f"{url}/schemas/types")
    assert status == 200 and {"AVRO", "JSON"} <= set(body)
    status, body, _ = http("GET", f"{url}/subjects/{subject}/versions/latest/schema")
    assert status == 200 and body == json.loads(USER_V1)


def test_registered_schemas_survive_restart_and_kill9(broker_factory):
    b = broker_factory("registry-restart")
    client = SchemaRegistryClient({"url": b.registry_url})
    ids = {}
    for i in range(5):
        schema = json.dumps({"type": "record", "name": f"R{i}", "fields": [
            {"name": "f", "type": "string"}]})
        ids[f"s{i}"] = (client.register_schema(f"s{i}", Schema(schema, "AVRO")), schema)
    client.set_compatibility("s0", "FULL")
    b.stop()
    b.start()
    fresh = SchemaRegistryClient({"url": b.registry_url})
    for subject, (schema_id, schema) in ids.items():
        assert json.loads(fresh.get_schema(schema_id).schema_str) == json.loads(schema)
        assert fresh.get_latest_version(subject).schema_id == schema_id
    assert fresh.get_compatibility("s0") == "FULL"
    b.kill()
    b.start()
    fresh = SchemaRegistryClient({"url": b.registry_url})
    assert sorted(fresh.get_subjects()) == sorted(ids)
    # Ids are never reused: the next one follows the highest.
    new_id = fresh.register_schema("s-new", Schema('"string"', "AVRO"))
    assert new_id == max(i for i, _ in ids.values()) + 1


def strata_schema(broker, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(strata_bin()), "--format", "json", "schema", "-r",
                           broker.registry_url, *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_the_schema_command_line(broker, tmp_path):
    subject = unique("cli")
    v1 = tmp_path / "v1.avsc"
    v1.write_text(USER_V1)
    r = strata_schema(broker, "register", subject, "--file", str(v1))
    assert r.returncode == 0, r.stderr
    schema_id = json.loads(r.stdout)["id"]
    # What the CLI registered, a real client reads.
    client = SchemaRegistryClient({"url": broker.registry_url})
    assert client.get_latest_version(subject).schema_id == schema_id
    r = strata_schema(broker, "get", subject)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert (got["subject"], got["version"], got["id"]) == (subject, 1, schema_id)
    r = strata_schema(broker, "get", "--id", str(schema_id))
    assert json.loads(json.loads(r.stdout)["schema"]) == json.loads(USER_V1)
    r = strata_schema(broker, "list", "--prefix", subject)
    assert json.loads(r.stdout) == [subject]
    # An incompatible schema: `check` says why and exits 1; `register` fails naming 409.
    r = strata_schema(broker, "check", subject, "--file", "-", stdin=USER_V2_BREAKING)
    assert r.returncode == 1 and json.loads(r.stdout)["is_compatible"] is False, r
    assert json.loads(r.stdout)["messages"]
    r = strata_schema(broker, "register", subject, "--schema", USER_V2_BREAKING)
    assert r.returncode == 1 and "409" in r.stderr and "incompatible" in r.stderr, r.stderr
    r = strata_schema(broker, "check", subject, "--schema", USER_V2_COMPATIBLE)
    assert r.returncode == 0 and json.loads(r.stdout)["is_compatible"] is True, r
    r = strata_schema(broker, "config", subject, "--set", "full_transitive")
    assert json.loads(r.stdout) == {"compatibility": "FULL_TRANSITIVE"}, r
    r = strata_schema(broker, "config", subject)
    assert json.loads(r.stdout) == {"compatibilityLevel": "FULL_TRANSITIVE"}
    r = strata_schema(broker, "config", subject, "--set", "SIDEWAYS")
    assert r.returncode == 1 and "42203" in r.stderr, r.stderr
    r = strata_schema(broker, "mode")
    assert json.loads(r.stdout) == {"mode": "READWRITE"}
    r = strata_schema(broker, "delete", subject)
    assert json.loads(r.stdout) == [1]
    r = strata_schema(broker, "get", subject)
    assert r.returncode == 1 and "40401" in r.stderr, r.stderr
    # A bad registry URL is a clear error.
    r = subprocess.run([str(strata_bin()), "schema", "-r", "ftp://x", "list"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "http://" in r.stderr, r.stderr


def produce_raw(broker, topic: str, values: list[bytes | None]) -> list:
    """Delivery errors (None for delivered) of `values` produced one per batch."""
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0,
                  "message.send.max.retries": 0})
    results: list = []
    for v in values:
        p.produce(topic, value=v, key=b"k",
                  on_delivery=lambda err, _msg: results.append(err))
        assert p.flush(30) == 0
    return [None if e is None else e.code() for e in results]


def test_broker_side_validation_refuses_records_without_a_registered_schema_id(broker):
    client = SchemaRegistryClient({"url": broker.registry_url})
    topic, by_record = unique("validated"), unique("by-record")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([
        NewTopic(topic, 1, 1, config={"confluent.value.schema.validation": "true"}),
        NewTopic(by_record, 1, 1, config={
            "confluent.value.schema.validation": "true",
            "confluent.value.subject.name.strategy":
                "io.confluent.kafka.serializers.subject.RecordNameStrategy"}),
    ])
    for f in futures.values():
        f.result(30)
    serialize = AvroSerializer(client, USER_V1)
    good = serialize({"name": "a", "age": 1}, SerializationContext(topic, MessageField.VALUE))
    good_id = int.from_bytes(good[1:5], "big")
    other = client.register_schema(unique("elsewhere"), Schema('"string"', "AVRO"))
    unregistered = b"\x00" + (987654).to_bytes(4, "big") + b"payload"
    elsewhere = b"\x00" + other.to_bytes(4, "big") + b"\x02x"
    codes = produce_raw(broker, topic, [good, b"plain text", unregistered, elsewhere, None,
                                        b"\x00\x00"])
    invalid = KafkaError.INVALID_RECORD
    assert codes == [None, invalid, invalid, invalid, None, invalid], codes
    # Only the good record and the tombstone were stored.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique("v"),
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    for _ in range(40):
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value())
        if len(got) == 2:
            break
    c.close()
    assert got == [good, None]
    # One batch of ten with three bad records: those three fail with INVALID_RECORD
    # (Produce v8+ record_errors, KIP-467), the seven good ones as collateral, as
    # librdkafka reports them against Kafka.
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 2000,
                  "batch.num.messages": 1000, "enable.idempotence": False,
                  "message.send.max.retries": 0})
    reports: dict = {}
    bad = {2: b"plain text", 5: unregistered, 8: elsewhere}
    for i in range(10):
        p.produce(topic, value=bad.get(i, good), key=b"k", partition=0,
                  on_delivery=lambda err, _m, i=i: reports.__setitem__(i, err))
    assert p.flush(30) == 0
    assert sorted(reports) == list(range(10))
    for i, err in reports.items():
        assert err is not None, i
        want = invalid if i in bad else KafkaError._INVALID_DIFFERENT_RECORD
        assert err.code() == want, (i, err)

    # RecordNameStrategy: the subject is the record's full name.
    assert produce_raw(broker, by_record, [good]) == [invalid]
    client.register_schema("com.example.User", Schema(USER_V1, "AVRO"))
    assert produce_raw(broker, by_record, [good]) == [None]
    # The settings are topic configs like any other.
    res = admin.describe_configs([ConfigResource("TOPIC", topic)])
    entries = list(res.values())[0].result(30)
    assert entries["confluent.value.schema.validation"].value == "true"
    assert entries["confluent.key.schema.validation"].value == "false"


def protobuf_classes():
    """Message classes built at run time (no protoc): shop.Order in order.proto, which
    imports shop.Money from money.proto and google.protobuf.Timestamp."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf import timestamp_pb2  # noqa: F401 (registers the well-known file)
    F = descriptor_pb2.FieldDescriptorProto
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    money = descriptor_pb2.FileDescriptorProto(name="money.proto", package="shop",
                                               syntax="proto3")
    m = money.message_type.add(name="Money")
    m.field.add(name="cents", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    m.field.add(name="currency", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    pool.AddSerializedFile(money.SerializeToString())
    order = descriptor_pb2.FileDescriptorProto(
        name="order.proto", package="shop", syntax="proto3",
        dependency=["money.proto", "google/protobuf/timestamp.proto"])
    o = order.message_type.add(name="Order")
    o.field.add(name="id", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    o.field.add(name="item", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    o.field.add(name="price", number=3, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                type_name=".shop.Money")
    o.field.add(name="at", number=4, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                type_name=".google.protobuf.Timestamp")
    pool.AddSerializedFile(order.SerializeToString())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Order"))


def test_protobuf_records_round_trip_through_confluents_serializers(broker):
    from confluent_kafka.schema_registry.protobuf import (ProtobufDeserializer,
                                                          ProtobufSerializer)
    Order = protobuf_classes()
    client = SchemaRegistryClient({"url": broker.registry_url})
    topic = unique("proto")
    values = []
    for i in range(10):
        o = Order(id=i, item=f"thing-{i}")
        o.price.cents = 100 * i
        o.price.currency = "EUR"
        o.at.seconds = 1_700_000_000 + i
        values.append(o)
    out = produce_and_consume(
        broker, topic, ProtobufSerializer(Order, client, {"use.deprecated.format": False}),
        ProtobufDeserializer(Order, {"use.deprecated.format": False}), values)
    assert out == values
    # The import became a reference to its own subject; the well-known type did not.
    latest = client.get_latest_version(f"{topic}-value")
    assert latest.schema.schema_type == "PROTOBUF"
    assert [(r.name, r.subject) for r in latest.schema.references] == \
        [("money.proto", "money.proto")]
    status, body, _ = http("GET", f"{broker.registry_url}/schemas/types")
    assert "PROTOBUF" in body
    # A field whose type changes is incompatible; a new field is not.
    with_new_field = """
        syntax = "proto3";
        package shop;
        import "money.proto";
        import "google/protobuf/timestamp.proto";
        message Order {
          int64 id = 1;
          string item = 2;
          Money price = 3;
          google.protobuf.Timestamp at = 4;
          string note = 5;
        }
    """
    refs = [SchemaReference("money.proto", "money.proto", 1)]
    assert client.test_compatibility(f"{topic}-value", Schema(with_new_field, "PROTOBUF", refs))
    changed_type = with_new_field.replace("string item = 2;", "Money item = 2;")
    assert not client.test_compatibility(f"{topic}-value",
                                         Schema(changed_type, "PROTOBUF", refs))
    status, body, _ = http("POST", f"{broker.registry_url}/subjects/{unique('p')}/versions",
                           {"schema": "syntax = \"proto3\"; message {", "schemaType": "PROTOBUF"})
    assert status == 422 and body["error_code"] == 42201, body
