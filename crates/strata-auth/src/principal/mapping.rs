//! `ssl.principal.mapping.rules`: from a certificate's distinguished name to
//! a short user name.
//!
//! The value is a list of rules, separated by commas or line breaks (with
//! any whitespace around), tried in order; the first that matches decides:
//! - `DEFAULT`: the whole distinguished name;
//! - `RULE:pattern/replacement/` with an optional `L` or `U` after the last
//!   slash (lower- or upper-case the result): when `pattern` matches the
//!   whole name, every match of it is replaced by `replacement`, where `$n`
//!   is the n-th group (`$0` the match, `${name}` a named group) and `\x` is
//!   a literal `x`. A `/` inside the pattern or replacement is written `\/`;
//!   commas inside the pattern need no escape.
//!
//! Empty rules are skipped. Patterns use the `regex` crate's syntax, which
//! covers the Java syntax such rules use in practice (groups, classes, lazy
//! quantifiers, anchors) but has no look-around or back-references; such a
//! pattern is refused when parsed. Text after the `L`/`U` flag is refused
//! too (Kafka ignores it).

use std::fmt;

use regex::{Captures, Regex};

/// The outcome of a mapping with no rule that applies.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no principal mapping rule applies to the distinguished name")]
pub struct NoMatch;

/// Why a rule list was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MappingRuleError {
    /// A rule that is neither `DEFAULT` nor `RULE:pattern/replacement/[LU]`.
    #[error("invalid principal mapping rule: `{0}`")]
    InvalidRule(String),
    /// The pattern of a rule does not compile.
    #[error("invalid pattern in principal mapping rule `{rule}`: {reason}")]
    InvalidPattern {
        /// The rule's pattern.
        rule: String,
        /// The compiler's message.
        reason: String,
    },
    /// The replacement refers to a group the pattern lacks, or ends in a
    /// lone `\` or `$`.
    #[error("invalid replacement in principal mapping rule: `{0}`")]
    InvalidReplacement(String),
}

/// A parsed list of mapping rules.
#[derive(Clone, Debug)]
pub struct PrincipalMappingRules {
    rules: Vec<Rule>,
}

#[derive(Clone, Debug)]
enum Rule {
    Default,
    Replace {
        /// The rule as written, from `RULE:` on.
        text: String,
        search: Regex,
        whole: Regex,
        replacement: Vec<Piece>,
        case: Case,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

impl Default for PrincipalMappingRules {
    /// Kafka's default, `DEFAULT`: the whole distinguished name.
    fn default() -> Self {
        PrincipalMappingRules {
            rules: vec![Rule::Default],
        }
    }
}

impl PrincipalMappingRules {
    /// Parses a rule list (the value of `ssl.principal.mapping.rules`). An
    /// empty list maps nothing.
    pub fn parse(rules: &str) -> Result<Self, MappingRuleError> {
        let mut parsed = Vec::new();
        let mut rest = rules.trim_start();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix(',') {
                rest = after.trim_start();
                continue;
            }
            let (rule, after) = if let Some(after) = rest.strip_prefix("DEFAULT") {
                (Rule::Default, after)
            } else if let Some(after) = rest.strip_prefix("RULE:") {
                parse_replace(rest, after)?
            } else {
                return Err(MappingRuleError::InvalidRule(first_rule(rest)));
            };
            parsed.push(rule);
            // A separator (comma or line break) or the end must follow.
            let trimmed = after.trim_start_matches([' ', '\t']);
            rest = if trimmed.is_empty() {
                trimmed
            } else if let Some(next) = trimmed.strip_prefix(',') {
                next.trim_start()
            } else if trimmed.starts_with(['\n', '\r']) {
                trimmed.trim_start()
            } else {
                return Err(MappingRuleError::InvalidRule(first_rule(rest)));
            };
        }
        Ok(PrincipalMappingRules { rules: parsed })
    }

    /// The short name for a distinguished name (as [`super::subject_dn`]
    /// formats it): the result of the first rule that applies.
    pub fn apply(&self, dn: &str) -> Result<String, NoMatch> {
        self.rules
            .iter()
            .find_map(|rule| rule.apply(dn))
            .ok_or(NoMatch)
    }
}

impl fmt::Display for PrincipalMappingRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rule) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match rule {
                Rule::Default => f.write_str("DEFAULT")?,
                Rule::Replace { text, .. } => f.write_str(text)?,
            }
        }
        Ok(())
    }
}

