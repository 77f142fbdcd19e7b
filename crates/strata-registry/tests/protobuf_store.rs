//! PROTOBUF schemas in the registry: identity across input forms, references.

use strata_registry::protobuf::encode_descriptor;
use strata_registry::{
    CompatibilityLevel, Effect, RegisterRequest, Registry, RegistryError, SchemaReference,
    SchemaType,
};

#[derive(Default)]
struct Node {
    reg: Registry,
    log: Vec<strata_registry::Record>,
}

impl Node {
    fn commit<T>(&mut self, e: Result<Effect<T>, RegistryError>) -> Result<T, RegistryError> {
        let e = e?;
        for r in &e.records {
            self.reg.apply_encoded(r).unwrap();
            self.log.push(r.clone());
        }
        Ok(e.answer)
    }

    fn register(
        &mut self,
        subject: &str,
        schema: &str,
        references: Vec<SchemaReference>,
    ) -> Result<(i32, i32), RegistryError> {
        let req = RegisterRequest {
            subject: subject.into(),
            schema: schema.into(),
            schema_type: SchemaType::Protobuf,
            references,
            ..Default::default()
        };
        let e = self.reg.register(&req);
        self.commit(e).map(|r| (r.id, r.version))
    }

    fn replayed(&self) -> Registry {
        let mut fresh = Registry::new();
        for r in &self.log {
            fresh.apply(&r.key, r.value.as_deref()).unwrap();
        }
        fresh
    }
}

const ORDER: &str = r#"
syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";
message Order {
  string id = 1;
  int64 amount = 2;
  google.protobuf.Timestamp at = 3;
}
"#;

/// The base64 descriptor a client (e.g. confluent-kafka-python) would register for
/// `text` under `file_name`; `deps` are the files it imports.
fn descriptor_of(file_name: &str, text: &str, deps: &[(&str, &str)]) -> String {
    struct Mem(Vec<(String, String)>);
    impl protox::file::FileResolver for Mem {
        fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
            match self.0.iter().find(|(n, _)| n == name) {
                Some((n, t)) => protox::file::File::from_source(n, t),
                None => protox::file::GoogleFileResolver::new().open_file(name),
            }
        }
    }
    let mut files = vec![(file_name.to_string(), text.to_string())];
    files.extend(deps.iter().map(|(n, t)| (n.to_string(), t.to_string())));
    let mut c = protox::Compiler::with_file_resolver(Mem(files));
    c.include_source_info(true).open_file(file_name).unwrap();
    let set = c.file_descriptor_set();
    encode_descriptor(set.file.iter().find(|f| f.name() == file_name).unwrap())
}

#[test]
fn text_then_descriptor_gets_the_same_id() {
    let mut n = Node::default();
    let (id, v) = n.register("orders-value", ORDER, vec![]).unwrap();
    assert_eq!((id, v), (1, 1));
    let b64 = descriptor_of("order.proto", ORDER, &[]);
    assert_eq!(n.register("orders-value", &b64, vec![]).unwrap(), (1, 1));
    assert_eq!(n.register("other-value", &b64, vec![]).unwrap(), (1, 1));
    let stored = n.reg.schema_by_id(id).unwrap();
    assert_eq!(stored.schema_type, SchemaType::Protobuf);
    assert_eq!(stored.schema, ORDER, "the first text as sent");
    assert_eq!(n.reg.record_name_of(id).as_deref(), Some("shop.Order"));
    // Comment and whitespace changes are the same schema too.
    let commented = format!("// v1\n{}", ORDER.replace("  ", "\t"));
    assert_eq!(
        n.register("orders-value", &commented, vec![]).unwrap(),
        (1, 1)
    );
    assert_eq!(n.replayed().schema_by_id(id).unwrap(), stored);
}

#[test]
fn evolution_follows_the_compatibility_level() {
    let mut n = Node::default();
    n.register("o", ORDER, vec![]).unwrap();
    let added = ORDER.replace(
        "google.protobuf.Timestamp at = 3;",
        "google.protobuf.Timestamp at = 3; string note = 4;",
    );
    assert_eq!(n.register("o", &added, vec![]).unwrap(), (2, 2));
    let changed = added.replace("string note = 4;", "double note = 4;");
    let e = n.register("o", &changed, vec![]).unwrap_err();
    assert_eq!(e.code(), 409);
    assert!(
        e.message().contains("FIELD_KIND_CHANGED at 'shop.Order.4'"),
        "{e}"
    );
    n.commit(n.reg.set_config(Some("o"), "NONE")).unwrap();
    assert_eq!(n.reg.effective_compatibility("o"), CompatibilityLevel::None);
    assert_eq!(n.register("o", &changed, vec![]).unwrap(), (3, 3));
}

