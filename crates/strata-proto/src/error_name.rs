//! Kafka's names of error codes (`UNKNOWN_TOPIC_OR_PARTITION`), for messages and metric
//! labels. kafka-protocol only exposes CamelCase variant names; Kafka documents the
//! SCREAMING_SNAKE_CASE form.

use kafka_protocol::ResponseError;

/// The protocol's name for an error code, e.g. 36 → `TOPIC_ALREADY_EXISTS`; `NONE` for 0
/// and `UNKNOWN_ERROR_CODE_<n>` for a code this build does not know.
pub fn error_code_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "NONE".to_string(),
        Some(ResponseError::Unknown(c)) => format!("UNKNOWN_ERROR_CODE_{c}"),
        Some(e) => camel_to_screaming_snake(&e.to_string()),
    }
}

fn camel_to_screaming_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for (i, ch) in s.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kafka_spelling() {
        assert_eq!(error_code_name(0), "NONE");
        assert_eq!(error_code_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(error_code_name(36), "TOPIC_ALREADY_EXISTS");
        assert_eq!(error_code_name(-1), "UNKNOWN_SERVER_ERROR");
    }
}
