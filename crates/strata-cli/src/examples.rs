//! An "Examples:" block in every subcommand's `--help`, kept in one table so a test can
//! check that every leaf command has one and that each example parses.

/// `(command path, example command lines)`.
pub const EXAMPLES: &[(&str, &[&str])] = &[
    ("server", &[
        "strata server --data-dir ./data --listen 0.0.0.0:9092",
        "strata server --config strata.toml --set log.retention.hours=24",
    ]),
    ("cluster up", &[
        "strata cluster up --nodes 3 --dir ./strata-cluster",
        "strata cluster up --nodes 3 --base-port 19092 --rack-per-node",
    ]),
    ("cluster info", &[
        "strata cluster info -b 127.0.0.1:19092",
        "strata cluster info --format json",
    ]),
    ("cluster quorum", &["strata cluster quorum", "strata cluster quorum --format json"]),
    ("topic create", &[
        "strata topic create orders --partitions 6 --replication-factor 3",
        "strata topic create events --config retention.ms=86400000 --config cleanup.policy=compact",
    ]),
    ("topic list", &[
        "strata topic list",
        "strata topic list --internal --format json",
    ]),
    ("topic describe", &["strata topic describe orders", "strata topic describe orders --format json"]),
    ("topic alter-config", &[
        "strata topic alter-config orders --set retention.ms=3600000 --delete segment.ms",
    ]),
    ("topic delete", &["strata topic delete orders"]),
    ("topic add-partitions", &[
        "strata topic add-partitions orders --num 12    # grow to 12 partitions in total",
        "strata topic add-partitions orders --add 2     # two more than it has",
    ]),
    ("topic trim", &[
        "strata topic trim orders --partition 0 --offset 1000",
        "strata topic trim orders --all-partitions --offset end   # empty every partition",
    ]),
    ("group list", &["strata group list", "strata group list --state Stable --state Empty"]),
    ("group describe", &[
        "strata group describe billing",
        "strata group describe billing audit --isolation read_committed --format json",
    ]),
    ("group delete", &["strata group delete billing", "strata group delete old-1 old-2"]),
    ("group reset-offsets", &[
        "strata group reset-offsets billing --topic orders --to-earliest            # dry run",
        "strata group reset-offsets billing --topic orders --shift-by -100 --execute",
        "strata group reset-offsets billing --all-topics --by-duration PT10M --execute",
        "strata group reset-offsets billing --topic orders --to-datetime 2026-11-23T10:00:00Z",
        "strata group reset-offsets g1 g2 --all-topics --to-current --execute",
    ]),
    ("group offset-delete", &[
        "strata group offset-delete billing --topic retired",
        "strata group offset-delete billing --topic orders --partition 0 --partition 1",
    ]),
    ("broker config", &[
        "strata broker config",
        "strata broker config --broker 1 --set log.retention.ms=86400000",
        "strata broker config --set log.cleaner.threads=2    # cluster-wide default",
    ]),
    ("bench produce", &[
        "strata bench produce --topic bench --records 1000000 --record-size 100",
        "strata bench produce --topic bench --records 60000 --rate 1000 --acks all   # latency at 1000 records/s",
    ]),
    ("bench consume", &["strata bench consume --topic bench --records 1000000"]),
    ("bench commit", &["strata bench commit --topic bench --partitions 8 --seconds 10"]),
    ("bench registry", &["strata bench registry --registry http://127.0.0.1:8081 --seconds 10"]),
    ("acl create", &[
        "strata acl create --allow --principal User:alice --operation read --topic orders",
        "strata acl create --allow --principal User:app --operation write --topic orders- --pattern prefixed",
        "strata acl create --deny --principal User:bob --operation all --group '*'",
    ]),
    ("acl list", &["strata acl list", "strata acl list --principal User:alice --format json"]),
    ("acl delete", &["strata acl delete --principal User:alice --topic orders"]),
    ("user create", &[
        "strata user create alice --password-file alice.pw",
        "strata user create alice --password s3cret --mechanism SCRAM-SHA-512",
    ]),
    ("user set-password", &["strata user set-password alice --password-file alice.pw"]),
    ("user delete", &["strata user delete alice", "strata user delete alice --mechanism SCRAM-SHA-256"]),
    ("user list", &["strata user list", "strata user list alice bob --format json"]),
    ("quota set", &[
        "strata quota set --user alice --producer-byte-rate 1048576",
        "strata quota set --default-client-id --consumer-byte-rate 10485760",
        "strata quota set --user alice --remove producer_byte_rate",
    ]),
    ("quota list", &["strata quota list", "strata quota list --user alice --format json"]),
    ("log verify", &["strata log verify ./data", "strata log verify ./data/orders-0"]),
    ("profile create", &[
        "strata profile create local --brokers localhost",
        "strata profile create prod --brokers k1:9093,k2:9093 --sasl-mechanism SCRAM-SHA-512 --user app --password s3cret --tls-ca ca.pem",
        "strata profile create mtls --brokers k1:9093 --tls-cert me.pem --tls-key me.key -X enable.ssl.certificate.verification=true",
    ]),
    ("profile use", &["strata profile use prod"]),
    ("profile list", &["strata profile list", "strata profile list --format json"]),
    ("profile delete", &["strata profile delete old"]),
    ("profile show", &["strata profile show", "strata profile show prod --format json"]),
    ("completions", &[
        "strata completions bash > ~/.local/share/bash-completion/completions/strata",
        "strata completions zsh > \"${fpath[1]}/_strata\"",
        "strata completions fish > ~/.config/fish/completions/strata.fish",
    ]),
    ("schema list", &["strata schema list -r http://127.0.0.1:8081", "strata schema list --prefix orders-"]),
    ("schema get", &["strata schema get orders-value", "strata schema get --id 1"]),
    ("schema register", &[
        "strata schema register orders-value --file order.avsc",
        "strata schema register orders-value --type JSON --schema '{\"type\":\"object\"}'",
    ]),
    ("schema check", &["strata schema check orders-value --file order.avsc"]),
    ("schema delete", &["strata schema delete orders-value", "strata schema delete orders-value --permanent"]),
    ("schema config", &["strata schema config", "strata schema config orders-value --set FULL_TRANSITIVE"]),
    ("schema mode", &["strata schema mode", "strata schema mode --set READONLY"]),
];

