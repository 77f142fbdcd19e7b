//! `strata user create|set-password|delete|list`: SCRAM users through
//! AlterUserScramCredentials (salted here, never sent in clear) and
//! DescribeUserScramCredentials.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use strata_client::error::codes::RESOURCE_NOT_FOUND;
use strata_client::{Admin, ClientConfig, ScramChange, ScramMechanism, UserScramCredentials};

use crate::cli::Format;

/// The environment variable a password may come from.
pub const PASSWORD_ENV: &str = "STRATA_USER_PASSWORD";

/// User actions.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user (fails if it already has a credential for the mechanism).
    Create(PasswordArgs),
    /// Change an existing user's password (or add a mechanism to it).
    SetPassword(PasswordArgs),
    /// Delete a user's credentials (all mechanisms unless --mechanism).
    Delete {
        /// User name.
        name: String,
        /// Only this mechanism's credential.
        #[arg(long, value_parser = parse_mechanism)]
        mechanism: Option<ScramMechanism>,
    },
    /// List users and their mechanisms (all users unless named).
    List {
        /// User names.
        names: Vec<String>,
    },
}

/// Flags of `user create` / `user set-password`.
#[derive(Args, Debug)]
pub struct PasswordArgs {
    /// User name.
    pub name: String,
    /// The password (visible in the process list: prefer --password-file or
    /// STRATA_USER_PASSWORD).
    #[arg(long, conflicts_with = "password_file")]
    pub password: Option<String>,
    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// SCRAM-SHA-256 or SCRAM-SHA-512.
    #[arg(long, default_value = "SCRAM-SHA-512", value_parser = parse_mechanism)]
    pub mechanism: ScramMechanism,
    /// PBKDF2 iterations (4096 to 16384).
    #[arg(long, default_value_t = 4096)]
    pub iterations: u32,
}

fn parse_mechanism(s: &str) -> Result<ScramMechanism, String> {
    ScramMechanism::from_name(&s.to_ascii_uppercase())
        .ok_or_else(|| format!("unknown mechanism '{s}' (SCRAM-SHA-256 or SCRAM-SHA-512)"))
}

/// The password: --password, --password-file, $STRATA_USER_PASSWORD, or (only on a
/// terminal) a prompt without echo.
pub fn password(a: &PasswordArgs, env: Option<String>) -> Result<String> {
    let p = if let Some(p) = &a.password {
        p.clone()
    } else if let Some(f) = &a.password_file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading the password file {}", f.display()))?;
        text.lines().next().unwrap_or("").to_string()
    } else if let Some(p) = env {
        p
    } else if std::io::stdin().is_terminal() {
        prompt(&format!("Password for {}: ", a.name))?
    } else {
        bail!("no password: give --password, --password-file or {PASSWORD_ENV}");
    };
    if p.is_empty() {
        bail!("the password is empty");
    }
    Ok(p)
}

