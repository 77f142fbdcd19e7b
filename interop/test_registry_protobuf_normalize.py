"""PROTOBUF schemas registered with `normalize`: stored as `.proto` source text printed
from the normalised descriptor (as Confluent's registry does), with the same id as the
schema registered without normalisation."""

from __future__ import annotations

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from test_registry import produce_and_consume, protobuf_classes, unique

SOURCE = """
// An order, with comments and loose whitespace.
syntax   =   "proto3";
package shop;
import "google/protobuf/timestamp.proto";
message Order {
  int64 id = 1;     /* the id */
  string item = 2 [json_name = "itemName", deprecated = true];
  map<string, Line> lines = 3;
  google.protobuf.Timestamp at = 4;
  oneof pay { string card = 5; string cash = 6; }
  message Line { int32 qty = 1; }
}
"""

PRINTED = """syntax = "proto3";
package shop;

import "google/protobuf/timestamp.proto";

message Order {
  int64 id = 1;
  string item = 2 [deprecated = true, json_name = "itemName"];
  map<string, .shop.Order.Line> lines = 3;
  .google.protobuf.Timestamp at = 4;
  oneof pay {
    string card = 5;
    string cash = 6;
  }

  message Line {
    int32 qty = 1;
  }
}
"""


def test_normalized_protobuf_is_stored_as_proto_text_with_the_same_id(broker):
    client = SchemaRegistryClient({"url": broker.registry_url})
    normalized, plain, again = unique("pn"), unique("pp"), unique("pa")
    sid = client.register_schema(normalized, Schema(SOURCE, "PROTOBUF"), normalize_schemas=True)
    stored = client.get_latest_version(normalized).schema.schema_str
    assert stored == PRINTED
    assert client.register_schema(plain, Schema(SOURCE, "PROTOBUF")) == sid
    assert client.get_latest_version(plain).schema.schema_str == SOURCE
    # The printed text is the same schema: registering it gives the same id.
    assert client.register_schema(again, Schema(PRINTED, "PROTOBUF")) == sid
    assert client.register_schema(again, Schema(PRINTED, "PROTOBUF"),
                                  normalize_schemas=True) == sid


def test_serializer_with_normalize_schemas_round_trips(broker):
    from confluent_kafka.schema_registry.protobuf import (ProtobufDeserializer,
                                                          ProtobufSerializer)
    Order = protobuf_classes()
    client = SchemaRegistryClient({"url": broker.registry_url})
    topic = unique("pnorm")
    values = []
    for i in range(5):
        o = Order(id=i, item=f"thing-{i}")
        o.price.cents = 10 * i
        o.at.seconds = 1_700_000_000 + i
        values.append(o)
    conf = {"use.deprecated.format": False, "normalize.schemas": True}
    out = produce_and_consume(broker, topic, ProtobufSerializer(Order, client, conf),
                              ProtobufDeserializer(Order, {"use.deprecated.format": False}),
                              values)
    assert out == values
    latest = client.get_latest_version(f"{topic}-value")
    assert latest.schema.schema_str.startswith('syntax = "proto3";\npackage shop;\n')
    assert 'import "money.proto";' in latest.schema.schema_str
    assert [(r.name, r.subject) for r in latest.schema.references] == \
        [("money.proto", "money.proto")]
