//! The constitution: a community's policies as an append-only list of versions, the set in force,
//! and the rules for changing it.
//!
//! - Changing a policy is itself a proposal (trigger `policy_change`), decided by whichever policy
//!   answers that trigger: the constitution policy.
//! - Versions are numbered community-wide (1, 2, 3, … across all policies), never changed or
//!   removed; every proposal and decision records the version it ran under.
//! - A change never reaches back: a proposal keeps the version it opened under until it is decided,
//!   so a vote running when a new version is adopted finishes under the old one. Only proposals
//!   opened afterwards use the new version.
//! - The set in force stays coherent: no trigger is answered by two policies, and some policy
//!   always answers `policy_change`, so the community can never lock itself out of changing them.

use super::definition::Policy;
use super::engine::PolicyVersion;
use super::error::PolicyError;
use super::subject::{Subject, TriggerKind};

/// A community's policy versions, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policies {
    versions: Vec<PolicyVersion>,
}

impl Policies {
    /// The first policies of a community, adopted together (versions 1, 2, … in order).
    pub fn bootstrap(policies: Vec<Policy>) -> Result<Policies, PolicyError> {
        let versions: Vec<PolicyVersion> = policies
            .into_iter()
            .zip(1..)
            .map(|(policy, version)| PolicyVersion { version, policy })
            .collect();
        Policies::from_versions(versions)
    }

    /// The policies as stored, checked again: numbered 1, 2, … and coherent in force.
    pub fn from_versions(versions: Vec<PolicyVersion>) -> Result<Policies, PolicyError> {
        if let Some((i, v)) = versions
            .iter()
            .enumerate()
            .find(|(i, v)| v.version != *i as u64 + 1)
        {
            return Err(PolicyError::Invalid {
                policy: v.policy.name().to_string(),
                place: "version".into(),
                message: format!("expected version {}, found {}", i + 1, v.version),
            });
        }
        let policies = Policies { versions };
        policies.check_in_force(policies.in_force().collect())?;
        Ok(policies)
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> &[PolicyVersion] {
        &self.versions
    }

    /// One version, as a proposal that opened under it needs it.
    pub fn version(&self, version: u64) -> Option<&PolicyVersion> {
        let index = usize::try_from(version.checked_sub(1)?).ok()?;
        self.versions.get(index)
    }

    /// The latest version of each policy, in the order the policies first appeared.
    pub fn in_force(&self) -> impl Iterator<Item = &PolicyVersion> {
        let mut latest: Vec<&PolicyVersion> = Vec::new();
        for version in &self.versions {
            match latest
                .iter_mut()
                .find(|v| v.policy.name() == version.policy.name())
            {
                Some(slot) => *slot = version,
                None => latest.push(version),
            }
        }
        latest.into_iter()
    }

    /// The version in force that answers `trigger`.
    pub fn for_trigger(&self, trigger: TriggerKind) -> Option<&PolicyVersion> {
        self.in_force()
            .find(|v| v.policy.rule_for(trigger).is_some())
    }

    /// Reads a proposed policy text and checks that the set in force would stay coherent with it
    /// in place of its namesake; the subject of the `policy_change` proposal that decides it.
    /// A refused text changes nothing: the policy in force stays in force.
    pub fn propose(&self, source: &str) -> Result<Subject, PolicyError> {
        let proposed = Policy::parse(source)?;
        let mut set: Vec<&PolicyVersion> = self
            .in_force()
            .filter(|v| v.policy.name() != proposed.name())
            .collect();
        let candidate = PolicyVersion {
            version: self.next_version(),
            policy: proposed,
        };
        set.push(&candidate);
        self.check_in_force(set)?;
        Ok(Subject::PolicyChange {
            policy: candidate.policy.name().clone(),
            source: source.to_string(),
        })
    }

    /// Appends `source` as the next version (after the checks of [`Policies::propose`]) and
    /// returns its number. Proposals already open keep their versions.
    pub fn adopt(&mut self, source: &str) -> Result<u64, PolicyError> {
        self.propose(source)?;
        let version = self.next_version();
        self.versions.push(PolicyVersion {
            version,
            policy: Policy::parse(source)?,
        });
        Ok(version)
    }

    fn next_version(&self) -> u64 {
        self.versions.len() as u64 + 1
    }

    fn check_in_force(&self, set: Vec<&PolicyVersion>) -> Result<(), PolicyError> {
        let mut answered: Vec<(TriggerKind, &str)> = Vec::new();
        for version in &set {
            for trigger in version.policy.triggers() {
                let name = version.policy.name().as_str();
                if let Some((_, other)) = answered.iter().find(|(t, _)| *t == trigger) {
                    return Err(PolicyError::Invalid {
                        policy: name.to_string(),
                        place: "rule".into(),
                        message: format!(
                            "policy `{other}` already answers {}; a trigger is answered by one policy",
                            trigger.as_str()
                        ),
                    });
                }
                answered.push((trigger, name));
            }
        }
        if !set.is_empty()
            && !answered
                .iter()
                .any(|(t, _)| *t == TriggerKind::PolicyChange)
        {
            let last = set.last().expect("the set is not empty");
            return Err(PolicyError::Invalid {
                policy: last.policy.name().to_string(),
                place: "rule".into(),
                message: "no policy in force would answer policy_change, so the policies could \
                          never be changed again"
                    .into(),
            });
        }
        Ok(())
    }
}
