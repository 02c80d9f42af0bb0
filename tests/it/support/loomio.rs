//! A fake Loomio: a real HTTP server on loopback serving the User API (`/api/b2`) as Loomio
//! 3.8 does, for the calls the service makes, with Loomio's status codes and error bodies:
//!
//! - `Authorization: Bearer <key>` (a key in the query string is ignored, as Loomio ≥ 3.1.3
//!   does), refused with `403 {"error":"You are not authorized to access this page."}`;
//! - `POST /api/b2/polls` and `PATCH /api/b2/polls/{id}` read the poll's fields nested under
//!   `poll`; a flat JSON body is wrapped as Rails does, keeping only the poll table's columns, so
//!   its `group_id` and `options` are lost (an orphan poll, answered 200, as Loomio does);
//!   validation failures are `422 {"errors":{"field":["message"]}}`, unknown records
//!   `404 {"error":404}`, unpermitted keys `400 {"error":400}`;
//! - `GET /api/b2/polls/{id or key}`, `GET /api/b2/polls?group_id=&status=&limit=&offset=`
//!   (newest first) and `GET /api/b2/threads/{topic_id}/items` answer compound documents
//!   (`polls`, `poll_options`, `outcomes`, `users`, `stances`, `items`, `meta`) shaped like
//!   Loomio's serializers, `results` included;
//! - `closing_at` is rounded down to the hour and must then be in the future.
//!
//! Tests act as Loomio's members (vote, change a vote, withdraw it, close a poll, let the hourly
//! job close lapsed polls), inject faults (500s, 429s with `Retry-After`, a create that is applied
//! and then answered 500, a slow answer, an error that echoes the request's key), stop the
//! server so that connections are refused and start it again on the same port, and collect the
//! chatbot webhooks Loomio would send (text rendered for a chat room, no signature).

#[path = "loomio/api.rs"]
mod api;
#[path = "loomio/documents.rs"]
mod documents;
#[path = "loomio/hooks.rs"]
mod hooks;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use hooks::{Webhook, WebhookFormat};

/// Loomio's time format in JSON: UTC with milliseconds.
pub fn loomio_time(t: jiff::Timestamp) -> String {
    format!("{t:.3}")
}

/// A fault the next matching request meets.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// `500` with Rails' HTML error page, the request not applied.
    ServerError,
    /// `429 Retry later` from Rack::Attack, with this `Retry-After` when given.
    TooManyRequests(Option<String>),
    /// The request is applied, and then answered `500` (as when a later step fails).
    ApplyThenFail,
    /// The answer comes after this long.
    Delay(Duration),
    /// The request is applied at once, and answered after this long.
    ApplyThenStall(Duration),
    /// `422` whose message repeats the request's `Authorization` header.
    EchoAuthorization,
}

/// A Loomio user.
#[derive(Clone, Debug)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub username: String,
    pub api_key: Option<String>,
}

/// A group and its members.
#[derive(Clone, Debug)]
pub struct Group {
    pub id: u64,
    pub members: Vec<u64>,
    pub admins: Vec<u64>,
}

/// One option of a poll.
#[derive(Clone, Debug)]
pub struct PollOption {
    pub id: u64,
    pub name: String,
    pub priority: i64,
    /// A proposal's common option keeps its key here (`agree`), whatever its name.
    pub icon: Option<String>,
}

/// A poll.
#[derive(Clone, Debug)]
pub struct Poll {
    pub id: u64,
    pub key: String,
    pub group_id: Option<u64>,
    pub topic_id: u64,
    pub author_id: u64,
    pub title: String,
    pub details: String,
    pub details_format: String,
    pub poll_type: String,
    pub options: Vec<PollOption>,
    pub closing_at: Option<jiff::Timestamp>,
    pub closed_at: Option<jiff::Timestamp>,
    pub opened_at: Option<jiff::Timestamp>,
    pub created_at: jiff::Timestamp,
    pub hide_results: String,
    pub anonymous: bool,
    pub specified_voters_only: bool,
    pub outcome: Option<(u64, String, Option<u64>)>,
    pub versions_count: u64,
}

/// A stance: a voter's ballot (Loomio keeps replaced ones with `latest: false`).
#[derive(Clone, Debug)]
pub struct Stance {
    pub id: u64,
    pub poll_id: u64,
    pub participant_id: u64,
    pub option_ids: Vec<u64>,
    pub cast_at: Option<jiff::Timestamp>,
    pub latest: bool,
    pub revoked_at: Option<jiff::Timestamp>,
    pub created_at: jiff::Timestamp,
    /// Why the voter chose so; a stance joins its thread only with one (`Stance#add_to_thread?`).
    pub reason: Option<String>,
}

