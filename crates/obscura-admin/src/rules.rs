//! The rules every administrative action follows, whoever asks (CLI or web page).

use obscura_store::meta::{Funnel, Goal, GoalTarget, Role};

use crate::AdminError;

/// Longest user name, in bytes.
pub const MAX_USERNAME_BYTES: usize = 64;
/// Shortest password (accounts and shared links), in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest API-token name, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 100;
/// Tokens and shared links expire after 1 to this many days, or never.
pub const MAX_EXPIRY_DAYS: u32 = 3650;

/// A user name, trimmed: 1 to 64 bytes and no spaces.
pub fn username(name: &str) -> Result<&str, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_USERNAME_BYTES || name.contains(char::is_whitespace) {
        return Err(AdminError::Invalid(format!("user names have 1 to {MAX_USERNAME_BYTES} characters and no spaces")));
    }
    Ok(name)
}

/// An issue's fingerprint: 16 hexadecimal digits.
pub fn issue(fingerprint: &str) -> Result<(), AdminError> {
    if fingerprint.len() != 16 || !fingerprint.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AdminError::Invalid(format!("{fingerprint:?} is not an issue (16 hexadecimal digits)")));
    }
    Ok(())
}

/// A password for an account (`what` = "passwords") or a shared link ("link passwords").
pub fn password(password: &str, what: &str) -> Result<(), AdminError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminError::Invalid(format!("{what} need at least {MIN_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

/// An API token's name, trimmed: 1 to 100 characters.
pub fn token_name(name: &str) -> Result<&str, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME_CHARS {
        return Err(AdminError::Invalid(format!("a token needs a name of 1 to {MAX_TOKEN_NAME_CHARS} characters")));
    }
    Ok(name)
}

/// An expiry in days from now, if any: 1 to 3650.
pub fn expiry_days(days: Option<u32>) -> Result<Option<u32>, AdminError> {
    match days {
        Some(d) if !(1..=MAX_EXPIRY_DAYS).contains(&d) => {
            Err(AdminError::Invalid(format!("expiry must be 1 to {MAX_EXPIRY_DAYS} days, not {d}")))
        }
        _ => Ok(days),
    }
}

/// An expiry as typed in a form: empty for none, else a number of days.
pub fn expiry_days_text(text: &str) -> Result<Option<u32>, AdminError> {
    match text.trim() {
        "" => Ok(None),
        d => match d.parse::<u32>() {
            Ok(days) => expiry_days(Some(days)),
            Err(_) => Err(AdminError::Invalid(format!("expiry must be 1 to {MAX_EXPIRY_DAYS} days, not {d:?}"))),
        },
    }
}

/// The moment `days` from `now_ms` ends, in milliseconds since the epoch.
pub fn expires_ms(now_ms: i64, days: Option<u32>) -> Option<i64> {
    days.map(|d| now_ms + i64::from(d) * 86_400_000)
}

/// Retention of per-event data: 1 to the most the store keeps.
pub fn retention_days(days: u32) -> Result<u32, AdminError> {
    obscura_store::meta::check_retention(days).map_err(|_| retention_refused(&days.to_string()))
}

/// Retention as typed in a form.
pub fn retention_days_text(text: &str) -> Result<u32, AdminError> {
    text.trim().parse::<u32>().map_err(|_| retention_refused(text)).and_then(retention_days)
}

fn retention_refused(given: &str) -> AdminError {
    let max = obscura_store::meta::MAX_RETENTION_DAYS;
    AdminError::Invalid(format!("retention must be a number of days from 1 to {max}, not {given:?}"))
}

/// Only owners give the owner role.
pub fn may_grant(actor: Role, role: Role) -> Result<(), AdminError> {
    if role == Role::Owner && actor != Role::Owner {
        return Err(AdminError::Forbidden("only owners make owners".into()));
    }
    Ok(())
}

/// Only owners remove owners.
pub fn may_remove(actor: Role, role: Role) -> Result<(), AdminError> {
    if role == Role::Owner && actor != Role::Owner {
        return Err(AdminError::Forbidden("only owners remove owners".into()));
    }
    Ok(())
}

/// A goal's or a funnel step's target from its text: `page=/thanks`, `page~=/blog/` (any path
/// containing it), `event=signup`, or `event=signup,plan=pro` (with that property's value).
pub fn target(text: &str) -> Result<GoalTarget, AdminError> {
    let bad = || {
        AdminError::Invalid(format!(
            "a step is `page=/path`, `page~=text`, `event=name` or `event=name,key=value`, not {text:?}"
        ))
    };
    let target = if let Some(text) = text.strip_prefix("page~=") {
        GoalTarget::Page { path: text.to_owned(), contains: true }
    } else if let Some(path) = text.strip_prefix("page=") {
        GoalTarget::Page { path: path.to_owned(), contains: false }
    } else if let Some(rest) = text.strip_prefix("event=") {
        let (name, property) = match rest.split_once(',') {
            None => (rest, None),
            Some((name, prop)) => (name, Some(property(prop).map_err(|_| bad())?)),
        };
        GoalTarget::Event { name: name.to_owned(), property }
    } else {
        return Err(bad());
    };
    Ok(goal(Goal { name: "step".into(), target })?.target)
}

/// A property's `key=value`, both trimmed.
pub fn property(text: &str) -> Result<(String, String), AdminError> {
    let (k, v) =
        text.split_once('=').ok_or_else(|| AdminError::Invalid(format!("a property is `key=value`, not {text:?}")))?;
    Ok((k.trim().to_owned(), v.trim().to_owned()))
}

/// A funnel, checked: a name of 1 to 100 characters and 2 to 8 steps, each as a goal's target.
pub fn funnel(funnel: Funnel) -> Result<Funnel, AdminError> {
    let name = funnel.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AdminError::Invalid("a funnel's name has 1 to 100 characters".into()));
    }
    if !(2..=8).contains(&funnel.steps.len()) {
        return Err(AdminError::Invalid(format!("a funnel has 2 to 8 steps, not {}", funnel.steps.len())));
    }
    let steps = funnel
        .steps
        .into_iter()
        .map(|target| goal(Goal { name: "step".into(), target }).map(|g| g.target))
        .collect::<Result<_, _>>()?;
    Ok(Funnel { name, steps })
}

