//! The category tree: slugs, names, parents.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_common::error::FieldError;

pub const MAX_SLUG_CHARS: usize = 64;
pub const MAX_CATEGORY_NAME_CHARS: usize = 100;

/// A category as the API returns it (a flat list; clients build the tree from `parent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub slug: String,
    pub name: String,
    pub parent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /categories` (slug required) and `PUT /categories/{slug}` (slug from the path).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CategoryInput {
    pub slug: Option<String>,
    pub name: Option<String>,
    #[serde(alias = "parent_slug")]
    pub parent: Option<String>,
}

/// A validated category write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCategory {
    pub slug: String,
    pub name: String,
    pub parent: Option<String>,
}

/// Lower-case words joined by single hyphens, at most [`MAX_SLUG_CHARS`].
pub fn check_slug(slug: &str) -> Result<(), String> {
    let well_formed = !slug.is_empty()
        && slug.len() <= MAX_SLUG_CHARS
        && slug
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "must be lower-case letters and digits joined by single hyphens, at most {MAX_SLUG_CHARS} characters"
        ))
    }
}

impl CategoryInput {
    /// `path_slug` is the slug of a `PUT`; for a `POST` the body's `slug` is required.
    pub fn validate(self, path_slug: Option<&str>) -> Result<ValidCategory, Vec<FieldError>> {
        let mut errors = Vec::new();
        let slug = match (path_slug, self.slug) {
            (Some(slug), _) => slug.to_owned(),
            (None, Some(slug)) => slug.trim().to_owned(),
            (None, None) => {
                errors.push(FieldError::new("slug", "is required"));
                String::new()
            }
        };
        if path_slug.is_none()
            && !slug.is_empty()
            && let Err(message) = check_slug(&slug)
        {
            errors.push(FieldError::new("slug", message));
        }
        let name = self.name.map(|n| n.trim().to_owned()).unwrap_or_default();
        if name.is_empty() || name.chars().count() > MAX_CATEGORY_NAME_CHARS {
            errors.push(FieldError::new("name", format!("must be 1 to {MAX_CATEGORY_NAME_CHARS} characters")));
        }
        let parent = self.parent.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
        if let Some(parent) = &parent {
            if let Err(message) = check_slug(parent) {
                errors.push(FieldError::new("parent", message));
            } else if *parent == slug {
                errors.push(FieldError::new("parent", "a category cannot be its own parent"));
            }
        }
        if errors.is_empty() { Ok(ValidCategory { slug, name, parent }) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(check_slug("home-garden-2").is_ok());
        for bad in ["", "Home", "a--b", "-a", "a-", "a b", "ä", &"a".repeat(65)] {
            assert!(check_slug(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn category_input() {
        let input = CategoryInput { slug: Some("lamps".into()), name: Some(" Lamps ".into()), parent: Some("".into()) };
        assert_eq!(
            input.validate(None).unwrap(),
            ValidCategory { slug: "lamps".into(), name: "Lamps".into(), parent: None }
        );
        let input = CategoryInput { slug: None, name: None, parent: Some("x".into()) };
        let errors = input.validate(Some("x")).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "parent"]);
    }
}
