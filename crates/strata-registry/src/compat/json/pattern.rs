//! A small regular-expression matcher for `patternProperties` names: literals, `.`,
//! `^`, `$`, classes (`[a-z_]`, `[^0-9]`, `\d`, `\w`, `\s` and their negations) and the
//! quantifiers `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`. Anything else (groups,
//! alternation, look-arounds, back-references) answers [`Match::Maybe`], as does a
//! match that takes too long.

/// Whether a name matches a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    Yes,
    No,
    Maybe,
}

/// Atoms per pattern and steps per match before answering `Maybe`.
const MAX_ATOMS: usize = 256;
const MAX_STEPS: usize = 10_000;

enum Class {
    Char(char),
    Any,
    Set(Vec<(char, char)>, bool),
    Digit(bool),
    Word(bool),
    Space(bool),
}

impl Class {
    fn matches(&self, c: char) -> bool {
        match self {
            Class::Char(x) => *x == c,
            Class::Any => c != '\n',
            Class::Set(ranges, negated) => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
            Class::Digit(neg) => c.is_ascii_digit() != *neg,
            Class::Word(neg) => (c.is_ascii_alphanumeric() || c == '_') != *neg,
            Class::Space(neg) => c.is_whitespace() != *neg,
        }
    }
}

struct Atom {
    class: Class,
    min: usize,
    max: usize,
}

struct Program {
    atoms: Vec<Atom>,
    start: bool,
    end: bool,
}

fn escape(c: char) -> Option<Class> {
    Some(match c {
        'd' => Class::Digit(false),
        'D' => Class::Digit(true),
        'w' => Class::Word(false),
        'W' => Class::Word(true),
        's' => Class::Space(false),
        'S' => Class::Space(true),
        't' => Class::Char('\t'),
        'n' => Class::Char('\n'),
        c if c.is_ascii_punctuation() => Class::Char(c),
        _ => return None,
    })
}

fn compile(pattern: &str) -> Option<Program> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut p = Program {
        atoms: Vec::new(),
        start: false,
        end: false,
    };
    let mut i = 0;
    if chars.first() == Some(&'^') {
        p.start = true;
        i = 1;
    }
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        let class = match c {
            '$' if i == chars.len() => {
                p.end = true;
                break;
            }
            '.' => Class::Any,
            '\\' => {
                let e = *chars.get(i)?;
                i += 1;
                escape(e)?
            }
            '[' => {
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let mut lo = *chars.get(i)?;
                    i += 1;
                    if lo == ']' && !first {
                        break;
                    }
                    first = false;
                    if lo == '\\' {
                        lo = *chars.get(i)?;
                        i += 1;
                        if lo.is_ascii_alphanumeric() {
                            return None; // `\d` and friends inside a class
                        }
                    }
                    if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
                        let hi = *chars.get(i + 1)?;
                        if hi == '\\' || hi < lo {
                            return None;
                        }
                        i += 2;
                        ranges.push((lo, hi));
                    } else {
                        ranges.push((lo, lo));
                    }
                }
                Class::Set(ranges, negated)
            }
            '(' | ')' | '|' | '^' | '$' | '*' | '+' | '?' | '{' | '}' => return None,
            c => Class::Char(c),
        };
        let (mut min, mut max) = (1, 1);
        match chars.get(i) {
            Some('*') => (min, max, i) = (0, usize::MAX, i + 1),
            Some('+') => (min, max, i) = (1, usize::MAX, i + 1),
            Some('?') => (min, max, i) = (0, 1, i + 1),
            Some('{') => {
                let close = chars[i..].iter().position(|c| *c == '}')? + i;
                let body: String = chars[i + 1..close].iter().collect();
                let (lo, hi) = match body.split_once(',') {
                    None => (body.as_str(), Some(body.as_str())),
                    Some((lo, "")) => (lo, None),
                    Some((lo, hi)) => (lo, Some(hi)),
                };
                min = lo.parse().ok()?;
                max = match hi {
                    Some(h) => h.parse().ok()?,
                    None => usize::MAX,
                };
                if max < min {
                    return None;
                }
                i = close + 1;
            }
            _ => {}
        }
        // A lazy `?` after a quantifier changes nothing for a yes/no answer.
        if (min, max) != (1, 1) && chars.get(i) == Some(&'?') {
            i += 1;
        }
        p.atoms.push(Atom { class, min, max });
        if p.atoms.len() > MAX_ATOMS {
            return None;
        }
    }
    Some(p)
}

fn run(p: &Program, a: usize, s: &[char], pos: usize, steps: &mut usize) -> Option<bool> {
    *steps += 1;
    if *steps > MAX_STEPS {
        return None;
    }
    let Some(atom) = p.atoms.get(a) else {
        return Some(!p.end || pos == s.len());
    };
    let mut n = 0;
    while n < atom.max && pos + n < s.len() && atom.class.matches(s[pos + n]) {
        n += 1;
    }
    if n < atom.min {
        return Some(false);
    }
    for k in (atom.min..=n).rev() {
        if run(p, a + 1, s, pos + k, steps)? {
            return Some(true);
        }
    }
    Some(false)
}

/// Whether `name` matches `pattern` (ECMA 262 semantics: the match may be anywhere unless
/// anchored).
pub(crate) fn matches(pattern: &str, name: &str) -> Match {
    let Some(p) = compile(pattern) else {
        return Match::Maybe;
    };
    let s: Vec<char> = name.chars().collect();
    let mut steps = 0;
    let starts = if p.start { 0..=0 } else { 0..=s.len() };
    for start in starts {
        match run(&p, 0, &s, start, &mut steps) {
            Some(true) => return Match::Yes,
            Some(false) => {}
            None => return Match::Maybe,
        }
    }
    Match::No
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset() {
        assert_eq!(matches("^x_", "x_a"), Match::Yes);
        assert_eq!(matches("^x_", "ax_"), Match::No);
        assert_eq!(matches("x_", "ax_"), Match::Yes);
        assert_eq!(matches("^[a-z]+$", "abc"), Match::Yes);
        assert_eq!(matches("^[a-z]+$", "abC"), Match::No);
        assert_eq!(matches("^S_\\d{2,3}$", "S_123"), Match::Yes);
        assert_eq!(matches("^S_\\d{2,3}$", "S_1"), Match::No);
        assert_eq!(matches("^[^0-9].*", "a1"), Match::Yes);
        assert_eq!(matches(".*", ""), Match::Yes);
        assert_eq!(matches("^(a|b)$", "a"), Match::Maybe);
        assert_eq!(matches("a{2}b?$", "xaa"), Match::Yes);
        assert_eq!(
            matches("^a*a*a*a*a*a*a*a*a*a*a*b$", &"a".repeat(64)),
            Match::Maybe
        );
    }
}
