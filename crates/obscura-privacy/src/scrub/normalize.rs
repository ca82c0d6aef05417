//! Text normalisation before matching, so that encodings do not hide personal data:
//! percent-encoding (also double-encoded), full-width forms (common in Chinese and Japanese
//! input), control characters and runs of whitespace.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// How many rounds of percent-decoding text gets: double-encoded text (`%2540`) must not hide
/// an address from the scrubber.
const MAX_DECODE_ROUNDS: usize = 3;

/// Decodes `%XX` escapes, repeatedly, until the text no longer changes. Invalid UTF-8 becomes
/// U+FFFD. Text without a valid escape is returned as it is.
pub fn percent_decode(input: &str) -> Cow<'_, str> {
    if !has_escape(input) {
        return Cow::Borrowed(input);
    }
    let mut text = input.to_owned();
    for _ in 0..MAX_DECODE_ROUNDS {
        if !has_escape(&text) {
            break;
        }
        let decoded = percent_decode_str(&text).decode_utf8_lossy().into_owned();
        if decoded == text {
            break;
        }
        text = decoded;
    }
    Cow::Owned(text)
}

fn has_escape(text: &str) -> bool {
    text.as_bytes().windows(3).any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// Maps full-width ASCII forms (`１２３`, `＠`, `：`) to ASCII and the ideographic space to a
/// space; drops ASCII control characters, turning tabs and line breaks into spaces so that the
/// words on either side do not run together.
pub fn fold(text: &str) -> Cow<'_, str> {
    if text.bytes().all(|b| !b.is_ascii_control() && b.is_ascii()) {
        return Cow::Borrowed(text);
    }
    text.chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if c.is_ascii_control() => None,
            '\u{3000}' => Some(' '),
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21),
            c => Some(c),
        })
        .collect::<String>()
        .into()
}

/// Trims `text` and turns every run of whitespace (Unicode included) into a single space.
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts `text` to at most `max` chars without leaving half a placeholder (`[ema`) behind.
pub fn truncate_chars(mut text: String, max: usize) -> String {
    let Some((cut, _)) = text.char_indices().nth(max) else {
        return text;
    };
    // A `[` before the cut with no `]` after it opens a placeholder that would be cut in two.
    let mut end = cut;
    if let Some(open) = text[..cut].rfind('[') {
        let closed = text[open..cut].contains(']');
        let is_placeholder = text[open..]
            .find(']')
            .is_some_and(|close| text[open + 1..open + close].bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
        if !closed && is_placeholder {
            end = open;
        }
    }
    text.truncate(end);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decode_unwraps_double_encoding() {
        assert_eq!(percent_decode("jane%2540example.com"), "jane@example.com");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn fold_maps_full_width_forms_and_controls() {
        assert_eq!(fold("１３８\u{3000}ａ＠ｂ"), "138 a@b");
        assert_eq!(fold("a\u{0}b\nc"), "ab c");
    }

    #[test]
    fn truncate_never_leaves_half_a_placeholder() {
        assert_eq!(truncate_chars("ab [email]".into(), 6), "ab ");
        assert_eq!(truncate_chars("ab [x] cd".into(), 8), "ab [x] c");
        assert_eq!(truncate_chars("é".repeat(5), 3), "ééé");
    }
}
