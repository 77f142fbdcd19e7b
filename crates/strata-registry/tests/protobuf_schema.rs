//! PROTOBUF parsing: both input forms, canonical form, references, bad input.

use prost::Message;
use strata_registry::protobuf::encode_descriptor;
use strata_registry::{ParsedSchema, SchemaType};

const USER: &str = r#"
syntax = "proto3";
package com.acme;

import "google/protobuf/timestamp.proto";

// A user.
message User {
  string user_name = 1;
  int64 id = 2;
  repeated string tags = 3;
  google.protobuf.Timestamp created = 4;
  Address address = 5;
  optional string nick = 6;
  oneof contact {
    string email = 7;
    string phone = 8;
  }
  map<string, int32> scores = 9;
  Kind kind = 10;
  message Address { string city = 1; }
  enum Kind { KIND_UNKNOWN = 0; KIND_ADMIN = 1; }
}
"#;

fn parse(text: &str) -> Result<ParsedSchema, strata_registry::RegistryError> {
    ParsedSchema::parse(SchemaType::Protobuf, text, vec![], &[])
}

fn parse_refs(
    text: &str,
    refs: &[(&str, &str)],
) -> Result<ParsedSchema, strata_registry::RegistryError> {
    let refs: Vec<(String, String)> = refs
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    ParsedSchema::parse(SchemaType::Protobuf, text, vec![], &refs)
}

/// The descriptor a client would send: compiled under its own file name, with source
/// info and `json_name` filled in, base64-encoded.
fn client_descriptor(file_name: &str, text: &str, extra: &[(&str, &str)]) -> String {
    let mut files = protox::file::ChainFileResolver::new();
    let mut map = std::collections::HashMap::new();
    map.insert(file_name.to_string(), text.to_string());
    for (n, t) in extra {
        map.insert(n.to_string(), t.to_string());
    }
    struct Mem(std::collections::HashMap<String, String>);
    impl protox::file::FileResolver for Mem {
        fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
            match self.0.get(name) {
                Some(t) => protox::file::File::from_source(name, t),
                None => Err(protox::Error::file_not_found(name)),
            }
        }
    }
    files.add(Mem(map));
    files.add(protox::file::GoogleFileResolver::new());
    let mut c = protox::Compiler::with_file_resolver(files);
    c.include_source_info(true).open_file(file_name).unwrap();
    let set = c.file_descriptor_set();
    let fd = set.file.iter().find(|f| f.name() == file_name).unwrap();
    assert!(fd.source_code_info.is_some());
    encode_descriptor(fd)
}

#[test]
fn text_and_descriptor_share_the_canonical_form() {
    let text = parse(USER).unwrap();
    let b64 = client_descriptor("user.proto", USER, &[]);
    let desc = parse(&b64).unwrap();
    assert_eq!(text.canonical(), desc.canonical());
    assert_eq!(text.record_name().as_deref(), Some("com.acme.User"));
    assert_eq!(desc.record_name().as_deref(), Some("com.acme.User"));
    // Padding-less and line-wrapped base64 is the same descriptor.
    let wrapped: String = b64
        .trim_end_matches('=')
        .as_bytes()
        .chunks(60)
        .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
        .collect();
    assert_eq!(parse(&wrapped).unwrap().canonical(), text.canonical());
}

#[test]
fn whitespace_and_comments_do_not_change_the_canonical_form() {
    let a = parse(USER).unwrap();
    let squeezed = USER
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("  \n\n /* c */ ");
    let b = parse(&squeezed).unwrap();
    assert_eq!(a.canonical(), b.canonical());
    let other = parse(&USER.replace("int64 id = 2", "int32 id = 2")).unwrap();
    assert_ne!(a.canonical(), other.canonical());
}

#[test]
fn canonical_form_parses_again_to_itself() {
    let a = parse(USER).unwrap();
    let b = parse(a.canonical()).unwrap();
    assert_eq!(a.canonical(), b.canonical());
    assert_eq!(a.stored_text(USER, false), USER);
    // Normalised, the schema is stored as `.proto` text that compiles back to itself.
    let stored = a.stored_text(USER, true);
    assert!(stored.starts_with("syntax = \"proto3\";\npackage com.acme;\n"));
    assert_eq!(parse(&stored).unwrap().canonical(), a.canonical());
}

#[test]
fn proto2_and_explicit_json_names() {
    let p2 = "syntax = \"proto2\"; package p; message M { required int32 a = 1; optional string b_c = 2 [default = \"x\"]; }";
    let no_syntax =
        "package p; message M { required int32 a = 1; optional string b_c = 2 [default = \"x\"]; }";
    let a = parse(p2).unwrap();
    assert_eq!(a.canonical(), parse(no_syntax).unwrap().canonical());
    assert_eq!(
        a.canonical(),
        parse(&client_descriptor("m.proto", p2, &[]))
            .unwrap()
            .canonical()
    );
    let custom = "syntax = \"proto3\"; message M { string b_c = 1 [json_name = \"zz\"]; }";
    let plain = "syntax = \"proto3\"; message M { string b_c = 1; }";
    assert_ne!(
        parse(custom).unwrap().canonical(),
        parse(plain).unwrap().canonical()
    );
    assert_eq!(parse(plain).unwrap().record_name().as_deref(), Some("M"));
    assert_eq!(
        parse("syntax = \"proto3\"; enum E { A = 0; }")
            .unwrap()
            .record_name(),
        None
    );
}

