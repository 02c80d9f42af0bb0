//! Why a configuration changed, and when: every version carries both (invariant 3).

use serde::{Deserialize, Serialize};

/// A moment, in milliseconds since the Unix epoch, as recorded by the edge that observed it.
/// The core never reads a clock; it is handed these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// RFC 3339 text, in UTC with millisecond precision.
    pub fn to_rfc3339(self) -> String {
        jiff::Timestamp::from_millisecond(self.0)
            .map(|t| format!("{t:.3}"))
            .unwrap_or_else(|_| self.0.to_string())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

/// Reads the RFC 3339 text that `Serialize` writes (any offset; kept to the millisecond).
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let moment: jiff::Timestamp = text.parse().map_err(|e| {
            serde::de::Error::custom(format!("expected an RFC 3339 time, found {text:?}: {e}"))
        })?;
        Ok(Timestamp(moment.as_millisecond()))
    }
}

/// The cause of a configuration version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// An admin set the configuration directly, before or outside governance.
    AdminBootstrap {
        /// What the admin said about it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A governance decision, identified by the hash of its stored evidence.
    Decision {
        /// The decision's id.
        decision: String,
    },
}

impl Cause {
    /// A short name of the cause's kind, stored beside its details.
    pub fn kind(&self) -> &'static str {
        match self {
            Cause::AdminBootstrap { .. } => "admin_bootstrap",
            Cause::Decision { .. } => "decision",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_as_rfc3339_utc() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_700_000_000_123).to_rfc3339(),
            "2023-11-14T22:13:20.123Z"
        );
    }

    #[test]
    fn timestamps_read_back_what_they_write_and_refuse_other_text() {
        let moment = Timestamp(1_700_000_000_123);
        let json = serde_json::to_string(&moment).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), moment);
        let offset: Timestamp = serde_json::from_str(r#""2023-11-15T00:13:20.123+02:00""#).unwrap();
        assert_eq!(offset, moment);
        let err = serde_json::from_str::<Timestamp>(r#""yesterday""#).unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{err}");
    }

    #[test]
    fn causes_serialise_with_their_kind() {
        let cause = Cause::AdminBootstrap { note: None };
        assert_eq!(
            serde_json::to_string(&cause).unwrap(),
            r#"{"kind":"admin_bootstrap"}"#
        );
    }
}