/// Reads a line from the terminal with echo off.
fn prompt(text: &str) -> Result<String> {
    eprint!("{text}");
    std::io::stderr().flush()?;
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a terminal fd.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `saved` is a valid termios to write into.
    let have_tty = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if have_tty {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: `quiet` is a termios obtained from tcgetattr.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line);
    if have_tty {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The user's credentials, or `None` when it has none.
async fn existing(admin: &Admin, name: &str) -> Result<Option<UserScramCredentials>> {
    match admin
        .describe_user_scram_credentials(Some(&[name.to_string()]))
        .await
    {
        Ok(mut v) => Ok(v.pop()),
        // RESOURCE_NOT_FOUND: the user has no credentials.
        Err(e) if e.code() == Some(RESOURCE_NOT_FOUND) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn user_json(u: &UserScramCredentials) -> Value {
    json!({
        "user": u.user,
        "credentials": u.credentials.iter().map(|(m, i)| json!({
            "mechanism": m.name(),
            "iterations": i,
        })).collect::<Vec<_>>(),
    })
}

async fn alter(admin: &Admin, changes: &[ScramChange]) -> Result<()> {
    let mut errors = Vec::new();
    for (_, r) in admin.alter_user_scram_credentials(changes).await? {
        if let Err(e) = r {
            errors.push(e.to_string());
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(())
}

/// Runs a user command.
pub async fn run(cmd: UserCommand, config: ClientConfig, format: Format) -> Result<()> {
    let admin = Admin::new(config)?;
    let mut out = std::io::stdout().lock();
    let (action, name, mechanisms) = match cmd {
        UserCommand::Create(a) => {
            let password = password(&a, std::env::var(PASSWORD_ENV).ok())?;
            if let Some(u) = existing(&admin, &a.name).await? {
                if u.credentials.iter().any(|(m, _)| *m == a.mechanism) {
                    bail!(
                        "user '{}' already has a {} credential; use `strata user set-password`",
                        a.name,
                        a.mechanism
                    );
                }
            }
            upsert(&admin, &a, password).await?;
            ("created", a.name, vec![a.mechanism])
        }
        UserCommand::SetPassword(a) => {
            let password = password(&a, std::env::var(PASSWORD_ENV).ok())?;
            if existing(&admin, &a.name).await?.is_none() {
                bail!("user '{}' does not exist; use `strata user create`", a.name);
            }
            upsert(&admin, &a, password).await?;
            ("updated", a.name, vec![a.mechanism])
        }
        UserCommand::Delete { name, mechanism } => {
            let mechanisms = match mechanism {
                Some(m) => vec![m],
                None => match existing(&admin, &name).await? {
                    Some(u) => u.credentials.iter().map(|(m, _)| *m).collect(),
                    None => bail!("user '{name}' does not exist (RESOURCE_NOT_FOUND)"),
                },
            };
            let changes: Vec<ScramChange> = mechanisms
                .iter()
                .map(|m| ScramChange::Delete {
                    user: name.clone(),
                    mechanism: *m,
                })
                .collect();
            alter(&admin, &changes).await?;
            ("deleted", name, mechanisms)
        }
        UserCommand::List { names } => {
            let filter = (!names.is_empty()).then_some(names.as_slice());
            let users = admin.describe_user_scram_credentials(filter).await?;
            match format {
                Format::Text => {
                    if users.is_empty() {
                        writeln!(out, "no SCRAM users")?;
                    }
                    for u in &users {
                        let creds: Vec<String> = u
                            .credentials
                            .iter()
                            .map(|(m, i)| format!("{m} ({i} iterations)"))
                            .collect();
                        writeln!(out, "{}\t{}", u.user, creds.join(", "))?;
                    }
                }
                Format::Json => {
                    let list: Vec<Value> = users.iter().map(user_json).collect();
                    writeln!(out, "{}", json!({ "users": list }))?;
                }
            }
            return Ok(());
        }
    };
    let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
    match format {
        Format::Text => writeln!(out, "{action} user '{name}' ({})", names.join(", "))?,
        Format::Json => writeln!(
            out,
            "{}",
            json!({ "user": name, "action": action, "mechanisms": names })
        )?,
    }
    Ok(())
}

async fn upsert(admin: &Admin, a: &PasswordArgs, password: String) -> Result<()> {
    alter(
        admin,
        &[ScramChange::Upsert {
            user: a.name.clone(),
            mechanism: a.mechanism,
            iterations: a.iterations,
            password,
        }],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(password: Option<&str>, file: Option<PathBuf>) -> PasswordArgs {
        PasswordArgs {
            name: "alice".into(),
            password: password.map(str::to_string),
            password_file: file,
            mechanism: ScramMechanism::Sha512,
            iterations: 4096,
        }
    }

    #[test]
    fn password_sources_in_order() {
        assert_eq!(
            password(&args(Some("flag"), None), Some("env".into())).expect("flag"),
            "flag"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("pw");
        std::fs::write(&f, "from-file\nsecond line\n").expect("write");
        assert_eq!(
            password(&args(None, Some(f)), Some("env".into())).expect("file"),
            "from-file"
        );
        assert_eq!(
            password(&args(None, None), Some("env".into())).expect("env"),
            "env"
        );
        assert!(password(&args(Some(""), None), None).is_err(), "empty");
    }

    #[test]
    fn mechanism_names() {
        assert_eq!(parse_mechanism("scram-sha-256"), Ok(ScramMechanism::Sha256));
        assert!(parse_mechanism("PLAIN").is_err());
    }
}