/// The examples of the command at `path` (e.g. `topic create`).
pub fn for_path(path: &str) -> Option<&'static [&'static str]> {
    EXAMPLES.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
}

/// Adds each command's examples to its help, recursively.
pub fn attach(cmd: clap::Command) -> clap::Command {
    attach_at(cmd, "")
}

fn attach_at(mut cmd: clap::Command, path: &str) -> clap::Command {
    let own = cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some();
    if let (false, Some(lines)) = (own, for_path(path)) {
        let mut text = String::from("Examples:\n");
        for l in lines {
            text.push_str("  ");
            text.push_str(l);
            text.push('\n');
        }
        cmd = cmd.after_help(text.trim_end().to_string());
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for n in names {
        let sub = if path.is_empty() {
            n.clone()
        } else {
            format!("{path} {n}")
        };
        cmd = cmd.mut_subcommand(n, |c| attach_at(c, &sub));
    }
    cmd
}

#[cfg(test)]
mod tests {
    use crate::cli::Cli;

    /// The argv of the `strata ...` command in an example line: words split as a shell
    /// would (quotes), up to a comment, pipe or redirection.
    fn strata_argv(line: &str) -> Option<Vec<String>> {
        let start = line.find("strata ")?;
        let mut words = Vec::new();
        let mut word = String::new();
        let mut in_word = false;
        let mut quote: Option<char> = None;
        let mut chars = line[start..].chars();
        while let Some(c) = chars.next() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some('"'), '\\') => {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                }
                (Some(_), c) => word.push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    in_word = true;
                }
                (None, '#' | '|' | '<' | '>') if !in_word => break,
                (None, c) if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                (None, c) => {
                    word.push(c);
                    in_word = true;
                }
            }
        }
        if in_word {
            words.push(word);
        }
        Some(words)
    }

    fn leaves(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Command)>) {
        let subs: Vec<&clap::Command> = cmd
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .collect();
        if subs.is_empty() {
            out.push((path.to_string(), cmd.clone()));
        }
        for s in subs {
            let p = format!("{path} {}", s.get_name()).trim().to_string();
            leaves(s, &p, out);
        }
    }

    #[test]
    fn every_leaf_command_has_examples_that_parse() {
        let mut all = Vec::new();
        leaves(&Cli::full_command(), "", &mut all);
        assert!(all.len() > 30, "found only {} commands", all.len());
        let mut problems = Vec::new();
        for (path, cmd) in &all {
            let help = cmd
                .get_after_long_help()
                .or(cmd.get_after_help())
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !help.contains("Example") {
                problems.push(format!("`strata {path}` has no Examples block"));
                continue;
            }
            let mut n = 0;
            for line in help.lines() {
                let Some(argv) = strata_argv(line) else {
                    continue;
                };
                n += 1;
                if let Err(e) = Cli::try_parse_all_from(&argv) {
                    problems.push(format!("`{}`: {e}", line.trim()));
                    continue;
                }
                let Ok(m) = Cli::full_command().try_get_matches_from(&argv) else {
                    continue;
                };
                let mut parsed = Vec::new();
                let mut level = m.subcommand();
                while let Some((name, sub)) = level {
                    parsed.push(name.to_string());
                    level = sub.subcommand();
                }
                if parsed.join(" ") != *path {
                    problems.push(format!("`{}` is not an example of `{path}`", line.trim()));
                }
            }
            if n == 0 {
                problems.push(format!(
                    "`strata {path}`: no `strata ...` line in its examples"
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn argv_splitting() {
        assert_eq!(
            strata_argv("  echo x | strata produce t -K : # note").unwrap(),
            ["strata", "produce", "t", "-K", ":"]
        );
        assert_eq!(
            strata_argv("strata x -f '%t %v' --s \"{\\\"a\\\"}\" > out").unwrap(),
            ["strata", "x", "-f", "%t %v", "--s", "{\"a\"}"]
        );
    }
}
