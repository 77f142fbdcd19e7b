//! Connection profiles, like rpk's: named sets of brokers and client settings in
//! `profiles.toml` (under `$STRATA_CONFIG_HOME`, else `$XDG_CONFIG_HOME/strata`, else
//! `~/.config/strata`). Client commands use the current profile (or `--profile NAME`) when
//! no `-b` / `STRATA_BOOTSTRAP` is given; flags and `-X` override its values.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cli::Format;
use crate::client_settings::Setting;

/// The port a broker address without one gets, Kafka's default.
pub const DEFAULT_PORT: u16 = 9092;

/// Profile actions.
#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Create (or replace) a profile and make it the current one.
    Create(CreateArgs),
    /// Make a profile the current one.
    Use {
        /// Profile name.
        name: String,
    },
    /// List profiles (the current one marked `*`).
    List,
    /// Delete a profile.
    Delete {
        /// Profile name.
        name: String,
    },
    /// Show a profile's brokers and settings (passwords hidden) [default: the current one].
    Show {
        /// Profile name.
        name: Option<String>,
    },
}

/// Flags of `profile create`; any client setting can also be given with `-X KEY=VALUE`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Profile name.
    pub name: String,
    /// Broker(s), HOST[:PORT][,HOST[:PORT]...] (port 9092 when left out).
    #[arg(long, value_name = "HOSTS")]
    pub brokers: Option<String>,
    /// SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    #[arg(long, value_name = "MECHANISM")]
    pub sasl_mechanism: Option<String>,
    /// SASL user name.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// SASL password (stored in the profile file, which is made readable by you only).
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Connect with TLS.
    #[arg(long)]
    pub tls: bool,
    /// CA certificate file (PEM) to verify brokers with; implies --tls.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<String>,
    /// Client certificate file (PEM) for mutual TLS; implies --tls.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<String>,
    /// Client key file (PEM) for mutual TLS; implies --tls.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<String>,
}

/// One profile as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Broker list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brokers: Option<String>,
    /// Client settings by librdkafka's names (the `-X` keys).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

/// The profiles file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profiles {
    /// The profile client commands use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// Where the profiles file is, from the environment.
pub fn config_path() -> Result<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = if let Some(d) = var("STRATA_CONFIG_HOME") {
        d
    } else if let Some(d) = var("XDG_CONFIG_HOME") {
        d.join("strata")
    } else if let Some(h) = var("HOME") {
        h.join(".config").join("strata")
    } else {
        bail!("cannot find a config directory: set STRATA_CONFIG_HOME or HOME");
    };
    Ok(dir.join("profiles.toml"))
}

impl Profiles {
    /// Reads the file; a missing file is no profiles.
    pub fn load(path: &Path) -> Result<Profiles> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("reading profiles file {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profiles::default()),
            Err(e) => Err(e).with_context(|| format!("reading profiles file {}", path.display())),
        }
    }

    /// Writes the file (readable by its owner only: it may hold passwords).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating config directory {}", dir.display()))?;
        }
        let text = toml::to_string(self).context("encoding profiles")?;
        let tmp = path.with_extension("toml.tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    fn get(&self, name: &str) -> Result<&Profile> {
        self.profiles.get(name).with_context(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            if known.is_empty() {
                format!(
                    "no profile '{name}' (there are none; create one with `strata profile create`)"
                )
            } else {
                format!("no profile '{name}' (profiles: {})", known.join(", "))
            }
        })
    }
}

