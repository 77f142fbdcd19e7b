//! Query parameters of the admin API: parsed from the raw query string, each name at
//! most once and only the names an endpoint knows, values percent-decoded (UTF-8) and
//! length-capped, numbers within their ranges; and the paging every list shares.

use std::collections::BTreeMap;

use super::ApiError;

/// Longest query string read.
pub const MAX_QUERY_BYTES: usize = 4096;
/// Longest value of one parameter (a topic name is at most 249 characters).
pub const MAX_VALUE_CHARS: usize = 256;
/// Highest paging offset.
pub const MAX_OFFSET: usize = 10_000_000;

/// The parameters of one request.
#[derive(Debug, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parses `raw` (the query string, without `?`), accepting only `allowed` names.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let raw = raw.unwrap_or("");
        if raw.len() > MAX_QUERY_BYTES {
            return Err(ApiError::bad_request(format!(
                "the query string is longer than {MAX_QUERY_BYTES} bytes"
            )));
        }
        let mut values = BTreeMap::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k)?;
            let v = decode(v)?;
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::bad_request(if allowed.is_empty() {
                    format!("unknown query parameter '{k}': this endpoint takes none")
                } else {
                    format!(
                        "unknown query parameter '{k}' (known: {})",
                        allowed.join(", ")
                    )
                }));
            }
            if v.chars().count() > MAX_VALUE_CHARS {
                return Err(ApiError::bad_request(format!(
                    "query parameter '{k}' is longer than {MAX_VALUE_CHARS} characters"
                )));
            }
            if values.insert(k.clone(), v).is_some() {
                return Err(ApiError::bad_request(format!(
                    "query parameter '{k}' is given more than once"
                )));
            }
        }
        Ok(Self { values })
    }

    /// The text of `name`, `""` when absent.
    pub fn text(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    /// Whether `name` was given (with a non-empty value).
    pub fn has(&self, name: &str) -> bool {
        !self.text(name).is_empty()
    }

    /// `name` as an integer in `min..=max`; `default` when absent or empty.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
        let v = self.text(name);
        if v.is_empty() {
            return Ok(default);
        }
        let n: i64 = v.parse().map_err(|_| {
            ApiError::bad_request(format!("query parameter '{name}': '{v}' is not an integer"))
        })?;
        if n < min || n > max {
            return Err(ApiError::bad_request(format!(
                "query parameter '{name}' must be between {min} and {max}, not {n}"
            )));
        }
        Ok(n)
    }

    /// `offset` and `limit` for a list: `limit` defaults to `default_limit` and is at
    /// most `max_limit`.
    pub fn page(&self, default_limit: usize, max_limit: usize) -> Result<Page, ApiError> {
        let offset = self.int("offset", 0, 0, MAX_OFFSET as i64)? as usize;
        let limit = self.int("limit", default_limit as i64, 1, max_limit as i64)? as usize;
        Ok(Page { offset, limit })
    }
}

/// A page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Index of the first item.
    pub offset: usize,
    /// Most items.
    pub limit: usize,
}

/// Percent-decodes a query component (`+` is a space), refusing bad escapes and
/// anything that is not UTF-8.
pub fn decode(s: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request(format!("malformed query string near '{s}'"));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("the query string is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn p(raw: &str, allowed: &[&str]) -> Result<Params, ApiError> {
        Params::parse(Some(raw), allowed)
    }

    #[test]
    fn known_names_once_and_decoded() {
        let q = p("search=a%20b+c&offset=5", &["search", "offset", "limit"]).unwrap();
        assert_eq!(q.text("search"), "a b c");
        assert_eq!(q.text("limit"), "");
        assert!(q.has("offset") && !q.has("limit"));
        assert!(Params::parse(None, &[]).unwrap().text("x").is_empty());
        for bad in [
            "nope=1",
            "offset=1&offset=2",
            "search=%zz",
            "search=%4",
            "search=%ff",
            &format!("search={}", "x".repeat(MAX_VALUE_CHARS + 1)),
            &"a".repeat(MAX_QUERY_BYTES + 1),
        ] {
            let e = p(bad, &["search", "offset"]).unwrap_err();
            assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        let e = p("x=1", &[]).unwrap_err();
        assert!(e.body["error"].as_str().unwrap().contains("takes none"));
    }

    #[test]
    fn integers_in_range() {
        let q = p(
            "limit=10&offset=-1&n=abc&big=99999999999999999999",
            &["limit", "offset", "n", "big"],
        )
        .unwrap();
        assert_eq!(q.int("limit", 1, 1, 100).unwrap(), 10);
        assert_eq!(q.int("missing", 7, 1, 100).unwrap(), 7);
        assert!(q.int("limit", 1, 1, 5).is_err());
        assert!(q.int("offset", 0, 0, 5).is_err());
        assert!(q.int("n", 0, 0, 5).is_err());
        assert!(q.int("big", 0, 0, i64::MAX).is_err());
    }

    #[test]
    fn pages_are_bounded() {
        let page = |raw: &str| p(raw, &["offset", "limit"]).and_then(|q| q.page(50, 500));
        assert_eq!(
            page("").unwrap(),
            Page {
                offset: 0,
                limit: 50
            }
        );
        assert_eq!(
            page("offset=100&limit=500").unwrap(),
            Page {
                offset: 100,
                limit: 500
            }
        );
        assert!(page("limit=0").is_err());
        assert!(page("limit=501").is_err());
        assert!(page(&format!("offset={}", MAX_OFFSET + 1)).is_err());
    }
}
