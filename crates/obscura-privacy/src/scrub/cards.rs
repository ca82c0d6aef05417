//! Payment card numbers: the issuer ranges (IIN) of the card brands and their lengths.
//!
//! A number is a card only if it starts with a brand's prefix, has one of that brand's lengths
//! and passes the Luhn check. Luhn alone accepts one number in ten, so without the brand table
//! every tenth order number, timestamp or counter of 13 to 19 digits would be taken for a card.

use super::checksum;

/// One row of the table: numbers whose first `prefix_len` digits lie in `low..=high` and whose
/// length is in `lengths`.
struct Range {
    brand: &'static str,
    prefix_len: usize,
    low: u32,
    high: u32,
    lengths: (usize, usize),
}

const fn range(brand: &'static str, prefix_len: usize, low: u32, high: u32, lengths: (usize, usize)) -> Range {
    Range { brand, prefix_len, low, high, lengths }
}

/// The issuer ranges, most specific first where brands share a leading digit.
const RANGES: &[Range] = &[
    range("visa", 1, 4, 4, (13, 13)),
    range("visa", 1, 4, 4, (16, 16)),
    range("visa", 1, 4, 4, (19, 19)),
    range("mastercard", 2, 51, 55, (16, 16)),
    range("mastercard", 4, 2221, 2720, (16, 16)),
    range("mir", 4, 2200, 2204, (16, 19)),
    range("amex", 2, 34, 34, (15, 15)),
    range("amex", 2, 37, 37, (15, 15)),
    range("discover", 4, 6011, 6011, (16, 19)),
    range("discover", 3, 644, 649, (16, 19)),
    range("discover", 2, 65, 65, (16, 19)),
    range("jcb", 4, 3528, 3589, (16, 19)),
    // The older JCB ranges with 15 digits.
    range("jcb", 4, 2131, 2131, (15, 15)),
    range("jcb", 4, 1800, 1800, (15, 15)),
    range("unionpay", 2, 62, 62, (16, 19)),
    range("diners", 3, 300, 305, (14, 19)),
    range("diners", 4, 3095, 3095, (14, 19)),
    range("diners", 2, 36, 36, (14, 19)),
    range("diners", 2, 38, 39, (14, 19)),
    range("maestro", 2, 50, 50, (12, 19)),
    range("maestro", 2, 56, 58, (12, 19)),
    range("maestro", 1, 6, 6, (12, 19)),
];

/// The brand whose issuer range and length fit `digits` (ASCII digits only), if any.
pub fn brand(digits: &str) -> Option<&'static str> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    RANGES
        .iter()
        .find(|r| {
            (r.lengths.0..=r.lengths.1).contains(&digits.len())
                && digits
                    .get(..r.prefix_len)
                    .and_then(|p| p.parse::<u32>().ok())
                    .is_some_and(|p| (r.low..=r.high).contains(&p))
        })
        .map(|r| r.brand)
}

/// True when `digits` is a payment card number: a brand's prefix and length, and Luhn.
pub fn is_card_number(digits: &str) -> bool {
    brand(digits).is_some() && checksum::luhn(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardening_scrubber_cards_need_an_issuer_range_and_length() {
        assert_eq!(brand("4111111111111111"), Some("visa"));
        assert_eq!(brand("5555555555554444"), Some("mastercard"));
        assert_eq!(brand("2223003122003222"), Some("mastercard"));
        assert_eq!(brand("378282246310005"), Some("amex"));
        assert_eq!(brand("6011111111111117"), Some("discover"));
        assert_eq!(brand("3530111333300000"), Some("jcb"));
        assert_eq!(brand("6200000000000005"), Some("unionpay"));
        assert_eq!(brand("30569309025904"), Some("diners"));
        assert_eq!(brand("501800000009"), Some("maestro"));
        assert!(is_card_number("4111111111111111"));
        assert!(!is_card_number("4111111111111112"), "Luhn still applies");
        // Luhn-valid, but no issuer uses these: epoch milliseconds, a 15-digit Visa, an IMEI
        // in the JCB prefix with the wrong length, a number starting with 9.
        for not_a_card in ["1733011200123", "411111111111116", "353011133330001", "9111111111111110"] {
            assert!(checksum::luhn(not_a_card), "{not_a_card} should pass Luhn for this test");
            assert!(!is_card_number(not_a_card), "{not_a_card}");
        }
    }
}