/// Goals one site may have.
pub const MAX_GOALS: usize = 50;

/// A goal, checked: a name of 1 to 100 characters; a page path that starts with `/` (at most
/// 500 bytes), or an event name of 1 to 200 bytes with an optional property of a 1 to 100 byte
/// key and an up to 500 byte value.
pub fn goal(goal: Goal) -> Result<Goal, AdminError> {
    let invalid = |msg: &str| Err(AdminError::Invalid(msg.to_owned()));
    let name = goal.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return invalid("a goal's name has 1 to 100 characters");
    }
    let target = match goal.target {
        GoalTarget::Page { path, contains } => {
            let path = path.trim().to_owned();
            if !path.starts_with('/') || path.len() > 500 {
                return invalid("a page goal's path starts with `/` and has at most 500 bytes");
            }
            GoalTarget::Page { path, contains }
        }
        GoalTarget::Event { name: event, property } => {
            let event = event.trim().to_owned();
            if event.is_empty() || event.len() > 200 {
                return invalid("an event goal's event name has 1 to 200 bytes");
            }
            if property.as_ref().is_some_and(|(k, v)| k.is_empty() || k.len() > 100 || v.len() > 500) {
                return invalid(
                    "an event goal's property is `key=value`, a key of 1 to 100 bytes, a value of at most 500",
                );
            }
            GoalTarget::Event { name: event, property }
        }
    };
    Ok(Goal { name, target })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        assert_eq!(username("  ana ").unwrap(), "ana");
        assert!(matches!(username(""), Err(AdminError::Invalid(_))));
        assert!(matches!(username("a b"), Err(AdminError::Invalid(_))));
        assert!(username(&"x".repeat(64)).is_ok());
        assert!(username(&"x".repeat(65)).is_err());
    }

    #[test]
    fn passwords_and_names() {
        assert!(password("123456789", "passwords").is_err());
        assert!(password("1234567890", "passwords").is_ok());
        assert_eq!(
            password("short", "link passwords").unwrap_err().to_string(),
            "link passwords need at least 10 characters"
        );
        assert_eq!(token_name(" ci ").unwrap(), "ci");
        assert!(token_name(" ").is_err());
        assert!(token_name(&"é".repeat(100)).is_ok());
        assert!(token_name(&"é".repeat(101)).is_err());
    }

    #[test]
    fn expiry_ranges() {
        assert_eq!(expiry_days(None), Ok(None));
        assert_eq!(expiry_days(Some(1)), Ok(Some(1)));
        assert_eq!(expiry_days(Some(3650)), Ok(Some(3650)));
        assert!(expiry_days(Some(0)).is_err());
        assert!(expiry_days(Some(3651)).is_err());
        assert_eq!(expiry_days_text(" "), Ok(None));
        assert_eq!(expiry_days_text("30"), Ok(Some(30)));
        assert!(expiry_days_text("-1").is_err());
        assert!(expiry_days_text("soon").is_err());
        assert_eq!(expires_ms(1_000, Some(1)), Some(86_401_000));
    }

    #[test]
    fn retention_ranges() {
        assert_eq!(retention_days_text(" 45 "), Ok(45));
        let max = obscura_store::meta::MAX_RETENTION_DAYS;
        assert_eq!(retention_days(max), Ok(max));
        for refused in ["0", "-3", "soon", &(max + 1).to_string()] {
            let error = retention_days_text(refused).unwrap_err().to_string();
            assert!(error.starts_with(&format!("retention must be a number of days from 1 to {max}, not")), "{error}");
        }
    }

    #[test]
    fn only_owners_make_or_remove_owners() {
        assert!(may_grant(Role::Admin, Role::Admin).is_ok());
        assert!(matches!(may_grant(Role::Admin, Role::Owner), Err(AdminError::Forbidden(_))));
        assert!(may_grant(Role::Owner, Role::Owner).is_ok());
        assert!(matches!(may_remove(Role::Admin, Role::Owner), Err(AdminError::Forbidden(_))));
        assert!(may_remove(Role::Owner, Role::Owner).is_ok());
    }
}
