//! A member as the member registry holds them: the name the community's pages use, the platform
//! account behind it, what the platform says of them (trust level, groups), and their wallet.

use super::name::MemberId;
use super::wallet::WalletAddress;

/// The account a member has on a platform, keyed by the platform's stable user id (usernames
/// can change; ids do not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformUser {
    /// The platform, such as `discourse`.
    pub platform: String,
    /// The platform's user id, as text.
    pub user_id: String,
}

/// One member of one community.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRecord {
    /// The member's name (their username on the platform), as topics and pools refer to them.
    pub member: MemberId,
    /// The platform account, when the member came from a platform rather than an admin.
    pub platform_user: Option<PlatformUser>,
    /// The platform's trust level, when known.
    pub trust_level: Option<u8>,
    /// The platform groups the member belongs to, by name, in the platform's order.
    pub groups: Vec<String>,
    /// The wallet the member currently states, when it is a valid one.
    pub wallet: Option<WalletAddress>,
}

impl MemberRecord {
    /// A member known by name only, as an admin registers them.
    pub fn named(member: MemberId) -> Self {
        MemberRecord {
            member,
            platform_user: None,
            trust_level: None,
            groups: Vec::new(),
            wallet: None,
        }
    }
}