/// One item of a thread.
#[derive(Clone, Debug)]
pub struct Item {
    pub id: u64,
    pub topic_id: u64,
    pub kind: String,
    pub actor_id: u64,
    pub itemable_type: String,
    pub itemable_id: u64,
    pub created_at: jiff::Timestamp,
}

/// A request the fake answered.
#[derive(Clone, Debug)]
pub struct Logged {
    /// `GET /api/b2/polls/1` (with the query).
    pub request: String,
    pub status: u16,
}

#[derive(Default)]
pub(crate) struct Site {
    pub(crate) base_url: String,
    pub(crate) users: Vec<User>,
    pub(crate) groups: Vec<Group>,
    pub(crate) polls: Vec<Poll>,
    pub(crate) stances: Vec<Stance>,
    pub(crate) items: Vec<Item>,
    next_id: u64,
    pub(crate) faults: VecDeque<(Option<String>, Fault)>,
    pub(crate) log: Vec<Logged>,
    pub(crate) chatbot: Option<WebhookFormat>,
    pub(crate) webhooks: Vec<Webhook>,
    /// The group's poll template, applied to every new poll whatever its request asks: an
    /// anonymous template (`PollService.build` then hides results until closing), or one that
    /// hides results.
    pub(crate) template: PollTemplate,
    /// How new polls store a proposal's common options: `plain` (translated words, the key as
    /// icon) or the legacy `i18n` (the key as the name).
    pub(crate) option_name_format: &'static str,
    /// Who was told of each poll by `PollService.invite` (`notify_recipients`), by poll.
    pub(crate) announced: Vec<(u64, Vec<u64>)>,
}

/// Settings a group's poll template forces on new polls.
#[derive(Clone, Debug, Default)]
pub struct PollTemplate {
    pub anonymous: bool,
    pub hide_results: Option<&'static str>,
}

impl Site {
    pub(crate) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(crate) fn user(&self, id: u64) -> &User {
        self.users
            .iter()
            .find(|u| u.id == id)
            .expect("a known user")
    }

    pub(crate) fn poll(&self, id: u64) -> &Poll {
        self.polls
            .iter()
            .find(|p| p.id == id)
            .expect("a known poll")
    }

    pub(crate) fn poll_url(&self, poll: &Poll) -> String {
        format!("{}/p/{}", self.base_url, poll.key)
    }

    pub(crate) fn item(&mut self, topic_id: u64, kind: &str, actor_id: u64, itemable: (&str, u64)) {
        let id = self.id();
        self.items.push(Item {
            id,
            topic_id,
            kind: kind.into(),
            actor_id,
            itemable_type: itemable.0.into(),
            itemable_id: itemable.1,
            created_at: jiff::Timestamp::now(),
        });
    }

    /// Loomio's `ChatbotService.publish_event!`: a webhook for the group's chat integration.
    pub(crate) fn publish(&mut self, kind: &str, actor_id: u64, poll_id: u64, choices: &[String]) {
        if let Some(format) = self.chatbot {
            let poll = self.poll(poll_id).clone();
            let actor = self.user(actor_id).name.clone();
            let url = self.poll_url(&poll);
            self.webhooks
                .push(hooks::render(format, kind, &actor, &poll, &url, choices));
        }
    }

    /// The latest stance of a voter in a poll.
    fn latest_stance(&mut self, poll_id: u64, user: u64) -> Option<&mut Stance> {
        self.stances
            .iter_mut()
            .find(|s| s.poll_id == poll_id && s.participant_id == user && s.latest)
    }
}

/// The fake site, its server and the controls tests use.
pub struct FakeLoomio {
    site: Arc<Mutex<Site>>,
    addr: SocketAddr,
    server: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
    /// The group votes happen in.
    pub group_id: u64,
    /// A group the bot is not a member of.
    pub other_group_id: u64,
    /// The API user (a bot account, admin of the group).
    pub bot: User,
    /// Members of the group, who vote.
    pub members: Vec<User>,
}

