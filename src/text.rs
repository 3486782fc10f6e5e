//! Small text helpers shared by the session loop and the router.

/// ASCII case-insensitive substring test (SQL keywords and unquoted names are
/// case-insensitive; this is only ever a cheap pre-check, never a decision).
pub fn contains_ci(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::contains_ci;

    #[test]
    fn ignores_ascii_case() {
        assert!(contains_ci(b"SELECT * FROM Logs", b"logs"));
        assert!(!contains_ci(b"SELECT 1", b"logs"));
        assert!(contains_ci(b"", b""));
    }
}
