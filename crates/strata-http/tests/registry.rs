//! The schema registry over a real broker and real sockets: registrations land in
//! `_schemas` and are answered from it after a restart; concurrent registrations get
//! unique, dense ids; a broker that holds no copy sends the request on.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use strata_broker::{Broker, BrokerConfig, RunningBroker};
use tokio::net::{TcpListener, TcpStream};

struct Registry {
    running: RunningBroker,
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Registry {
    async fn start(dir: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = BrokerConfig {
            data_dir: dir.to_path_buf(),
            listen: "127.0.0.1:0".into(),
            registry_advertised: Some(("127.0.0.1".into(), i32::from(addr.port()))),
            ..Default::default()
        };
        let running = Broker::start(config).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(strata_http::registry::serve(
            listener,
            Arc::clone(&running.broker),
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            running,
            addr,
            stop,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.running.shutdown().await.unwrap();
    }
}

/// One request; (status, JSON answer).
async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
        .await
        .expect("answered in time")
        .unwrap();
    let status = answer.status().as_u16();
    assert_eq!(
        answer.headers()["content-type"],
        "application/vnd.schemaregistry.v1+json"
    );
    let bytes = axum::body::to_bytes(Body::new(answer.into_body()), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn record(name: &str) -> Value {
    json!({"schema": json!({"type": "record", "name": name, "fields": [{"name": "f", "type": "long"}]}).to_string()})
}

#[tokio::test]
async fn registrations_are_stored_in_schemas_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::start(dir.path()).await;
    // Before anything is written the registry is empty and `_schemas` does not exist.
    assert_eq!(
        call(r.addr, "GET", "/subjects", None).await,
        (200, json!([]))
    );
    assert!(r.running.broker.replicas.get("_schemas", 0).is_none());
    let (status, a) = call(r.addr, "POST", "/subjects/a/versions", Some(record("A"))).await;
    assert_eq!((status, &a), (200, &json!({"id": 1})));
    // The same schema under another subject keeps its id; a new one gets the next.
    let (_, again) = call(r.addr, "POST", "/subjects/b/versions", Some(record("A"))).await;
    assert_eq!(again, json!({"id": 1}));
    let (_, b) = call(r.addr, "POST", "/subjects/c/versions", Some(record("B"))).await;
    assert_eq!(b, json!({"id": 2}));
    let schemas = r
        .running
        .broker
        .replicas
        .get("_schemas", 0)
        .expect("_schemas");
    assert_eq!(schemas.high_watermark(), 3, "one record per new version");
    r.stop().await;

    let r = Registry::start(dir.path()).await;
    assert_eq!(
        call(r.addr, "GET", "/subjects", None).await,
        (200, json!(["a", "b", "c"]))
    );
    let (status, v) = call(r.addr, "GET", "/subjects/c/versions/latest", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (v["id"].clone(), v["version"].clone()),
        (json!(2), json!(1))
    );
    let (_, c) = call(r.addr, "POST", "/subjects/d/versions", Some(record("C"))).await;
    assert_eq!(c, json!({"id": 3}), "ids continue after a restart");
    r.stop().await;
}

#[tokio::test]
async fn concurrent_registrations_get_unique_dense_ids() {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::start(dir.path()).await;
    // Unrelated records under one subject: no compatibility rule applies.
    let (status, _) = call(
        r.addr,
        "PUT",
        "/config",
        Some(json!({"compatibility": "NONE"})),
    )
    .await;
    assert_eq!(status, 200);
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let addr = r.addr;
            tokio::spawn(async move {
                let path = format!("/subjects/s{}/versions", i % 4);
                call(addr, "POST", &path, Some(record(&format!("R{i}")))).await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        let (status, v) = t.await.unwrap();
        assert_eq!(status, 200, "{v}");
        ids.push(v["id"].as_i64().unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=24).collect::<Vec<i64>>());
    for s in 0..4 {
        let (_, versions) = call(r.addr, "GET", &format!("/subjects/s{s}/versions"), None).await;
        assert_eq!(versions, json!([1, 2, 3, 4, 5, 6]));
    }
    r.stop().await;
}

#[tokio::test]
async fn failed_writes_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::start(dir.path()).await;
    call(r.addr, "POST", "/subjects/a/versions", Some(record("A"))).await;
    let end = r
        .running
        .broker
        .replicas
        .get("_schemas", 0)
        .unwrap()
        .log_end_offset();
    let bad = [
        (
            "POST",
            "/subjects/a/versions",
            json!({"schema": "{\"type\": \"nope\"}"}),
            42201,
        ),
        (
            "POST",
            "/subjects/a/versions",
            json!({"schema": json!({"type": "record", "name": "A", "fields": [{"name": "g", "type": "long"}]}).to_string()}),
            409,
        ),
        (
            "PUT",
            "/config/a",
            json!({"compatibility": "MOSTLY"}),
            42203,
        ),
        ("PUT", "/mode", json!({"mode": "IMPORT"}), 42205),
        (
            "DELETE",
            "/subjects/a/versions/1?permanent=true",
            json!({}),
            40407,
        ),
    ];
    for (method, path, body, code) in bad {
        let (_, answer) = call(r.addr, method, path, Some(body)).await;
        assert_eq!(
            answer["error_code"],
            json!(code),
            "{method} {path}: {answer}"
        );
    }
    let schemas = r.running.broker.replicas.get("_schemas", 0).unwrap();
    assert_eq!(schemas.log_end_offset(), end, "nothing was appended");
    r.stop().await;
}
