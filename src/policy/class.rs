//! The risk classes a statement or request falls into, and their order from harmless to worst.

use std::fmt;
use std::str::FromStr;

/// What a statement or request does, as far as guard can tell (SPEC, "Classes and default
/// policy").
///
/// The order is from harmless to worst, and a statement's class is the worst class of anything
/// it does. `Unknown` ranks above `Write`, `Ddl` and `Admin`: something guard cannot understand
/// (a user function, a statement that does not parse) may do anything the role is allowed to, so
/// it must never ride along inside a statement whose known part a rule allows. Only `Dangerous`,
/// which is denied by default, outranks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Read,
    Write,
    Ddl,
    Admin,
    Unknown,
    Dangerous,
}

impl Class {
    /// Every class, harmless first.
    pub const ALL: [Class; 6] = [
        Class::Read,
        Class::Write,
        Class::Ddl,
        Class::Admin,
        Class::Unknown,
        Class::Dangerous,
    ];

    /// The lowercase name used in the configuration, the transcript and the output.
    pub fn name(self) -> &'static str {
        match self {
            Class::Read => "read",
            Class::Write => "write",
            Class::Ddl => "ddl",
            Class::Admin => "admin",
            Class::Unknown => "unknown",
            Class::Dangerous => "dangerous",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Class {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Class::ALL
            .into_iter()
            .find(|c| c.name() == text)
            .ok_or_else(|| {
                format!("unknown class `{text}`; the classes are read, write, ddl, admin, unknown and dangerous")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_order_from_harmless_to_worst() {
        assert!(Class::Read < Class::Write);
        assert!(Class::Write < Class::Ddl);
        assert!(Class::Ddl < Class::Admin);
        assert!(Class::Admin < Class::Unknown);
        assert!(Class::Unknown < Class::Dangerous);
    }

    #[test]
    fn names_round_trip_and_serialise_lowercase() {
        for class in Class::ALL {
            assert_eq!(class.name().parse::<Class>(), Ok(class));
            assert_eq!(
                serde_json::to_string(&class).unwrap(),
                format!("\"{}\"", class.name())
            );
        }
        assert!("Write".parse::<Class>().is_err());
    }
}