/// Adds port 9092 to each address that has none: `host`, `[::1]`, a bare IPv6 address.
pub fn with_default_port(list: &str) -> String {
    list.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            if a.starts_with('[') {
                if a.ends_with(']') {
                    format!("{a}:{DEFAULT_PORT}")
                } else {
                    a.to_string()
                }
            } else {
                match a.matches(':').count() {
                    0 => format!("{a}:{DEFAULT_PORT}"),
                    1 => a.to_string(),
                    _ => format!("[{a}]:{DEFAULT_PORT}"),
                }
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What a client command connects with: the brokers and the profile's settings (to go
/// before `-F` and `-X`, which override them).
pub struct Resolved {
    /// Broker list, every address with a port.
    pub bootstrap: String,
    /// The profile's settings.
    pub settings: Vec<Setting>,
}

/// The profile (named by `--profile` / `STRATA_PROFILE`, else the current one, if any) and
/// the brokers: `-b` / `STRATA_BOOTSTRAP` when given, else the profile's, else
/// 127.0.0.1:9092.
pub fn resolve(explicit_bootstrap: Option<&str>, profile: Option<&str>) -> Result<Resolved> {
    // Without a config directory (no HOME) there are no profiles, unless one is asked for.
    let profiles = match (config_path(), profile) {
        (Ok(path), _) => Profiles::load(&path)?,
        (Err(e), Some(_)) => return Err(e),
        (Err(_), None) => Profiles::default(),
    };
    let chosen = match profile {
        Some(name) => Some((name.to_string(), profiles.get(name)?.clone())),
        None => match &profiles.current {
            Some(cur) => profiles.profiles.get(cur).map(|p| (cur.clone(), p.clone())),
            None => None,
        },
    };
    let (brokers, settings) = match &chosen {
        Some((name, p)) => (
            p.brokers.clone(),
            p.settings
                .iter()
                .map(|(k, v)| Setting {
                    key: k.clone(),
                    value: v.clone(),
                    origin: format!("profile '{name}'"),
                })
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    let bootstrap = explicit_bootstrap
        .map(str::to_string)
        .or(brokers)
        .unwrap_or_else(|| format!("127.0.0.1:{DEFAULT_PORT}"));
    Ok(Resolved {
        bootstrap: with_default_port(&bootstrap),
        settings,
    })
}

fn shown(key: &str, value: &str) -> String {
    if key == "sasl.password" {
        "********".to_string()
    } else {
        value.to_string()
    }
}

fn profile_json(name: &str, p: &Profile, current: bool) -> serde_json::Value {
    let settings: BTreeMap<&str, String> = p
        .settings
        .iter()
        .map(|(k, v)| (k.as_str(), shown(k, v)))
        .collect();
    json!({"name": name, "current": current, "brokers": p.brokers, "settings": settings})
}

/// The settings `profile create` stores: the flags' and then `-X`'s.
fn create_settings(a: &CreateArgs, x: &[(String, String)]) -> Result<BTreeMap<String, String>> {
    let mut s = BTreeMap::new();
    let tls = a.tls || a.tls_ca.is_some() || a.tls_cert.is_some() || a.tls_key.is_some();
    let sasl = a.sasl_mechanism.is_some() || a.user.is_some() || a.password.is_some();
    if tls || sasl {
        let protocol = match (sasl, tls) {
            (true, true) => "SASL_SSL",
            (true, false) => "SASL_PLAINTEXT",
            _ => "SSL",
        };
        s.insert("security.protocol".to_string(), protocol.to_string());
    }
    let pairs = [
        ("sasl.mechanism", &a.sasl_mechanism),
        ("sasl.username", &a.user),
        ("sasl.password", &a.password),
        ("ssl.ca.location", &a.tls_ca),
        ("ssl.certificate.location", &a.tls_cert),
        ("ssl.key.location", &a.tls_key),
    ];
    for (k, v) in pairs {
        if let Some(v) = v {
            s.insert(k.to_string(), v.clone());
        }
    }
    for (k, v) in x {
        s.insert(k.clone(), v.clone());
    }
    // Refuse what a client command would refuse later (unknown keys, bad values).
    let check: Vec<Setting> = s
        .iter()
        .map(|(k, v)| Setting {
            key: k.clone(),
            value: v.clone(),
            origin: format!("profile '{}'", a.name),
        })
        .collect();
    let mut probe = strata_client::ClientConfig::default();
    crate::client_settings::apply(&mut probe, &check, &|_| false, &[])?;
    Ok(s)
}

/// Runs a profile command. `x` holds the `-X` settings (stored by `create`); `bootstrap`
/// is an explicit `-b`, which `create` takes when `--brokers` is not given.
pub fn run(
    cmd: ProfileCommand,
    x: &[(String, String)],
    bootstrap: Option<&str>,
    format: Format,
) -> Result<()> {
    let path = config_path()?;
    let mut profiles = Profiles::load(&path)?;
    let mut out = std::io::stdout().lock();
    if !x.is_empty() && !matches!(cmd, ProfileCommand::Create(_)) {
        bail!("-X settings are stored with `profile create`; other profile commands take none");
    }
    match cmd {
        ProfileCommand::Create(a) => {
            if a.name.trim().is_empty() {
                bail!("a profile name cannot be empty");
            }
            let settings = create_settings(&a, x)?;
            let brokers = a
                .brokers
                .as_deref()
                .or(bootstrap)
                .map(with_default_port)
                .filter(|b| !b.is_empty());
            let replaced = profiles
                .profiles
                .insert(a.name.clone(), Profile { brokers, settings })
                .is_some();
            profiles.current = Some(a.name.clone());
            profiles.save(&path)?;
            match format {
                Format::Text => writeln!(
                    out,
                    "{} profile '{}' (now current) in {}",
                    if replaced { "replaced" } else { "created" },
                    a.name,
                    path.display()
                )?,
                Format::Json => writeln!(
                    out,
                    "{}",
                    json!({"profile": a.name, "created": !replaced, "current": true,
                           "file": path.display().to_string()})
                )?,
            }
        }
        ProfileCommand::Use { name } => {
            profiles.get(&name)?;
            profiles.current = Some(name.clone());
            profiles.save(&path)?;
            match format {
                Format::Text => writeln!(out, "current profile: '{name}'")?,
                Format::Json => writeln!(out, "{}", json!({"profile": name, "current": true}))?,
            }
        }
        ProfileCommand::List => match format {
            Format::Text => {
                for (name, p) in &profiles.profiles {
                    let mark = if profiles.current.as_deref() == Some(name) {
                        "*"
                    } else {
                        " "
                    };
                    let brokers = p.brokers.as_deref().unwrap_or("-");
                    writeln!(out, "{mark} {name:20} {brokers}")?;
                }
            }
            Format::Json => {
                let v: Vec<_> = profiles
                    .profiles
                    .iter()
                    .map(|(n, p)| profile_json(n, p, profiles.current.as_deref() == Some(n)))
                    .collect();
                writeln!(out, "{}", serde_json::Value::Array(v))?;
            }
        },
        ProfileCommand::Delete { name } => {
            profiles.get(&name)?;
            profiles.profiles.remove(&name);
            if profiles.current.as_deref() == Some(name.as_str()) {
                profiles.current = None;
            }
            profiles.save(&path)?;
            match format {
                Format::Text => writeln!(out, "deleted profile '{name}'")?,
                Format::Json => writeln!(out, "{}", json!({"profile": name, "deleted": true}))?,
            }
        }
        ProfileCommand::Show { name } => {
            let name = match name.or_else(|| profiles.current.clone()) {
                Some(n) => n,
                None => bail!("no current profile; name one, or `strata profile use NAME`"),
            };
            let p = profiles.get(&name)?;
            let current = profiles.current.as_deref() == Some(name.as_str());
            match format {
                Format::Json => writeln!(out, "{}", profile_json(&name, p, current))?,
                Format::Text => {
                    writeln!(
                        out,
                        "profile: {name}{}",
                        if current { " (current)" } else { "" }
                    )?;
                    writeln!(out, "brokers: {}", p.brokers.as_deref().unwrap_or("-"))?;
                    for (k, v) in &p.settings {
                        writeln!(out, "{k}={}", shown(k, v))?;
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port() {
        assert_eq!(with_default_port("h"), "h:9092");
        assert_eq!(with_default_port("h:1, g ,"), "h:1,g:9092");
        assert_eq!(with_default_port("[::1]"), "[::1]:9092");
        assert_eq!(with_default_port("[::1]:9"), "[::1]:9");
        assert_eq!(with_default_port("::1"), "[::1]:9092");
    }

    #[test]
    fn file_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("profiles.toml");
        assert_eq!(
            Profiles::load(&path).expect("missing is empty"),
            Profiles::default()
        );
        let mut p = Profiles::default();
        p.profiles.insert(
            "prod".into(),
            Profile {
                brokers: Some("a:1".into()),
                settings: [("sasl.username".to_string(), "u".to_string())].into(),
            },
        );
        p.current = Some("prod".into());
        p.save(&path).expect("save");
        assert_eq!(Profiles::load(&path).expect("load"), p);
        std::fs::write(&path, "current = [").expect("write");
        let e = format!("{:#}", Profiles::load(&path).unwrap_err());
        assert!(e.contains("profiles.toml"), "{e}");
    }
}
