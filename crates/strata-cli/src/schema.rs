//! `strata schema list|get|register|check|delete|config|mode`: the schema registry's
//! REST API (Confluent's) from the command line, against `-r/--registry URL`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::cli::Format;

/// Where the registry is, for every `schema` action.
#[derive(Args, Debug, Clone)]
pub struct RegistryArgs {
    /// The schema registry's URL (any broker's `--registry` listener).
    #[arg(
        short = 'r',
        long = "registry",
        env = "STRATA_REGISTRY_URL",
        default_value = "http://127.0.0.1:8081",
        global = true
    )]
    pub url: String,
}

/// Schema registry actions.
#[derive(Subcommand, Debug)]
pub enum SchemaCommand {
    /// List subjects.
    List {
        /// Include soft-deleted subjects.
        #[arg(long)]
        deleted: bool,
        /// Only subjects starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Show a subject's version (latest by default), or a schema by id.
    Get {
        /// The subject (omit with --id).
        #[arg(required_unless_present = "id")]
        subject: Option<String>,
        /// A version number or `latest`.
        #[arg(long, default_value = "latest")]
        version: String,
        /// A global schema id instead of a subject version.
        #[arg(long, conflicts_with = "subject")]
        id: Option<i32>,
        /// Include soft-deleted versions.
        #[arg(long)]
        deleted: bool,
    },
    /// Register a schema under a subject; prints its id.
    Register(SchemaInput),
    /// Test a schema against a subject's versions (exit status 1 when incompatible).
    Check {
        /// The schema.
        #[command(flatten)]
        input: SchemaInput,
        /// Test against this version only (default: the versions the level selects).
        #[arg(long)]
        version: Option<String>,
    },
    /// Delete a subject, or one version of it (soft unless --permanent).
    Delete {
        /// The subject.
        subject: String,
        /// Only this version (a number or `latest`).
        #[arg(long)]
        version: Option<String>,
        /// Hard delete (after a soft delete).
        #[arg(long)]
        permanent: bool,
    },
    /// Show or change the compatibility level, global or of a subject.
    Config {
        /// The subject (global when omitted).
        subject: Option<String>,
        /// Set this level (NONE, BACKWARD, ..., FULL_TRANSITIVE).
        #[arg(long, conflicts_with = "delete")]
        set: Option<String>,
        /// Remove the setting (back to the global level, or the default).
        #[arg(long)]
        delete: bool,
    },
    /// Show or change the mode, global or of a subject.
    Mode {
        /// The subject (global when omitted).
        subject: Option<String>,
        /// Set this mode (READWRITE, READONLY, READONLY_OVERRIDE, IMPORT).
        #[arg(long, conflicts_with = "delete")]
        set: Option<String>,
        /// Remove the setting.
        #[arg(long)]
        delete: bool,
        /// Allow IMPORT while schemas exist.
        #[arg(long)]
        force: bool,
    },
}

/// A schema given on the command line.
#[derive(Args, Debug)]
pub struct SchemaInput {
    /// The subject.
    pub subject: String,
    /// File holding the schema (`-` for stdin).
    #[arg(long, short = 'f', conflicts_with = "schema")]
    pub file: Option<PathBuf>,
    /// The schema text itself.
    #[arg(long, required_unless_present = "file")]
    pub schema: Option<String>,
    /// AVRO, JSON or PROTOBUF.
    #[arg(long = "type", default_value = "AVRO")]
    pub schema_type: String,
    /// A reference `NAME=SUBJECT:VERSION`; repeatable.
    #[arg(long = "reference", value_name = "NAME=SUBJECT:VERSION")]
    pub references: Vec<String>,
    /// Normalize the schema first.
    #[arg(long)]
    pub normalize: bool,
}

impl SchemaInput {
    fn body(&self) -> Result<Value> {
        let text = match (&self.schema, &self.file) {
            (Some(s), _) => s.clone(),
            (None, Some(p)) if p.as_os_str() == "-" => {
                std::io::read_to_string(std::io::stdin()).context("cannot read stdin")?
            }
            (None, Some(p)) => std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?,
            (None, None) => bail!("give --schema TEXT or --file PATH"),
        };
        let references = self
            .references
            .iter()
            .map(|r| {
                let (name, rest) = r
                    .split_once('=')
                    .with_context(|| format!("reference '{r}' is not NAME=SUBJECT:VERSION"))?;
                let (subject, version) = rest
                    .rsplit_once(':')
                    .with_context(|| format!("reference '{r}' is not NAME=SUBJECT:VERSION"))?;
                let version: i32 = version.parse().with_context(|| {
                    format!("reference '{r}': version '{version}' is not a number")
                })?;
                Ok(json!({"name": name, "subject": subject, "version": version}))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(json!({
            "schema": text,
            "schemaType": self.schema_type.to_ascii_uppercase(),
            "references": references,
        }))
    }
}

/// Percent-encodes a path segment.
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Runs one action.
pub async fn run(command: SchemaCommand, registry: RegistryArgs, format: Format) -> Result<()> {
    let api = Api::new(&registry.url)?;
    let s = segment;
    match command {
        SchemaCommand::List { deleted, prefix } => {
            let v = api
                .call(
                    "GET",
                    &format!("/subjects?deleted={deleted}&subjectPrefix={}", s(&prefix)),
                    None,
                )
                .await?;
            print(format, &v, lines);
        }
        SchemaCommand::Get {
            subject,
            version,
            id,
            deleted,
        } => {
            let path = match (id, subject) {
                (Some(id), _) => format!("/schemas/ids/{id}"),
                (None, Some(subject)) => format!(
                    "/subjects/{}/versions/{}?deleted={deleted}",
                    s(&subject),
                    s(&version)
                ),
                (None, None) => bail!("give a subject or --id"),
            };
            let v = api.call("GET", &path, None).await?;
            print(format, &v, |v| {
                let mut out = String::new();
                for key in ["subject", "version", "id", "schemaType"] {
                    if let Some(x) = v.get(key) {
                        out.push_str(&format!("{key}: {}\n", plain(x)));
                    }
                }
                if let Some(refs) = v.get("references") {
                    out.push_str(&format!("references: {refs}\n"));
                }
                out.push_str(&plain(&v["schema"]));
                out
            });
        }
        SchemaCommand::Register(input) => {
            let path = format!(
                "/subjects/{}/versions?normalize={}",
                s(&input.subject),
                input.normalize
            );
            let v = api.call("POST", &path, Some(input.body()?)).await?;
            print(format, &v, |v| {
                format!("registered {} with id {}", input.subject, v["id"])
            });
        }
        SchemaCommand::Check { input, version } => {
            let mut path = format!("/compatibility/subjects/{}/versions", s(&input.subject));
            if let Some(v) = &version {
                path.push('/');
                path.push_str(&s(v));
            }
            path.push_str(&format!("?verbose=true&normalize={}", input.normalize));
            let v = api.call("POST", &path, Some(input.body()?)).await?;
            let compatible = v["is_compatible"].as_bool() == Some(true);
            print(format, &v, |v| {
                if compatible {
                    "compatible".to_string()
                } else {
                    let mut out = "incompatible:".to_string();
                    for m in v["messages"].as_array().into_iter().flatten() {
                        out.push_str(&format!("\n  {}", plain(m)));
                    }
                    out
                }
            });
            if !compatible {
                bail!("the schema is incompatible with {}", input.subject);
            }
        }
        SchemaCommand::Delete {
            subject,
            version,
            permanent,
        } => {
            let path = match &version {
                Some(v) => format!(
                    "/subjects/{}/versions/{}?permanent={permanent}",
                    s(&subject),
                    s(v)
                ),
                None => format!("/subjects/{}?permanent={permanent}", s(&subject)),
            };
            let v = api.call("DELETE", &path, None).await?;
            print(format, &v, |v| format!("deleted {subject} version(s) {v}"));
        }
        SchemaCommand::Config {
            subject,
            set,
            delete,
        } => {
            let path = match &subject {
                Some(sub) => format!("/config/{}", s(sub)),
                None => "/config".to_string(),
            };
            let v = match (set, delete) {
                (Some(level), _) => {
                    api.call("PUT", &path, Some(json!({"compatibility": level})))
                        .await?
                }
                (None, true) => api.call("DELETE", &path, None).await?,
                (None, false) => {
                    api.call("GET", &format!("{path}?defaultToGlobal=true"), None)
                        .await?
                }
            };
            print(format, &v, |v| {
                plain(
                    v.get("compatibilityLevel")
                        .or(v.get("compatibility"))
                        .unwrap_or(v),
                )
            });
        }
        SchemaCommand::Mode {
            subject,
            set,
            delete,
            force,
        } => {
            let path = match &subject {
                Some(sub) => format!("/mode/{}", s(sub)),
                None => "/mode".to_string(),
            };
            let v = match (set, delete) {
                (Some(mode), _) => {
                    api.call(
                        "PUT",
                        &format!("{path}?force={force}"),
                        Some(json!({"mode": mode})),
                    )
                    .await?
                }
                (None, true) => api.call("DELETE", &path, None).await?,
                (None, false) => {
                    api.call("GET", &format!("{path}?defaultToGlobal=true"), None)
                        .await?
                }
            };
            print(format, &v, |v| plain(v.get("mode").unwrap_or(v)));
        }
    }
    Ok(())
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn lines(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(plain).collect::<Vec<_>>().join("\n"))
        .unwrap_or_else(|| plain(v))
}

fn print(format: Format, v: &Value, text: impl FnOnce(&Value) -> String) {
    match format {
        Format::Json => println!("{v}"),
        Format::Text => {
            let t = text(v);
            if !t.is_empty() {
                println!("{t}");
            }
        }
    }
}

/// A plain-HTTP client of one registry.
struct Api {
    authority: String,
}

impl Api {
    fn new(url: &str) -> Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else {
            if url.starts_with("https://") {
                bail!("registry URL '{url}': https is not supported by the command line yet; use the plain-HTTP listener");
            }
            bail!("registry URL '{url}' must start with http://");
        };
        let authority = rest.trim_end_matches('/').to_string();
        if authority.is_empty() || authority.contains('/') || authority.contains('@') {
            bail!("registry URL '{url}' must be http://HOST:PORT");
        }
        Ok(Self { authority })
    }

    /// One request; the JSON answer, or an error naming Confluent's code and message.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(&self.authority)
                .await
                .with_context(|| {
                    format!("cannot reach the schema registry at {}", self.authority)
                })?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let req = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", &self.authority)
                .header("accept", "application/vnd.schemaregistry.v1+json")
                .header("content-type", "application/vnd.schemaregistry.v1+json")
                .body(axum::body::Body::from(
                    body.map(|b| b.to_string()).unwrap_or_default(),
                ))?;
            let answer = sender.send_request(req).await?;
            let status = answer.status();
            let bytes =
                axum::body::to_bytes(axum::body::Body::new(answer.into_body()), 64 << 20).await?;
            anyhow::Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(Duration::from_secs(60), exchange)
            .await
            .context("the schema registry did not answer within 60 s")??;
        let value: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        if !status.is_success() {
            let code = value.get("error_code").map(plain).unwrap_or_default();
            let message = value
                .get("message")
                .map(plain)
                .unwrap_or_else(|| plain(&value));
            bail!("{method} {path}: {status} (error {code}): {message}");
        }
        Ok(value)
    }
}
