//! Broker configs (issue 17): every key of Kafka's broker config table is described with
//! its value and source, passwords are hidden, keys Kafka lets change at run time are
//! accepted dynamically, read-only and unknown ones are refused as Kafka refuses them.

use crate::common::*;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResourceResult;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const BROKER: i8 = 4;
const SET: i8 = 0;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Every config of broker `name` (or only `keys`), with synonyms.
async fn describe(
    c: &mut RawClient,
    name: &str,
    keys: Option<&[&str]>,
) -> (i16, Vec<DescribeConfigsResourceResult>) {
    let req = DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(BROKER)
            .with_resource_name(s(name))
            .with_configuration_keys(
                keys.map(|k| k.iter().map(|k| s(k)).collect()),
            )]);
    match c
        .call(
            ApiKey::DescribeConfigs,
            4,
            RequestKind::DescribeConfigs(req),
        )
        .await
    {
        ResponseKind::DescribeConfigs(mut r) => {
            let res = r.results.remove(0);
            (res.error_code, res.configs)
        }
        other => panic!("{other:?}"),
    }
}

async fn alter(c: &mut RawClient, name: &str, key: &str, value: &str) -> (i16, String) {
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(BROKER)
            .with_resource_name(s(name))
            .with_configs(vec![AlterableConfig::default()
                .with_name(s(key))
                .with_config_operation(SET)
                .with_value(Some(s(value)))]),
    ]);
    match c
        .call(
            ApiKey::IncrementalAlterConfigs,
            1,
            RequestKind::IncrementalAlterConfigs(req),
        )
        .await
    {
        ResponseKind::IncrementalAlterConfigs(r) => (
            r.responses[0].error_code,
            r.responses[0]
                .error_message
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default(),
        ),
        other => panic!("{other:?}"),
    }
}

fn find<'a>(
    configs: &'a [DescribeConfigsResourceResult],
    key: &str,
) -> &'a DescribeConfigsResourceResult {
    configs
        .iter()
        .find(|e| e.name.as_str() == key)
        .unwrap_or_else(|| panic!("{key} not described"))
}

fn value(e: &DescribeConfigsResourceResult) -> Option<String> {
    e.value.as_ref().map(|v| v.to_string())
}

#[tokio::test]
async fn broker_describe_reports_every_kafka_key_with_real_values() {
    let broker = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| {
        c.kept.insert(
            "sasl.kerberos.min.time.before.relogin".into(),
            "120000".into(),
        );
        c.security
            .insert("ssl.keystore.password".into(), "hunter2".into());
    })
    .await;
    let mut c = broker.client().await;
    let (err, all) = describe(&mut c, "1", None).await;
    assert_eq!(err, 0);
    assert!(all.len() >= 250, "only {} keys", all.len());
    let port = broker.addr.port();

    let listeners = find(&all, "listeners");
    assert_eq!(
        value(listeners).as_deref(),
        Some(&*format!("PLAINTEXT://127.0.0.1:{port}"))
    );
    assert_eq!(listeners.config_source, 4);
    let advertised = find(&all, "advertised.listeners");
    assert_eq!(
        value(advertised).as_deref(),
        Some(&*format!("PLAINTEXT://127.0.0.1:{port}"))
    );
    assert!(advertised.read_only);
    assert_eq!(
        value(find(&all, "listener.security.protocol.map")).as_deref(),
        Some("PLAINTEXT:PLAINTEXT")
    );
    assert_eq!(
        value(find(&all, "inter.broker.listener.name")).as_deref(),
        Some("PLAINTEXT")
    );
    assert_eq!(value(find(&all, "node.id")).as_deref(), Some("1"));
    assert_eq!(value(find(&all, "broker.id")).as_deref(), Some("1"));
    assert_eq!(
        value(find(&all, "log.dirs")),
        Some(broker.dir.path().display().to_string())
    );
    assert_eq!(
        value(find(&all, "process.roles")).as_deref(),
        Some("broker,controller")
    );
    assert!(value(find(&all, "controller.quorum.voters")).is_some_and(|v| v.starts_with("1@")));

    // A key Strata keeps: static, with Kafka's default as its synonym.
    let relogin = find(&all, "sasl.kerberos.min.time.before.relogin");
    assert_eq!(value(relogin).as_deref(), Some("120000"));
    assert_eq!(relogin.config_source, 4);
    let sources: Vec<i8> = relogin.synonyms.iter().map(|s| s.source).collect();
    assert_eq!(sources, vec![4, 5]);
    assert_eq!(relogin.config_type, 5, "long");
    // Untouched keys: Kafka's default.
    let io = find(&all, "num.io.threads");
    assert_eq!(
        (value(io).as_deref(), io.config_source, io.read_only),
        (Some("8"), 5, false)
    );
    // Passwords: sensitive, no value anywhere.
    let pw = find(&all, "ssl.keystore.password");
    assert!(pw.is_sensitive);
    assert_eq!(pw.value, None);
    assert!(pw.synonyms.iter().all(|s| s.value.is_none()));
    // No key twice.
    let mut names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "duplicate keys");

    // The filter still selects.
    let (_, one) = describe(&mut c, "1", Some(&["listeners", "bogus.key"])).await;
    assert_eq!(one.len(), 1);
    broker.stop().await;
}

#[tokio::test]
async fn broker_alter_accepts_dynamic_kafka_keys_and_refuses_the_rest() {
    let broker = TestBroker::start().await;
    let mut c = broker.client().await;

    // Per-broker in Kafka: accepted for this broker, stored, reported as dynamic.
    let (err, msg) = alter(
        &mut c,
        "1",
        "sasl.kerberos.min.time.before.relogin",
        "90000",
    )
    .await;
    assert_eq!(err, 0, "{msg}");
    let (_, d) = describe(
        &mut c,
        "1",
        Some(&["sasl.kerberos.min.time.before.relogin"]),
    )
    .await;
    assert_eq!(value(&d[0]).as_deref(), Some("90000"));
    assert_eq!(d[0].config_source, 2);
    // ... but not as a cluster default.
    let (err, _) = alter(&mut c, "", "sasl.kerberos.min.time.before.relogin", "90000").await;
    assert_eq!(err, 42);
    // Cluster-wide in Kafka: accepted as the cluster default.
    let (err, msg) = alter(&mut c, "", "num.io.threads", "16").await;
    assert_eq!(err, 0, "{msg}");
    let (_, d) = describe(&mut c, "1", Some(&["num.io.threads"])).await;
    assert_eq!(
        (value(&d[0]).as_deref(), d[0].config_source),
        (Some("16"), 3)
    );
    // Validated by type.
    let (err, msg) = alter(&mut c, "1", "num.io.threads", "many").await;
    assert_eq!(err, 40, "{msg}");
    assert!(msg.contains("num.io.threads"), "{msg}");
    // Read-only: Kafka's refusal.
    let (err, msg) = alter(&mut c, "1", "log.dirs", "/elsewhere").await;
    assert_eq!(err, 42, "{msg}");
    assert!(msg.contains("cannot be updated dynamically"), "{msg}");
    // Unknown.
    let (err, msg) = alter(&mut c, "1", "bogus.key", "1").await;
    assert_eq!(err, 40, "{msg}");
    // Existing dynamic keys keep their behaviour.
    let (err, msg) = alter(&mut c, "", "log.retention.ms", "5000").await;
    assert_eq!(err, 0, "{msg}");
    let (err, _) = alter(&mut c, "", "log.cleaner.io.max.bytes.per.second", "-1").await;
    assert_eq!(err, 40);
    broker.stop().await;
}
