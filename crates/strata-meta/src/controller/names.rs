//! Topic name rules.

use super::TopicError;

/// Longest legal topic name. Partition directories are named `<topic>-<partition>`
/// and must stay within a 255-byte file name.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Checks a topic name: 1..=249 characters from `[a-zA-Z0-9._-]`, and not `.`
/// or `..` (which would name the directory itself or its parent).
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    let invalid =
        |why: String| TopicError::InvalidTopic(format!("invalid topic name '{name}': {why}"));
    if name.is_empty() {
        return Err(TopicError::InvalidTopic(
            "invalid topic name: it is empty".into(),
        ));
    }
    if name == "." || name == ".." {
        return Err(invalid("'.' and '..' are not allowed".into()));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(TopicError::InvalidTopic(format!(
            "invalid topic name: {} characters, at most {MAX_TOPIC_NAME_LEN} are allowed",
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(invalid(format!(
            "character {c:?} is not allowed (only ASCII letters, digits, '.', '_' and '-')"
        )));
    }
    Ok(())
}

/// Metric names replace '.' with '_', so two topics differing only there would
/// share metrics; such names collide.
pub(super) fn collision_key(name: &str) -> String {
    name.replace('.', "_")
}
