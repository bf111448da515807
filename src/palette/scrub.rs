//! Palette sometimes repeats what it was sent (a rejected `ApiKey`, a session token) in its
//! error text. Every piece of Palette text the service repeats — run errors in `sync_runs` and
//! `/sync/status`, log lines, error bodies — goes through [`scrub`] first.

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not searched for: they would match ordinary words.
const MIN_SECRET_LEN: usize = 6;

/// `text` with every occurrence of each of `secrets` (and of its base64 form, which Palette
/// uses in some messages) replaced by `[redacted]`.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    use base64::Engine;
    let mut out = text.to_string();
    for s in secrets.iter().map(|s| s.trim()) {
        if s.len() < MIN_SECRET_LEN {
            continue;
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(s);
        for needle in [s, encoded.trim_end_matches('=')] {
            if out.contains(needle) {
                out = out.replace(needle, REDACTED);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn secrets_and_their_base64_are_redacted() {
        let text = "invalid ApiKey sim-api-key (c2ltLWFwaS1rZXk=) for user";
        let out = scrub(text, &["sim-api-key"]);
        assert!(
            !out.contains("sim-api-key") && !out.contains("c2ltLWFwaS1rZX"),
            "{out}"
        );
        assert_eq!(scrub("short key ab", &["ab"]), "short key ab");
        assert_eq!(scrub("nothing here", &["", "sim-api-key"]), "nothing here");
    }
}
