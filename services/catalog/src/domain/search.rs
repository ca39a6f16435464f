//! Turning a user's search text into safe search terms.
//!
//! The text never reaches SQL as SQL: it is split into words of letters and digits only (every
//! tsquery operator, quote, backslash and LIKE/regex metacharacter is a separator), and the
//! resulting strings are sent as bind parameters.

/// At most this many characters of the query are looked at; longer input is cut, not refused.
pub const MAX_QUERY_CHARS: usize = 1000;
const MAX_WORDS: usize = 8;
const MAX_WORD_CHARS: usize = 48;

/// The sanitised forms of one search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    /// For `to_tsquery`: words joined by `&`, the last one a prefix (`lapt:*`) so results follow
    /// typing.
    pub tsquery: String,
    /// The words separated by spaces, for trigram similarity against names.
    pub text: String,
    /// The whole query trimmed and lower-cased, for the exact-name-match boost.
    pub exact: String,
}

impl SearchTerms {
    /// `None` when the query holds no word at all (only punctuation): nothing can match.
    pub fn parse(query: &str) -> Option<Self> {
        let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let words: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(MAX_WORDS)
            .map(|w| w.chars().take(MAX_WORD_CHARS).collect::<String>().to_lowercase())
            .collect();
        if words.is_empty() {
            return None;
        }
        let mut tsquery = words.join(" & ");
        tsquery.push_str(":*");
        Some(Self { tsquery, text: words.join(" "), exact: query.trim().to_lowercase() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_a_prefix_query() {
        let terms = SearchTerms::parse("  Wireless HEADPH").unwrap();
        assert_eq!(terms.tsquery, "wireless & headph:*");
        assert_eq!(terms.text, "wireless headph");
        assert_eq!(terms.exact, "wireless headph");
    }

    #[test]
    fn metacharacters_are_separators() {
        let terms = SearchTerms::parse("'; DROP TABLE products; --").unwrap();
        assert_eq!(terms.tsquery, "drop & table & products:*");
        assert!(SearchTerms::parse("%_\\ ( ) ! & | : * ' \"").is_none());
        assert_eq!(SearchTerms::parse("a|b&!c").unwrap().tsquery, "a & b & c:*");
    }

    #[test]
    fn long_queries_are_bounded() {
        let terms = SearchTerms::parse(&"word ".repeat(1000)).unwrap();
        assert_eq!(terms.tsquery.matches('&').count(), MAX_WORDS - 1);
        let terms = SearchTerms::parse(&"x".repeat(5000)).unwrap();
        assert_eq!(terms.text.len(), MAX_WORD_CHARS);
    }
}
