//! Table-driven Avro compatibility: (writer, reader, compatible?) pairs.

use strata_registry::compat::avro;

fn rec(name: &str, fields: &str) -> String {
    format!(r#"{{"type":"record","name":"{name}","fields":[{fields}]}}"#)
}

fn f(name: &str, ty: &str) -> String {
    format!(r#"{{"name":"{name}","type":{ty}}}"#)
}

fn fd(name: &str, ty: &str, default: &str) -> String {
    format!(r#"{{"name":"{name}","type":{ty},"default":{default}}}"#)
}

fn check(writer: &str, reader: &str) -> Vec<String> {
    let w =
        apache_avro::Schema::parse_str(writer).unwrap_or_else(|e| panic!("writer {writer}: {e}"));
    let r =
        apache_avro::Schema::parse_str(reader).unwrap_or_else(|e| panic!("reader {reader}: {e}"));
    avro::check(&r, &[], &w, &[])
}

#[test]
fn table() {
    let q = |s: &str| format!("\"{s}\"");
    let enum_ =
        |name: &str, syms: &str| format!(r#"{{"type":"enum","name":"{name}","symbols":[{syms}]}}"#);
    let enum_def = |name: &str, syms: &str, d: &str| {
        format!(r#"{{"type":"enum","name":"{name}","symbols":[{syms}],"default":"{d}"}}"#)
    };
    let fixed =
        |name: &str, size: u32| format!(r#"{{"type":"fixed","name":"{name}","size":{size}}}"#);
    let arr = |t: &str| format!(r#"{{"type":"array","items":{t}}}"#);
    let map = |t: &str| format!(r#"{{"type":"map","values":{t}}}"#);

    let mut cases: Vec<(String, String, bool)> = Vec::new();
    let mut add = |w: String, r: String, ok: bool| cases.push((w, r, ok));

    // Primitives: identity.
    for p in [
        "null", "boolean", "int", "long", "float", "double", "bytes", "string",
    ] {
        add(q(p), q(p), true);
    }
    // Promotions, both ways.
    for (w, r) in [
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    ] {
        add(q(w), q(r), true);
        if !matches!((w, r), ("string", "bytes") | ("bytes", "string")) {
            add(q(r), q(w), false); // demotions are not allowed
        }
    }
    // Unrelated primitives.
    for (w, r) in [
        ("int", "string"),
        ("boolean", "int"),
        ("null", "string"),
        ("string", "double"),
        ("bytes", "long"),
    ] {
        add(q(w), q(r), false);
    }
    // Logical types compare by their underlying type.
    add(
        r#"{"type":"int","logicalType":"date"}"#.into(),
        q("int"),
        true,
    );
    add(
        r#"{"type":"long","logicalType":"timestamp-millis"}"#.into(),
        q("long"),
        true,
    );
    add(
        r#"{"type":"string","logicalType":"uuid"}"#.into(),
        q("string"),
        true,
    );
    add(
        r#"{"type":"int","logicalType":"date"}"#.into(),
        r#"{"type":"long","logicalType":"timestamp-millis"}"#.into(),
        true,
    );

    // Arrays and maps.
    add(arr(&q("int")), arr(&q("long")), true);
    add(arr(&q("long")), arr(&q("int")), false);
    add(map(&q("int")), map(&q("double")), true);
    add(map(&q("string")), map(&q("int")), false);
    add(arr(&q("int")), map(&q("int")), false);
    add(map(&q("int")), arr(&q("int")), false);
    add(arr(&arr(&q("float"))), arr(&arr(&q("double"))), true);

    // Fixed.
    add(fixed("F", 16), fixed("F", 16), true);
    add(fixed("F", 16), fixed("F", 8), false);
    add(fixed("F", 8), fixed("F", 16), false);
    add(fixed("F", 16), fixed("G", 16), false);
    add(
        fixed("F", 16),
        r#"{"type":"fixed","name":"G","size":16,"aliases":["F"]}"#.into(),
        true,
    );
    add(fixed("F", 4), q("bytes"), false);

    // Enums.
    add(enum_("E", r#""A","B""#), enum_("E", r#""A","B","C""#), true);
    add(
        enum_("E", r#""A","B","C""#),
        enum_("E", r#""A","B""#),
        false,
    );
    add(
        enum_("E", r#""A","B","C""#),
        enum_def("E", r#""A","B","U""#, "U"),
        true,
    );
    add(enum_("E", r#""A""#), enum_("X", r#""A""#), false);
    add(
        enum_("E", r#""A""#),
        r#"{"type":"enum","name":"X","symbols":["A"],"aliases":["E"]}"#.into(),
        true,
    );
    add(enum_("E", r#""A""#), q("string"), false);

    // Records.
    let base = rec("R", &f("a", &q("int")));
    add(base.clone(), base.clone(), true);
    add(
        base.clone(),
        rec(
            "R",
            &format!("{},{}", f("a", &q("int")), fd("b", &q("string"), "\"x\"")),
        ),
        true,
    );
    add(
        base.clone(),
        rec(
            "R",
            &format!("{},{}", f("a", &q("int")), f("b", &q("string"))),
        ),
        false,
    );
    add(
        rec(
            "R",
            &format!("{},{}", f("a", &q("int")), f("b", &q("string"))),
        ),
        base.clone(),
        true,
    );
    add(base.clone(), rec("R", &f("a", &q("long"))), true);
    add(rec("R", &f("a", &q("long"))), base.clone(), false);
    add(base.clone(), rec("S", &f("a", &q("int"))), false);
    add(
        base.clone(),
        r#"{"type":"record","name":"S","aliases":["R"],"fields":[{"name":"a","type":"int"}]}"#
            .into(),
        true,
    );
    add(
        base.clone(),
        rec("R", r#"{"name":"z","type":"int","aliases":["a"]}"#),
        true,
    );
    add(base.clone(), rec("R", &f("z", &q("int"))), false);
    add(base.clone(), rec("R", &fd("z", &q("int"), "0")), true);
    add(rec("R", ""), rec("R", ""), true);
    add(
        r#"{"type":"record","name":"R","namespace":"a","fields":[]}"#.into(),
        r#"{"type":"record","name":"R","namespace":"b","fields":[]}"#.into(),
        false,
    );
    add(
        r#"{"type":"record","name":"R","namespace":"a","fields":[]}"#.into(),
        r#"{"type":"record","name":"a.R","fields":[]}"#.into(),
        true,
    );
    add(base.clone(), q("int"), false);
    add(
        rec("R", &f("n", &rec("N", &f("x", &q("int"))))),
        rec("R", &f("n", &rec("N", &f("x", &q("double"))))),
        true,
    );
    add(
        rec("R", &f("n", &rec("N", &f("x", &q("double"))))),
        rec("R", &f("n", &rec("N", &f("x", &q("int"))))),
        false,
    );
    // Recursive record (linked list).
    let list = |t: &str| {
        rec(
            "L",
            &format!(r#"{},{}"#, f("v", &q(t)), f("next", r#"["null","L"]"#)),
        )
    };
    add(list("int"), list("long"), true);
    add(list("long"), list("int"), false);

    // Unions.
    add(q("int"), r#"["null","int"]"#.into(), true);
    add(q("int"), r#"["null","long"]"#.into(), true);
    add(q("string"), r#"["null","int"]"#.into(), false);
    add(r#"["null","int"]"#.into(), q("int"), false);
    add(
        r#"["null","int"]"#.into(),
        r#"["null","int","string"]"#.into(),
        true,
    );
    add(
        r#"["null","int","string"]"#.into(),
        r#"["null","int"]"#.into(),
        false,
    );
    add(
        r#"["int","string"]"#.into(),
        r#"["string","long"]"#.into(),
        true,
    );
    add(r#"["int"]"#.into(), q("long"), true);
    add(
        rec("R", &f("a", r#"["null","int"]"#)),
        rec("R", &f("a", r#"["null","int","string"]"#)),
        true,
    );
    add(
        rec("R", &f("a", r#"["null","string"]"#)),
        rec("R", &f("a", &q("string"))),
        false,
    );
    add(
        format!("[\"null\",{}]", enum_("E", r#""A","B""#)),
        format!("[\"null\",{}]", enum_("E", r#""A""#)),
        false,
    );

    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (w, r, ok) in &cases {
        let msgs = check(w, r);
        if msgs.is_empty() != *ok {
            failures.push(format!(
                "writer {w}\nreader {r}\nexpected compatible={ok}, got {msgs:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!("{} avro pairs checked", cases.len());
}

#[test]
fn messages_are_readable() {
    let w = rec("R", &f("a", "\"string\""));
    let r = rec("R", &format!("{},{}", f("a", "\"int\""), f("b", "\"int\"")));
    let msgs = check(&w, &r);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs[0].starts_with("TYPE_MISMATCH at '/fields/0/type'"),
        "{}",
        msgs[0]
    );
    assert!(msgs[0].contains("reader type int"));
    assert!(
        msgs[1].starts_with("READER_FIELD_MISSING_DEFAULT_VALUE"),
        "{}",
        msgs[1]
    );
    assert!(msgs[1].contains("'b'"));
    let e = check(
        r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#,
        r#"{"type":"enum","name":"E","symbols":["A"]}"#,
    );
    assert_eq!(e.len(), 1);
    assert!(e[0].contains("[B, C]"), "{}", e[0]);
}

#[test]
fn references_resolve_through_named_schemas() {
    let dep = r#"{"type":"record","name":"x.Dep","fields":[{"name":"a","type":"int"}]}"#;
    let dep2 = r#"{"type":"record","name":"x.Dep","fields":[{"name":"a","type":"long"}]}"#;
    let main = r#"{"type":"record","name":"x.Main","fields":[{"name":"d","type":"x.Dep"}]}"#;
    let (w, wn) = apache_avro::Schema::parse_str_with_list(main, [dep]).unwrap();
    let (r, rn) = apache_avro::Schema::parse_str_with_list(main, [dep2]).unwrap();
    assert!(avro::check(&r, &rn, &w, &wn).is_empty());
    assert!(!avro::check(&w, &wn, &r, &rn).is_empty());
}

#[test]
fn a_reader_union_that_sends_every_branch_to_the_bottom_is_cut_off() {
    // Writer: W0 { f: W1 { f: ... W19 { f: string } } } (JSON nesting stays under
    // serde_json's limit of 128).
    let depth = 20;
    let mut writer = r#""string""#.to_string();
    for i in (0..depth).rev() {
        writer = rec(&format!("W{i}"), &f("f", &writer));
    }
    // Reader: W0 { f: [A1, B1] }, where A_i and B_i both alias W_i; A_i's field defines
    // the next union and B_i's names the same records, so the schema stays linear in the
    // depth while a search through it doubles at every level. The bottom (int against
    // string) fails, so every branch is tried.
    let last = depth - 1;
    let mut union = format!(
        r#"[{{"type":"record","name":"A{last}","aliases":["W{last}"],"fields":[{{"name":"f","type":"int"}}]}},{{"type":"record","name":"B{last}","aliases":["W{last}"],"fields":[{{"name":"f","type":"int"}}]}}]"#
    );
    for i in (1..last).rev() {
        let next = i + 1;
        union = format!(
            r#"[{{"type":"record","name":"A{i}","aliases":["W{i}"],"fields":[{{"name":"f","type":{union}}}]}},{{"type":"record","name":"B{i}","aliases":["W{i}"],"fields":[{{"name":"f","type":["A{next}","B{next}"]}}]}}]"#
        );
    }
    let reader = rec("W0", &f("f", &union));
    let msgs = check(&writer, &reader);
    assert!(
        msgs.iter().any(|m| m.starts_with("TOO_COMPLEX")),
        "{msgs:?}"
    );
}
