//! `strata bench registry`: schema registrations per second (one client, each a
//! replicated write), then `GET /schemas/ids/{id}` per second from many keep-alive
//! connections for a while, with latency percentiles.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use axum::body::Body;
use clap::Args;
use hdrhistogram::Histogram;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::json;

use crate::cli::Format;

/// Options of `bench registry`.
#[derive(Args, Debug)]
pub struct RegistryBenchArgs {
    /// The schema registry's URL.
    #[arg(
        short = 'r',
        long = "registry",
        default_value = "http://127.0.0.1:8081"
    )]
    pub url: String,
    /// Schemas to register first (distinct, under one subject with compatibility NONE).
    #[arg(long, default_value_t = 200)]
    pub schemas: u32,
    /// Concurrent keep-alive connections reading schemas by id.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds of reads.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

struct Conn {
    sender: SendRequest<Body>,
    authority: String,
}

impl Conn {
    async fn open(authority: &str) -> Result<Self> {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("cannot reach the schema registry at {authority}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Self {
            sender,
            authority: authority.to_string(),
        })
    }

    async fn call(&mut self, method: &str, path: &str, body: Option<String>) -> Result<Vec<u8>> {
        self.sender.ready().await?;
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority)
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .body(Body::from(body.unwrap_or_default()))?;
        let answer = self.sender.send_request(req).await?;
        let status = answer.status();
        let bytes = axum::body::to_bytes(Body::new(answer.into_body()), 1 << 20).await?;
        if !status.is_success() {
            bail!(
                "{method} {path}: {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(bytes.to_vec())
    }
}

/// Runs the benchmark.
pub async fn run(args: RegistryBenchArgs, format: Format) -> Result<()> {
    let authority = args
        .url
        .strip_prefix("http://")
        .context("the registry URL must be http://HOST:PORT")?
        .trim_end_matches('/')
        .to_string();
    let mut conn = Conn::open(&authority).await?;
    let subject = format!("bench-{}", std::process::id());
    conn.call(
        "PUT",
        &format!("/config/{subject}"),
        Some(json!({"compatibility": "NONE"}).to_string()),
    )
    .await?;
    let mut ids = Vec::new();
    let started = Instant::now();
    for i in 0..args.schemas {
        let schema = json!({"type": "record", "name": format!("Bench{i}"),
            "fields": [{"name": "f", "type": "long"}]})
        .to_string();
        let answer = conn
            .call(
                "POST",
                &format!("/subjects/{subject}/versions"),
                Some(json!({ "schema": schema }).to_string()),
            )
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&answer)?;
        ids.push(v["id"].as_i64().context("no id in the answer")?);
    }
    let register_secs = started.elapsed().as_secs_f64();
    let registrations_per_sec = f64::from(args.schemas) / register_secs;

    let ids = Arc::new(ids);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        let (ids, stop, done, authority) = (
            Arc::clone(&ids),
            Arc::clone(&stop),
            Arc::clone(&done),
            authority.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&authority).await?;
            let mut hist = Histogram::<u64>::new(3)?;
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let id = ids[i % ids.len()];
                i += 1;
                let t = Instant::now();
                conn.call("GET", &format!("/schemas/ids/{id}"), None)
                    .await?;
                hist.record(t.elapsed().as_micros() as u64)?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(hist)
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut hist = Histogram::<u64>::new(3)?;
    for t in tasks {
        hist.add(t.await??)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let reads_per_sec = done.load(Ordering::Relaxed) as f64 / secs;
    let out = json!({
        "schemas": args.schemas,
        "registrations_per_sec": registrations_per_sec.round(),
        "connections": args.connections,
        "seconds": secs,
        "reads": done.load(Ordering::Relaxed),
        "reads_per_sec": reads_per_sec.round(),
        "read_p50_us": hist.value_at_quantile(0.5),
        "read_p99_us": hist.value_at_quantile(0.99),
    });
    match format {
        Format::Json => println!("{out}"),
        Format::Text => println!(
            "registered {} schemas: {:.0}/s; GET /schemas/ids/{{id}} over {} connections: {:.0}/s (p50 {} µs, p99 {} µs)",
            args.schemas,
            registrations_per_sec,
            args.connections,
            reads_per_sec,
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99)
        ),
    }
    Ok(())
}
