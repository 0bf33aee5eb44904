//! Server text made safe for an error: secrets redacted, one line, cut short.

use super::{EXCERPT_CHARS, REDACTED};

/// Server text made fit for an error: secrets redacted, one line, at most [`EXCERPT_CHARS`].
pub(super) fn sanitize(text: &str, api_secret: &str) -> String {
    let redacted = if api_secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(api_secret, REDACTED)
    };
    one_line(&redact_secret_members(&redacted), EXCERPT_CHARS)
}

/// Replaces the string value of every JSON member whose name ends in `secret` (any case), also
/// in truncated or string-escaped JSON: a webhook object in an error must not show its secret.
pub(super) fn redact_secret_members(text: &str) -> String {
    const NAME_END: &str = "secret";
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find(NAME_END) {
        let after_name = search + found + NAME_END.len();
        search = after_name;
        let Some(value_start) = secret_value_start(bytes, after_name) else {
            continue;
        };
        // Base64 never holds `"` or `\`: the value ends at the first of them.
        let value_end = bytes[value_start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\')
            .map_or(bytes.len(), |offset| value_start + offset);
        out.push_str(&text[copied..value_start]);
        out.push_str(REDACTED);
        copied = value_end;
        search = value_end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Where the string value starts after a member name ending at `i`: `"` (or `\"`), blanks,
/// `:`, blanks, `"` (or `\"`). `None` when that is not what follows.
pub(super) fn secret_value_start(bytes: &[u8], mut i: usize) -> Option<usize> {
    let quote = |i: &mut usize| -> bool {
        if bytes.get(*i) == Some(&b'\\') {
            *i += 1;
        }
        let is_quote = bytes.get(*i) == Some(&b'"');
        *i += 1;
        is_quote
    };
    let blanks = |i: &mut usize| {
        while bytes.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    if !quote(&mut i) {
        return None;
    }
    blanks(&mut i);
    if bytes.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    blanks(&mut i);
    quote(&mut i).then_some(i)
}

/// Whitespace and control characters folded into single spaces, cut at `max_chars`.
pub(super) fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if chars + usize::from(pending_space) >= max_chars {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}
