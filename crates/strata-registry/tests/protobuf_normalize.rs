//! PROTOBUF `normalize`: the stored text is `.proto` source printed from the normalised
//! descriptor, and it compiles back to the same canonical form (the identity).

use strata_registry::{ParsedSchema, SchemaType};

type Refs = &'static [(&'static str, &'static str)];

const MONEY: &str = r#"syntax = "proto3"; package fin; message Money { string currency = 1; int64 units = 2; } enum Currency { CUR_UNKNOWN = 0; EUR = 1; }"#;
const COMMON2: &str = r#"syntax = "proto2"; package common; message Base { optional int32 id = 1; extensions 100 to 199; }"#;

/// `(case name, schema text, references)`.
const CASES: &[(&str, &str, Refs)] = &[
    ("empty proto3", r#"syntax = "proto3";"#, &[]),
    (
        "proto3 scalars",
        r#"syntax = "proto3"; package a.b; message M { double d = 1; float f = 2; int64 i64 = 3; uint64 u64 = 4; int32 i32 = 5; fixed64 f64 = 6; fixed32 f32 = 7; bool b = 8; string s = 9; bytes by = 10; uint32 u32 = 11; sfixed32 sf32 = 12; sfixed64 sf64 = 13; sint32 si32 = 14; sint64 si64 = 15; }"#,
        &[],
    ),
    (
        "no package, empty message",
        r#"syntax = "proto3"; message Empty {} message Other { Empty e = 1; }"#,
        &[],
    ),
    (
        "nested messages and enums",
        r#"
        syntax = "proto3";
        package com.acme;
        message Outer {
          enum Kind { KIND_UNKNOWN = 0; KIND_A = 1; }
          message Middle {
            message Inner { Kind kind = 1; repeated Inner children = 2; }
            Inner inner = 1;
            Outer.Kind k = 2;
          }
          Middle m = 1;
          Middle.Inner direct = 2;
        }
        enum Top { TOP_UNKNOWN = 0; }
    "#,
        &[],
    ),
    (
        "enum with aliases and negative values",
        r#"
        syntax = "proto3";
        enum E { option allow_alias = true; E_ZERO = 0; E_ONE = 1; E_UNO = 1; E_NEG = -5 [deprecated = true]; }
        message M { E e = 1; }
    "#,
        &[],
    ),
    (
        "oneofs interleaved with fields",
        r#"
        syntax = "proto3";
        package p;
        message M {
          string a = 1;
          oneof first { string x = 2; int32 y = 3; M nested = 4; }
          int32 b = 5;
          oneof second { bytes z = 6; }
          string c = 7;
        }
    "#,
        &[],
    ),
    (
        "maps, also of messages and enums, before and after nested types",
        r#"
        syntax = "proto3";
        package p;
        message M {
          message Before { int32 v = 1; }
          map<string, Before> by_name = 1;
          map<int64, string> plain = 2;
          message After { map<bool, After> self_map = 1; }
          map<uint32, After> after = 3;
          enum Color { COLOR_UNKNOWN = 0; }
          map<sint64, Color> colors = 4;
          message Last {}
        }
    "#,
        &[],
    ),
    (
        "repeated and packed",
        r#"
        syntax = "proto3";
        message M {
          repeated int32 a = 1;
          repeated int32 b = 2 [packed = false];
          repeated string c = 3;
          repeated M d = 4 [deprecated = true];
        }
    "#,
        &[],
    ),
    (
        "reserved ranges and names",
        r#"
        syntax = "proto3";
        message M {
          reserved 2, 15, 9 to 11, 40 to max;
          reserved "foo", "bar";
          string a = 1;
        }
        enum E { reserved 3, 5 to 7, 100 to max; reserved "OLD"; E_ZERO = 0; }
    "#,
        &[],
    ),
    (
        "well-known types",
        r#"
        syntax = "proto3";
        package evt;
        import "google/protobuf/timestamp.proto";
        import "google/protobuf/duration.proto";
        import "google/protobuf/any.proto";
        import "google/protobuf/wrappers.proto";
        import "google/protobuf/struct.proto";
        message Event {
          google.protobuf.Timestamp at = 1;
          .google.protobuf.Duration took = 2;
          google.protobuf.Any payload = 3;
          google.protobuf.StringValue note = 4;
          google.protobuf.Struct extra = 5;
          map<string, google.protobuf.Value> values = 6;
        }
    "#,
        &[],
    ),
    (
        "references by import name",
        r#"
        syntax = "proto3";
        package shop;
        import "money.proto";
        message Item { string name = 1; fin.Money price = 2; fin.Currency currency = 3; map<string, fin.Money> prices = 4; }
    "#,
        &[("money.proto", MONEY)],
    ),
    (
        "public import",
        r#"
        syntax = "proto3";
        package shop;
        import public "money.proto";
        message Item { fin.Money price = 1; }
    "#,
        &[("money.proto", MONEY)],
    ),
    (
        "services and streaming rpcs",
        r#"
        syntax = "proto3";
        package svc;
        message Req { string q = 1; }
        message Resp { repeated string r = 1; }
        service Search {
          option deprecated = true;
          rpc Find (Req) returns (Resp);
          rpc Watch (stream Req) returns (stream Resp) { option idempotency_level = NO_SIDE_EFFECTS; }
          rpc Push (stream Req) returns (Resp) { option deprecated = true; }
        }
        service Empty {}
    "#,
        &[],
    ),
    (
        "proto3 optional",
        r#"
        syntax = "proto3";
        message M {
          optional string a = 1;
          oneof real { int32 r = 2; }
          optional M b = 3;
          optional int64 _c = 4;
          string plain = 5;
        }
    "#,
        &[],
    ),
    (
        "file options",
        r#"
        syntax = "proto3";
        package opts;
        option java_package = "com.acme.opts";
        option java_outer_classname = "OptsProto";
        option java_multiple_files = true;
        option go_package = "github.com/acme/opts;opts";
        option csharp_namespace = "Acme.Opts";
        option optimize_for = CODE_SIZE;
        option objc_class_prefix = "AOP";
        option php_namespace = "Acme\\Opts";
        option ruby_package = "Acme::Opts";
        option cc_enable_arenas = true;
        option deprecated = true;
        message M { option deprecated = true; string s = 1 [json_name = "S_custom", deprecated = true]; int64 big = 2 [jstype = JS_STRING]; }
    "#,
        &[],
    ),
    (
        "proto2 labels and defaults with escapes",
        r#"
        syntax = "proto2";
        package legacy;
        message M {
          required int32 id = 1;
          optional string name = 2 [default = "a \"quoted\" \\ back\\slash\n\ttab 'single' \001 ünï"];
          optional bytes raw = 3 [default = "\000\001\xff\"\\z"];
          optional double d = 4 [default = -1.5e10];
          optional float inf = 5 [default = inf];
          optional float ninf = 6 [default = -inf];
          optional double nan = 7 [default = nan];
          optional bool flag = 8 [default = true];
          optional Kind kind = 9 [default = KIND_B];
          optional int64 neg = 10 [default = -9223372036854775808];
          optional uint64 big = 11 [default = 18446744073709551615];
          optional string empty = 12 [default = ""];
          repeated int32 packed = 13 [packed = true];
          enum Kind { KIND_A = 1; KIND_B = 2; }
        }
    "#,
        &[],
    ),
    (
        "proto2 without syntax line",
        r#"
        package legacy;
        message M { optional int32 a = 1; repeated string b = 2; }
    "#,
        &[],
    ),
    (
        "proto2 extensions",
        r#"
        syntax = "proto2";
        package ext;
        message Base {
          optional int32 id = 1;
          extensions 100 to 199, 500, 1000 to max;
          extend Other { optional string from_base = 10; }
        }
        message Other { optional int32 x = 1; extensions 10 to 20; }
        extend Base { optional string tag = 100; repeated int32 nums = 101; }
        extend Other { optional Base base = 11; }
        extend Base { optional bool flag = 500 [default = true]; }
    "#,
        &[],
    ),
    (
        "proto2 extension of a referenced message",
        r#"
        syntax = "proto2";
        package mine;
        import "common.proto";
        extend common.Base { optional string note = 150; }
        message Holder { optional common.Base base = 1; }
    "#,
        &[("common.proto", COMMON2)],
    ),
    (
        "proto2 groups and oneofs",
        r#"
        syntax = "proto2";
        message M {
          message Before { optional int32 v = 1; }
          optional group Result = 1 { optional string url = 2; repeated group Inner = 3 { optional int32 x = 4; } }
          repeated group Item = 5 { required int32 n = 6; }
          oneof choice { string s = 7; group Pick = 8 { optional int32 p = 9; } }
          map<string, Before> m = 10;
        }
    "#,
        &[],
    ),
    (
        "custom option definitions (not uses)",
        r#"
        syntax = "proto3";
        package defs;
        import "google/protobuf/descriptor.proto";
        extend google.protobuf.FieldOptions { string sensitivity = 50001; }
        extend google.protobuf.MessageOptions { optional int32 level = 50002; repeated string tags = 50003; }
        message M { string s = 1; }
    "#,
        &[],
    ),
    (
        "names needing qualification",
        r#"
        syntax = "proto3";
        package a.b;
        message B { int32 x = 1; }
        message A {
          message B { string y = 1; }
          B inner = 1;
          .a.b.B outer = 2;
        }
    "#,
        &[],
    ),
];

fn refs(r: Refs) -> Vec<(String, String)> {
    r.iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

fn parse(text: &str, r: Refs) -> ParsedSchema {
    ParsedSchema::parse(SchemaType::Protobuf, text, vec![], &refs(r))
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The text stored for a `normalize` registration.
fn normalized(text: &str, r: Refs) -> (ParsedSchema, String) {
    let p = parse(text, r);
    let stored = p.stored_text(text, true);
    (p, stored)
}

#[test]
fn printed_text_compiles_back_to_the_same_identity() {
    for (name, text, r) in CASES {
        let (p, stored) = normalized(text, r);
        assert_ne!(
            stored,
            p.canonical(),
            "{name}: fell back to the base64 form"
        );
        assert!(stored.starts_with("syntax = \"proto"), "{name}:\n{stored}");
        let again = parse(&stored, r);
        assert_eq!(again.canonical(), p.canonical(), "{name}:\n{stored}");
        // Printing is a fixed point: normalising the printed text prints it again.
        assert_eq!(again.stored_text(&stored, true), stored, "{name}");
        assert_eq!(p.stored_text(text, false), *text, "{name}");
    }
}

#[test]
fn printed_text_is_the_same_for_equivalent_inputs() {
    let a = r#"
        syntax = "proto3";
        package p; // the package
        import "google/protobuf/timestamp.proto";
        /* a message */
        message M {
          string s = 1 [deprecated = true, json_name = "x"];
          google.protobuf.Timestamp t = 2;
          map<string, M> m = 3;
        }
    "#;
    let b = "syntax='proto3';package p;import 'google/protobuf/timestamp.proto';\
             message M{string s=1[json_name='x',deprecated=true];.google.protobuf.Timestamp t=2;\
             map<string,.p.M>m=3;}";
    let (pa, sa) = normalized(a, &[]);
    let (pb, sb) = normalized(b, &[]);
    assert_eq!(pa.canonical(), pb.canonical());
    assert_eq!(sa, sb);
    assert_eq!(
        sa,
        "syntax = \"proto3\";\n\
         package p;\n\
         \n\
         import \"google/protobuf/timestamp.proto\";\n\
         \n\
         message M {\n\
         \x20 string s = 1 [deprecated = true, json_name = \"x\"];\n\
         \x20 .google.protobuf.Timestamp t = 2;\n\
         \x20 map<string, .p.M> m = 3;\n\
         }\n"
    );
}

#[test]
fn layout_of_a_typical_schema() {
    let text = r#"
        syntax = "proto3";
        package com.acme;
        option java_package = "com.acme.gen";
        option go_package = "acme/gen";
        message User {
          reserved 4, 8 to 10;
          reserved "old";
          string name = 1;
          optional int32 age = 2;
          oneof contact { string email = 3; string phone = 5; }
          Kind kind = 6;
          enum Kind { KIND_UNKNOWN = 0; KIND_ADMIN = 1; }
          message Empty {}
        }
        service Users { rpc Get (User) returns (User); }
    "#;
    let (_, stored) = normalized(text, &[]);
    let want = r#"syntax = "proto3";
package com.acme;

option go_package = "acme/gen";
option java_package = "com.acme.gen";

message User {
  reserved 4, 8 to 10;
  reserved "old";

  string name = 1;
  optional int32 age = 2;
  oneof contact {
    string email = 3;
    string phone = 5;
  }
  .com.acme.User.Kind kind = 6;

  message Empty {}
  enum Kind {
    KIND_UNKNOWN = 0;
    KIND_ADMIN = 1;
  }
}

service Users {
  rpc Get (.com.acme.User) returns (.com.acme.User);
}
"#;
    assert_eq!(stored, want);
}

#[test]
fn descriptor_input_prints_the_same_text_as_source_input() {
    for (name, text, r) in CASES {
        let (p, stored) = normalized(text, r);
        let (q, from_b64) = normalized(p.canonical(), r);
        assert_eq!(q.canonical(), p.canonical(), "{name}");
        assert_eq!(from_b64, stored, "{name}");
    }
}

#[test]
fn custom_option_uses_fall_back_to_the_base64_form() {
    let defs = r#"syntax = "proto3"; package defs; import "google/protobuf/descriptor.proto";
        extend google.protobuf.FieldOptions { string sensitivity = 50001; }
        extend google.protobuf.FileOptions { int32 tier = 50002; }"#;
    let uses = [
        r#"syntax = "proto3"; import "defs.proto"; message M { string s = 1 [(defs.sensitivity) = "pii"]; }"#,
        r#"syntax = "proto3"; import "defs.proto"; option (defs.tier) = 3; message M { string s = 1; }"#,
    ];
    let refs = vec![("defs.proto".to_string(), defs.to_string())];
    for text in uses {
        let p = ParsedSchema::parse(SchemaType::Protobuf, text, vec![], &refs).unwrap();
        let stored = p.stored_text(text, true);
        assert_eq!(stored, p.canonical(), "{text}");
        let again = ParsedSchema::parse(SchemaType::Protobuf, &stored, vec![], &refs).unwrap();
        assert_eq!(again.canonical(), p.canonical());
    }
}

/// A serialized descriptor, as a client sends it.
fn b64(file: &prost_types::FileDescriptorProto) -> String {
    strata_registry::protobuf::encode_descriptor(file)
}

fn field(name: &str, number: i32, oneof: Option<i32>) -> prost_types::FieldDescriptorProto {
    prost_types::FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        label: Some(prost_types::field_descriptor_proto::Label::Optional as i32),
        r#type: Some(prost_types::field_descriptor_proto::Type::String as i32),
        oneof_index: oneof,
        ..Default::default()
    }
}

#[test]
fn descriptors_text_cannot_express_fall_back_to_the_base64_form() {
    // A oneof whose fields are not contiguous: source text cannot keep that order.
    let scattered = prost_types::FileDescriptorProto {
        name: Some("x.proto".into()),
        syntax: Some("proto3".into()),
        message_type: vec![prost_types::DescriptorProto {
            name: Some("M".into()),
            field: vec![
                field("a", 1, Some(0)),
                field("b", 2, None),
                field("c", 3, Some(0)),
            ],
            oneof_decl: vec![prost_types::OneofDescriptorProto {
                name: Some("o".into()),
                options: None,
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    // Messages nested deeper than source text may nest brackets.
    let mut deep = prost_types::DescriptorProto {
        name: Some("N".into()),
        ..Default::default()
    };
    for _ in 0..80 {
        deep = prost_types::DescriptorProto {
            name: Some("N".into()),
            nested_type: vec![deep],
            ..Default::default()
        };
    }
    let deep = prost_types::FileDescriptorProto {
        name: Some("y.proto".into()),
        syntax: Some("proto3".into()),
        message_type: vec![deep],
        ..Default::default()
    };
    for file in [scattered, deep] {
        let text = b64(&file);
        let (p, stored) = normalized(&text, &[]);
        assert_eq!(stored, p.canonical());
        assert_eq!(parse(&stored, &[]).canonical(), p.canonical());
    }
}

#[test]
fn a_nesting_source_text_allows_is_printed() {
    let mut text = String::from("syntax = \"proto3\"; ");
    for _ in 0..40 {
        text.push_str("message N { ");
    }
    text.push_str(&"}".repeat(40));
    let (p, stored) = normalized(&text, &[]);
    assert_ne!(stored, p.canonical());
    assert_eq!(parse(&stored, &[]).canonical(), p.canonical());
}

#[test]
fn maps_oneofs_and_field_options_layout() {
    let text = r#"
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
    "#;
    let want = r#"syntax = "proto3";
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
"#;
    let (p, stored) = normalized(text, &[]);
    assert_eq!(stored, want);
    assert_eq!(parse(want, &[]).canonical(), p.canonical());
}
