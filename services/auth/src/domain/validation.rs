//! Input rules from docs/auth.md: emails are trimmed and lower-cased, at most 254 characters, one
//! `@`, no whitespace or control characters; passwords 8–128 characters; names 1–100 characters.
//!
//! Beyond the contract, emails also reject invisible formatting characters (bidi overrides,
//! zero-width spaces: they make two different addresses look identical) and the characters that
//! only appear in quoted local parts (`"(),:;<>[\]`), which shop does not support.

use shop_common::error::FieldError;

pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_LOCAL_PART_CHARS: usize = 64;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;
pub const MAX_NAME_CHARS: usize = 100;

/// A valid email in its normalised form (the form stored and compared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Trims and lower-cases: `" Ann@Example.COM "` and `"ann@example.com"` are one account.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Characters that need a quoted local part (RFC 5322), which shop does not accept.
const SPECIALS: &[char] = &['"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']'];

/// Unicode format characters that render as nothing: soft hyphen, zero-width and bidi controls, BOM.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

pub fn validate_email(raw: &str) -> Result<Email, &'static str> {
    let email = normalize_email(raw);
    if email.is_empty() {
        return Err("is required");
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err("must be at most 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control() || is_invisible(c)) {
        return Err("must not contain whitespace, control or invisible characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("must contain an @");
    };
    if domain.contains('@') {
        return Err("must contain exactly one @");
    }
    if local.is_empty() || domain.is_empty() {
        return Err("needs a name before and a domain after the @");
    }
    if local.chars().count() > MAX_LOCAL_PART_CHARS {
        return Err("the part before the @ must be at most 64 characters");
    }
    if email.contains(SPECIALS) {
        return Err("must not contain quotes, brackets, commas, colons, semicolons or backslashes");
    }
    if domain.split('.').any(|label| label.is_empty() || label.starts_with('-') || label.ends_with('-')) {
        return Err("has a malformed domain");
    }
    Ok(Email(email))
}

/// Length in characters (not bytes), so non-ASCII passwords get the same range.
pub fn validate_password(password: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err("must be at least 8 characters");
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err("must be at most 128 characters");
    }
    // Spaces and any printable Unicode are fine; control characters are typing accidents or
    // attacks on other systems (NUL truncation), never part of a password someone can type.
    if password.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(())
}

/// Returns the trimmed name.
pub fn validate_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("is required");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err("must be at most 100 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(name.to_owned())
}

/// A registration that passed every rule.
pub struct NewAccount {
    pub email: Email,
    pub password: String,
    pub name: String,
}

/// Checks every field and reports all problems at once.
pub fn validate_registration(
    email: Option<&str>,
    password: Option<&str>,
    name: Option<&str>,
) -> Result<NewAccount, Vec<FieldError>> {
    let mut errors = Vec::new();
    let email =
        required(email, "email", &mut errors).and_then(|raw| collect(validate_email(raw), "email", &mut errors));
    let password = required(password, "password", &mut errors)
        .and_then(|raw| collect(validate_password(raw), "password", &mut errors).map(|()| raw.to_owned()));
    let name = required(name, "name", &mut errors).and_then(|raw| collect(validate_name(raw), "name", &mut errors));
    match (email, password, name) {
        (Some(email), Some(password), Some(name)) if errors.is_empty() => Ok(NewAccount { email, password, name }),
        _ => Err(errors),
    }
}

/// What a `PUT /auth/profile` asks to change, validated.
pub struct ProfileChange {
    pub name: Option<String>,
    pub password: Option<PasswordChange>,
}

pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// A new password needs the current one; a current password alone changes nothing.
pub fn validate_profile_change(
    name: Option<&str>,
    current_password: Option<&str>,
    new_password: Option<&str>,
) -> Result<ProfileChange, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = name.and_then(|raw| collect(validate_name(raw), "name", &mut errors));
    let new = new_password.and_then(|raw| collect(validate_password(raw), "new_password", &mut errors).map(|()| raw));
    let password = match (new_password, current_password) {
        (Some(_), None) | (Some(_), Some("")) => {
            errors.push(FieldError::new("current_password", "is required to change the password"));
            None
        }
        (Some(_), Some(current)) => new.map(|new| PasswordChange { current: current.to_owned(), new: new.to_owned() }),
        (None, _) => None,
    };
    if errors.is_empty() { Ok(ProfileChange { name, password }) } else { Err(errors) }
}