impl FakeLoomio {
    /// A site with a group of three members (ann, bob, cat) and a bot admin whose key is `key`.
    pub async fn start(key: &str) -> FakeLoomio {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let mut site = Site {
            base_url: format!("http://{addr}"),
            option_name_format: "plain",
            ..Site::default()
        };
        let user = |site: &mut Site, name: &str, username: &str, key: Option<&str>| {
            let id = site.id() + 500;
            let user = User {
                id,
                name: name.into(),
                username: username.into(),
                api_key: key.map(str::to_string),
            };
            site.users.push(user.clone());
            user
        };
        let bot = user(&mut site, "Oracle Bot", "oraclebot", Some(key));
        let members = vec![
            user(&mut site, "Ann Example", "ann", Some("ann-own-key-0001")),
            user(&mut site, "Bob Sample", "bob", None),
            user(&mut site, "Cat Placeholder", "cat", None),
        ];
        let group_id = site.id();
        site.groups.push(Group {
            id: group_id,
            members: std::iter::once(bot.id)
                .chain(members.iter().map(|m| m.id))
                .collect(),
            admins: vec![bot.id],
        });
        let outsider = user(
            &mut site,
            "Out Sider",
            "outsider",
            Some("outsider-key-0001"),
        );
        let other_group = site.id();
        site.groups.push(Group {
            id: other_group,
            members: vec![outsider.id],
            admins: vec![outsider.id],
        });
        let site = Arc::new(Mutex::new(site));
        let fake = FakeLoomio {
            site,
            addr,
            server: Mutex::new(None),
            group_id,
            other_group_id: other_group,
            bot,
            members,
        };
        fake.serve(listener);
        fake
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        let router = api::router(self.site.clone());
        let handle = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("the fake serves");
        });
        *self.server.lock().unwrap() = Some((stop, handle));
    }

    /// The site's base URL, as an admin configures it.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops listening: connections are refused until [`FakeLoomio::resume`].
    pub async fn stop(&self) {
        let server = self.server.lock().unwrap().take();
        if let Some((stop, handle)) = server {
            let _ = stop.send(());
            let _ = handle.await;
        }
    }

    /// Listens again on the same port, with the same data.
    pub async fn resume(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("the fake's port is free again");
        self.serve(listener);
    }

    /// The next `times` requests (those starting with `request`, such as `POST` or
    /// `GET /api/b2/polls/8`, when given) meet `fault`.
    pub fn inject(&self, request: Option<&str>, fault: Fault, times: usize) {
        let mut site = self.site.lock().unwrap();
        for _ in 0..times {
            site.faults
                .push_back((request.map(str::to_string), fault.clone()));
        }
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.site.lock().unwrap().log.clone()
    }

    /// How many requests started with `prefix` (such as `POST /api/b2/polls`).
    pub fn count(&self, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|l| l.request.starts_with(prefix))
            .count()
    }

    /// The group's polls, oldest first.
    pub fn polls(&self) -> Vec<Poll> {
        self.site.lock().unwrap().polls.clone()
    }

    /// One poll.
    pub fn poll(&self, id: u64) -> Poll {
        self.site.lock().unwrap().poll(id).clone()
    }

    /// Sends chatbot webhooks of this format for what happens in the group from now on.
    pub fn add_chatbot(&self, format: WebhookFormat) {
        self.site.lock().unwrap().chatbot = Some(format);
    }

    /// The webhooks Loomio would have sent since the last call.
    pub fn take_webhooks(&self) -> Vec<Webhook> {
        std::mem::take(&mut self.site.lock().unwrap().webhooks)
    }

    /// `member` votes for the options named, without a reason: see [`FakeLoomio::vote_with_reason`].
    pub fn vote(&self, poll_id: u64, member: &User, choices: &[&str]) {
        self.vote_with_reason(poll_id, member, choices, None);
    }

    /// `member` votes for the options named (Loomio's `StanceService.create`/`update`): a first
    /// vote fills the member's invitation, a change replaces the stance, keeping the old one. The
    /// stance joins the poll's thread only with a reason, and not while results are hidden.
    pub fn vote_with_reason(
        &self,
        poll_id: u64,
        member: &User,
        choices: &[&str],
        reason: Option<&str>,
    ) {
        let mut site = self.site.lock().unwrap();
        let poll = site.poll(poll_id).clone();
        assert!(
            poll.closed_at.is_none(),
            "Loomio refuses votes on a closed poll"
        );
        let option_ids: Vec<u64> = choices
            .iter()
            .map(|c| {
                poll.options
                    .iter()
                    .find(|o| o.name == *c)
                    .unwrap_or_else(|| panic!("poll {poll_id} has no option {c}"))
                    .id
            })
            .collect();
        let now = jiff::Timestamp::now();
        let kind = match site.latest_stance(poll_id, member.id) {
            Some(stance) if stance.cast_at.is_none() => {
                stance.option_ids = option_ids;
                stance.cast_at = Some(now);
                stance.reason = reason.map(str::to_string);
                "stance_created"
            }
            Some(stance) => {
                stance.latest = false;
                let id = site.id();
                site.stances.push(Stance {
                    id,
                    poll_id,
                    participant_id: member.id,
                    option_ids,
                    cast_at: Some(now),
                    latest: true,
                    revoked_at: None,
                    created_at: now,
                    reason: reason.map(str::to_string),
                });
                "stance_updated"
            }
            None => {
                let id = site.id();
                site.stances.push(Stance {
                    id,
                    poll_id,
                    participant_id: member.id,
                    option_ids,
                    cast_at: Some(now),
                    latest: true,
                    revoked_at: None,
                    created_at: now,
                    reason: reason.map(str::to_string),
                });
                "stance_created"
            }
        };
        let stance = site
            .stances
            .iter()
            .rfind(|s| s.poll_id == poll_id && s.participant_id == member.id)
            .unwrap()
            .id;
        let with_reason = reason.is_some_and(|r| !r.trim().is_empty());
        if with_reason && poll.hide_results != "until_closed" {
            site.item(poll.topic_id, kind, member.id, ("Stance", stance));
        }
        let names: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
        site.publish(kind, member.id, poll_id, &names);
    }

    /// `member` withdraws their vote (Loomio's `uncast`): a replacement stance without choices.
    pub fn withdraw(&self, poll_id: u64, member: &User) {
        let mut site = self.site.lock().unwrap();
        let stance = site
            .latest_stance(poll_id, member.id)
            .expect("the member has a stance");
        stance.latest = false;
        let id = site.id();
        site.stances.push(Stance {
            id,
            poll_id,
            participant_id: member.id,
            option_ids: Vec::new(),
            cast_at: None,
            latest: true,
            revoked_at: None,
            created_at: jiff::Timestamp::now(),
            reason: None,
        });
        // Without a reason the withdrawal joins no thread, but the chat integration hears it.
        site.publish("stance_updated", member.id, poll_id, &[]);
    }

    /// `count` new members of the group, who may vote on every poll (`vote` invites a member
    /// who joined after the poll opened, as `recipient_audience: group` does).
    pub fn add_members(&self, count: usize) -> Vec<User> {
        let mut site = self.site.lock().unwrap();
        let group = self.group_id;
        (0..count)
            .map(|n| {
                let id = site.id() + 500;
                let user = User {
                    id,
                    name: format!("Member {n}"),
                    username: format!("member{n}"),
                    api_key: None,
                };
                site.users.push(user.clone());
                site.groups
                    .iter_mut()
                    .find(|g| g.id == group)
                    .unwrap()
                    .members
                    .push(id);
                user
            })
            .collect()
    }

    /// Makes the group's poll template force `template` on every new poll.
    pub fn use_template(&self, template: PollTemplate) {
        self.site.lock().unwrap().template = template;
    }

    /// Makes new proposals store their common options in the legacy `i18n` format (the key as
    /// the name), as polls made by older Loomio versions do.
    pub fn use_legacy_option_names(&self) {
        self.site.lock().unwrap().option_name_format = "i18n";
    }

    /// Who `PollService.invite` told of the poll, by user id.
    pub fn announced(&self, poll_id: u64) -> Vec<u64> {
        let site = self.site.lock().unwrap();
        site.announced
            .iter()
            .filter(|(p, _)| *p == poll_id)
            .flat_map(|(_, users)| users.clone())
            .collect()
    }

    /// `member` closes the poll in Loomio's web interface.
    pub fn close_by(&self, poll_id: u64, member: &User) {
        let mut site = self.site.lock().unwrap();
        let poll = site.polls.iter_mut().find(|p| p.id == poll_id).unwrap();
        poll.closed_at = Some(jiff::Timestamp::now());
        let topic = poll.topic_id;
        site.item(topic, "poll_closed_by_user", member.id, ("Poll", poll_id));
        site.publish("poll_closed_by_user", member.id, poll_id, &[]);
    }

    /// Loomio's hourly job run at `at`: every open poll whose `closing_at` has passed closes.
    pub fn expire_lapsed(&self, at: jiff::Timestamp) -> Vec<u64> {
        let mut site = self.site.lock().unwrap();
        let lapsed: Vec<(u64, u64, u64)> = site
            .polls
            .iter_mut()
            .filter(|p| p.closed_at.is_none() && p.closing_at.is_some_and(|c| c <= at))
            .map(|p| {
                p.closed_at = Some(at);
                (p.id, p.topic_id, p.author_id)
            })
            .collect();
        for (poll, topic, author) in &lapsed {
            site.item(*topic, "poll_expired", *author, ("Poll", *poll));
            site.publish("poll_expired", *author, *poll, &[]);
        }
        lapsed.into_iter().map(|(id, ..)| id).collect()
    }

    /// The poll's author publishes an outcome naming `option`.
    pub fn publish_outcome(&self, poll_id: u64, statement: &str, option: Option<&str>) {
        let mut site = self.site.lock().unwrap();
        let id = site.id();
        let poll = site.polls.iter_mut().find(|p| p.id == poll_id).unwrap();
        let option = option.map(|name| poll.options.iter().find(|o| o.name == name).unwrap().id);
        poll.outcome = Some((id, statement.to_string(), option));
        let (topic, author) = (poll.topic_id, poll.author_id);
        site.item(topic, "outcome_created", author, ("Outcome", id));
        site.publish("outcome_created", author, poll_id, &[]);
    }
}