#[test]
fn references_register_and_resolve() {
    let mut n = Node::default();
    let money = "syntax = \"proto3\"; package shop; message Money { int64 units = 1; string currency = 2; }";
    n.register("money.proto", money, vec![]).unwrap();
    let reference = SchemaReference {
        name: "shop/money.proto".into(),
        subject: "money.proto".into(),
        version: 1,
    };
    let item = "syntax = \"proto3\"; package shop; import \"shop/money.proto\"; message Item { Money price = 1; }";
    let (id, _) = n
        .register("item.proto", item, vec![reference.clone()])
        .unwrap();
    assert_eq!(
        n.reg.schema_by_id(id).unwrap().references,
        vec![reference.clone()]
    );
    assert_eq!(n.reg.record_name_of(id).as_deref(), Some("shop.Item"));
    // Transitive: cart imports item.proto, which imports shop/money.proto.
    let item_ref = SchemaReference {
        name: "item.proto".into(),
        subject: "item.proto".into(),
        version: 1,
    };
    let cart = "syntax = \"proto3\"; package shop; import \"item.proto\"; message Cart { repeated Item items = 1; }";
    let (cart_id, _) = n
        .register("cart-value", cart, vec![item_ref.clone()])
        .unwrap();
    // The same file sent as a descriptor gets the same id.
    let cart_b64 = descriptor_of(
        "cart.proto",
        cart,
        &[("item.proto", item), ("shop/money.proto", money)],
    );
    let (again, _) = n.register("cart-value", &cart_b64, vec![item_ref]).unwrap();
    assert_eq!(again, cart_id);
    assert_eq!(
        n.replayed().schema_by_id(cart_id).unwrap(),
        n.reg.schema_by_id(cart_id).unwrap()
    );
    // Referenced schemas cannot be deleted while used.
    assert_eq!(
        n.commit(n.reg.delete_subject("money.proto", false))
            .unwrap_err()
            .code(),
        42206
    );
    // Missing reference, or an import without its reference: 42201.
    let missing = SchemaReference {
        version: 7,
        ..reference.clone()
    };
    assert_eq!(
        n.register("bad", item, vec![missing]).unwrap_err().code(),
        42201
    );
    assert_eq!(n.register("bad", item, vec![]).unwrap_err().code(), 42201);
    let wrong_name = SchemaReference {
        name: "money.proto".into(),
        ..reference
    };
    assert_eq!(
        n.register("bad", item, vec![wrong_name])
            .unwrap_err()
            .code(),
        42201
    );
    assert!(n.reg.subjects(true).iter().all(|s| s != "bad"));
}

#[test]
fn normalize_stores_a_form_that_parses_again() {
    let mut n = Node::default();
    let req = RegisterRequest {
        subject: "norm".into(),
        schema: ORDER.into(),
        schema_type: SchemaType::Protobuf,
        normalize: true,
        ..Default::default()
    };
    let r = n.commit(n.reg.register(&req)).unwrap();
    let stored = n.reg.schema_by_id(r.id).unwrap().schema;
    // Stored as `.proto` source printed from the normalised descriptor (as Confluent).
    assert_eq!(
        stored,
        "syntax = \"proto3\";\npackage shop;\n\nimport \"google/protobuf/timestamp.proto\";\n\n\
         message Order {\n  string id = 1;\n  int64 amount = 2;\n  \
         .google.protobuf.Timestamp at = 3;\n}\n"
    );
    assert_eq!(n.register("norm2", &stored, vec![]).unwrap().0, r.id);
    assert_eq!(n.register("norm3", ORDER, vec![]).unwrap().0, r.id);
    let client = descriptor_of("order.proto", ORDER, &[]);
    assert_eq!(n.register("norm4", &client, vec![]).unwrap().0, r.id);
    // The stored text replays to the same registry.
    let fresh = n.replayed();
    assert_eq!(fresh.schema_by_id(r.id).unwrap().schema, stored);
}

#[test]
fn normalize_keeps_the_id_of_an_earlier_plain_registration() {
    let mut n = Node::default();
    let money = "syntax = \"proto3\"; package fin; message Money { int64 units = 1; }";
    let (money_id, _) = n.register("money", money, vec![]).unwrap();
    let reference = SchemaReference {
        name: "money.proto".into(),
        subject: "money".into(),
        version: 1,
    };
    let item = "syntax = \"proto3\";\nimport \"money.proto\";\n// an item\nmessage Item { fin.Money price = 1; }";
    let (plain_id, _) = n.register("item", item, vec![reference.clone()]).unwrap();
    assert_ne!(plain_id, money_id);
    for subject in ["item", "item-normalized"] {
        let req = RegisterRequest {
            subject: subject.into(),
            schema: item.into(),
            schema_type: SchemaType::Protobuf,
            references: vec![reference.clone()],
            normalize: true,
            ..Default::default()
        };
        let r = n.commit(n.reg.register(&req)).unwrap();
        assert_eq!((r.id, r.version), (plain_id, 1), "{subject}");
    }
    let stored = n
        .reg
        .version(
            "item-normalized",
            strata_registry::VersionSpec::Latest,
            false,
        )
        .unwrap()
        .schema;
    assert_eq!(
        stored,
        "syntax = \"proto3\";\n\nimport \"money.proto\";\n\nmessage Item {\n  .fin.Money price = 1;\n}\n"
    );
    assert_eq!(
        n.register("again", &stored, vec![reference]).unwrap().0,
        plain_id
    );
}