fn required<'a>(value: Option<&'a str>, field: &str, errors: &mut Vec<FieldError>) -> Option<&'a str> {
    if value.is_none() {
        errors.push(FieldError::new(field, "is required"));
    }
    value
}

fn collect<T>(result: Result<T, &'static str>, field: &str, errors: &mut Vec<FieldError>) -> Option<T> {
    result.map_err(|message| errors.push(FieldError::new(field, message))).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(validate_email("  Ann.Lee+shop@Example.COM\t").unwrap().as_str(), "ann.lee+shop@example.com");
        assert_eq!(validate_email("o'brien@example.ie").unwrap().as_str(), "o'brien@example.ie");
        assert_eq!(validate_email("jürgen@bücher.de").unwrap().as_str(), "jürgen@bücher.de");
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in [
            "",
            "   ",
            "no-at-sign",
            "two@@example.com",
            "a@b@example.com",
            "@example.com",
            "ann@",
            "ann smith@example.com",
            "ann@exa mple.com",
            "ann\u{0000}@example.com",
            "ann\n@example.com",
            "ann\u{202E}@example.com",
            "ann\u{200B}@example.com",
            "' OR '1'='1",
            "'; DROP TABLE users; --@example.com",
            "ann;drop@example.com",
            "\"quoted\"@example.com",
            "ann@example..com",
            "ann@.example.com",
            "ann@example.com.",
            "ann@-example.com",
        ] {
            assert!(validate_email(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn email_length_limits_count_characters() {
        let local = "a".repeat(64);
        let domain = format!("{}.com", "d".repeat(254 - 64 - 1 - 4));
        let longest = format!("{local}@{domain}");
        assert_eq!(longest.chars().count(), 254);
        assert!(validate_email(&longest).is_ok());
        assert!(validate_email(&format!("{local}@d{domain}")).is_err());
        assert!(validate_email(&format!("a{local}@example.com")).is_err(), "local part over 64");
    }

    #[test]
    fn password_length_is_8_to_128_characters() {
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password(&"p".repeat(128)).is_ok());
        assert!(validate_password(&"p".repeat(129)).is_err());
        // Characters, not bytes: seven 4-byte emoji are still too short, 128 of them fit.
        assert!(validate_password(&"🔑".repeat(7)).is_err());
        assert!(validate_password(&"🔑".repeat(128)).is_ok());
        assert!(validate_password("correct horse battery staple").is_ok());
        assert!(validate_password("with\u{0000}nul-byte").is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("  Ann Lee ").unwrap(), "Ann Lee");
        assert_eq!(validate_name("Zoë 李").unwrap(), "Zoë 李");
        assert!(validate_name("").is_err());
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"n".repeat(100)).is_ok());
        assert!(validate_name(&"n".repeat(101)).is_err());
        assert!(validate_name("bell\u{0007}").is_err());
    }

    #[test]
    fn registration_reports_every_bad_field() {
        let errors = validate_registration(Some("nope"), Some("short"), Some(" ")).err().unwrap();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "password", "name"]);

        let errors = validate_registration(None, None, None).err().unwrap();
        assert!(errors.iter().all(|e| e.message == "is required"));
        assert_eq!(errors.len(), 3);

        let ok = validate_registration(Some("A@B.io"), Some("long enough"), Some("Ann")).ok().unwrap();
        assert_eq!(ok.email.as_str(), "a@b.io");
    }

    #[test]
    fn a_new_password_needs_the_current_one() {
        let errors = validate_profile_change(None, None, Some("new password")).err().unwrap();
        assert_eq!(errors[0].field, "current_password");
        let errors = validate_profile_change(None, Some("old password"), Some("short")).err().unwrap();
        assert_eq!(errors[0].field, "new_password");

        let change =
            validate_profile_change(Some(" New Name "), Some("old password"), Some("new password")).ok().unwrap();
        assert_eq!(change.name.as_deref(), Some("New Name"));
        assert_eq!(change.password.unwrap().new, "new password");

        let change = validate_profile_change(None, Some("old password"), None).ok().unwrap();
        assert!(change.name.is_none() && change.password.is_none());
    }
}