#[test]
fn references_resolve_by_name_in_either_form() {
    let dep = "syntax = \"proto3\"; package x; message Dep { int32 a = 1; }";
    let main = "syntax = \"proto3\"; package x; import \"dep.proto\"; message Main { Dep d = 1; }";
    let with_text = parse_refs(main, &[("dep.proto", dep)]).unwrap();
    let dep_b64 = client_descriptor("whatever.proto", dep, &[]);
    let with_desc = parse_refs(main, &[("dep.proto", &dep_b64)]).unwrap();
    assert_eq!(with_text.canonical(), with_desc.canonical());
    let main_b64 = client_descriptor("main.proto", main, &[("dep.proto", dep)]);
    assert_eq!(
        parse_refs(&main_b64, &[("dep.proto", dep)])
            .unwrap()
            .canonical(),
        with_text.canonical()
    );
    // Missing import, wrong name, broken reference: all 42201.
    for refs in [
        vec![],
        vec![("other.proto", dep)],
        vec![("dep.proto", "message {")],
        vec![("dep.proto", "!!!!")],
    ] {
        let e = parse_refs(main, &refs).unwrap_err();
        assert_eq!(e.code(), 42201, "{refs:?}");
    }
    // Transitive: a imports b imports c.
    let c = "syntax = \"proto3\"; package t; message C { int32 v = 1; }";
    let b = "syntax = \"proto3\"; package t; import \"c.proto\"; message B { C c = 1; }";
    let a = "syntax = \"proto3\"; package t; import \"b.proto\"; message A { B b = 1; }";
    assert!(parse_refs(a, &[("b.proto", b), ("c.proto", c)]).is_ok());
    assert_eq!(parse_refs(a, &[("b.proto", b)]).unwrap_err().code(), 42201);
}

#[test]
fn garbage_is_42201_and_never_panics() {
    let good_b64 = client_descriptor("user.proto", USER, &[]);
    let mut junk = String::new();
    let mut x: u32 = 12345;
    while junk.len() < 1 << 20 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        junk.push(char::from(b' ' + (x >> 16) as u8 % 95));
    }
    let junk_b64: String = junk.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let cases: Vec<String> = vec![
        String::new(),
        "   \n ".into(),
        "{".into(),
        "syntax = \"proto4\";".into(),
        "syntax = \"proto3\"; message M { int32 a = 1; int32 b = 1; }".into(),
        "syntax = \"proto3\"; message M { Unknown a = 1; }".into(),
        "syntax = \"proto3\"; message M { int32 a = 0; }".into(),
        "syntax = \"proto3\"; import \"google/protobuf/nope.proto\";".into(),
        "message M { int32 a = 1; } message M { int32 b = 1; }".into(),
        "!!!!".into(),
        "QUJD".into(),   // "ABC": not a descriptor
        "////".into(),   // bytes 0xff...: not a descriptor
        "AAAA=A".into(), // bad padding
        good_b64[..good_b64.len() / 2].to_string(),
        good_b64[..good_b64.len() - 7].to_string(),
        format!("{good_b64}#"),
        junk,
        junk_b64,
        "\u{0}\u{1}\u{ffff}".into(),
        "syntax = \"proto3\"; message M { string s = 1 [default = \"x\"]; }".into(),
    ];
    for text in &cases {
        match parse(text) {
            Err(e) => assert_eq!(e.code(), 42201, "{:.80}", text),
            Ok(_) => panic!("accepted {:.80}", text),
        }
    }
}

#[test]
fn deep_nesting_is_refused_or_parsed_without_overflow() {
    let nested = |depth: usize| {
        let mut s = String::from("syntax = \"proto3\";");
        for i in 0..depth {
            s.push_str(&format!(" message M{i} {{ int32 f = 1;"));
        }
        s.push_str(&" }".repeat(depth));
        s
    };
    assert!(parse(&nested(64)).is_ok(), "the limit itself parses");
    for depth in [65, 1_000, 100_000] {
        assert_eq!(parse(&nested(depth)).unwrap_err().code(), 42201, "{depth}");
    }
    // Comments and strings cannot hide nesting.
    let hidden =
        "syntax = \"proto3\";".to_string() + &" message M { // }\n".repeat(200) + &"}".repeat(200);
    assert_eq!(parse(&hidden).unwrap_err().code(), 42201);
    let brackets = format!("option (x) = {};", "{ a: ".repeat(100_000));
    assert_eq!(parse(&brackets).unwrap_err().code(), 42201);

    // A deeply nested descriptor is stopped by the decoder's recursion limit; just
    // under the limit it compiles without exhausting a test thread's stack.
    let deep_descriptor = |levels: usize| {
        let mut m = prost_types::DescriptorProto {
            name: Some("M".into()),
            ..Default::default()
        };
        for _ in 0..levels {
            m = prost_types::DescriptorProto {
                name: Some("M".into()),
                field: vec![prost_types::FieldDescriptorProto {
                    name: Some("m".into()),
                    number: Some(1),
                    r#type: Some(11),
                    type_name: Some("M".into()),
                    ..Default::default()
                }],
                nested_type: vec![m],
                ..Default::default()
            };
        }
        let fd = prost_types::FileDescriptorProto {
            name: Some("deep.proto".into()),
            message_type: vec![m],
            ..Default::default()
        };
        base64_of(&fd.encode_to_vec())
    };
    assert_eq!(parse(&deep_descriptor(1_000)).unwrap_err().code(), 42201);
    let near = parse(&deep_descriptor(97));
    assert!(near.is_ok() || near.unwrap_err().code() == 42201);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