impl Rule {
    fn apply(&self, dn: &str) -> Option<String> {
        let Rule::Replace {
            search,
            whole,
            replacement,
            case,
            ..
        } = self
        else {
            return Some(dn.to_owned());
        };
        if !whole.is_match(dn) {
            return None;
        }
        let mapped = search
            .replace_all(dn, |caps: &Captures<'_>| expand(replacement, caps))
            .into_owned();
        Some(match case {
            Case::Keep => mapped,
            Case::Lower => mapped.to_lowercase(),
            Case::Upper => mapped.to_uppercase(),
        })
    }
}

fn expand(pieces: &[Piece], caps: &Captures<'_>) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Group(i) => out.push_str(caps.get(*i).map_or("", |m| m.as_str())),
            Piece::Named(n) => out.push_str(caps.name(n).map_or("", |m| m.as_str())),
        }
    }
    out
}

/// The text of the rule starting at `s`, for messages.
fn first_rule(s: &str) -> String {
    s.split([',', '\n'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Reads up to the next `/` not escaped by a backslash; returns the raw
/// text (escapes kept) and what follows the slash.
fn until_slash(s: &str) -> Option<(&str, &str)> {
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next()?;
            }
            '/' => return Some((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    None
}

/// Parses `pattern/replacement/[LU]` after `RULE:`; `rule` is the text from
/// `RULE:` on, for messages.
fn parse_replace<'a>(rule: &str, body: &'a str) -> Result<(Rule, &'a str), MappingRuleError> {
    let bad = || MappingRuleError::InvalidRule(first_rule(rule));
    let (pattern, rest) = until_slash(body).ok_or_else(bad)?;
    let (replacement, rest) = until_slash(rest).ok_or_else(bad)?;
    let (case, rest) = match rest.as_bytes().first() {
        Some(b'L') => (Case::Lower, &rest[1..]),
        Some(b'U') => (Case::Upper, &rest[1..]),
        _ => (Case::Keep, rest),
    };
    let pattern = pattern.replace("\\/", "/");
    let compile = |p: &str| {
        Regex::new(p).map_err(|e| MappingRuleError::InvalidPattern {
            rule: pattern.clone(),
            reason: e.to_string(),
        })
    };
    let search = compile(&pattern)?;
    let whole = compile(&format!(r"\A(?:{pattern})\z"))?;
    let replacement = parse_replacement(replacement, &search)?;
    let text = rule[..rule.len() - rest.len()].to_owned();
    Ok((
        Rule::Replace {
            text,
            search,
            whole,
            replacement,
            case,
        },
        rest,
    ))
}

/// Parses a replacement with Java's `Matcher` syntax, plus Kafka's rule that
/// a `$n` naming a group the pattern lacks is literal text.
fn parse_replacement(text: &str, pattern: &Regex) -> Result<Vec<Piece>, MappingRuleError> {
    let groups = pattern.captures_len() - 1;
    let bad = || MappingRuleError::InvalidReplacement(text.to_owned());
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => literal.push(chars.next().ok_or_else(bad)?),
            '$' => match chars.peek().copied() {
                Some('{') => {
                    chars.next();
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed || !pattern.capture_names().any(|n| n == Some(name.as_str())) {
                        return Err(bad());
                    }
                    flush(&mut pieces, &mut literal);
                    pieces.push(Piece::Named(name));
                }
                Some(d) if d.is_ascii_digit() => {
                    let first = d.to_digit(10).unwrap_or_default() as usize;
                    if first > groups {
                        if groups == 0 {
                            return Err(bad());
                        }
                        // Kafka keeps a reference to a missing group as text.
                        literal.push('$');
                        continue;
                    }
                    chars.next();
                    let mut index = first;
                    while let Some(next) = chars.peek().and_then(|c| c.to_digit(10)) {
                        let longer = index * 10 + next as usize;
                        if longer > groups {
                            break;
                        }
                        index = longer;
                        chars.next();
                    }
                    flush(&mut pieces, &mut literal);
                    pieces.push(Piece::Group(index));
                }
                _ => return Err(bad()),
            },
            _ => literal.push(c),
        }
    }
    flush(&mut pieces, &mut literal);
    Ok(pieces)
}

fn flush(pieces: &mut Vec<Piece>, literal: &mut String) {
    if !literal.is_empty() {
        pieces.push(Piece::Text(std::mem::take(literal)));
    }
}
