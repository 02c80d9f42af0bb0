//! The API half of the fake Discourse: a real HTTP server on loopback that answers the endpoints
//! the service calls in Discourse's JSON shapes and status codes:
//!
//! - `POST /posts.json` (replies, new topics with `external_id`, private messages), `GET
//!   /posts/{id}.json`, `GET /polls/voters.json` (paged by `page` from 1 and `limit` ≤ 50, in
//!   voting order), `PUT /polls/toggle_status`, `GET /u/{username}.json`,
//!   `GET /admin/customize/user_fields.json`, `GET /t/external_id/{id}.json` (a 302 to the topic);
//! - `403 {"errors":[…],"error_type":"invalid_access"}` for a bad `Api-Key`/`Api-Username`,
//!   `404 … "not_found"`, `400 … "invalid_parameters"`, `422 {"action":"create_post","errors":[…]}`
//!   and `422 {"errors":[…]}` for bad input, `429` with `Retry-After` and
//!   `{"errors":[…],"error_type":"rate_limit","extras":{"wait_seconds":N}}`.
//!
//! Tests cast and withdraw votes, promote users and inject faults: N 429s, N 500s, a rate-limit
//! window, slow answers, a topic the API user may not reply in (403), and refused connections
//! (the listener closes and every open connection is cut, then the server comes back on the same
//! port). Every request is logged with its time.
//! The routes live in `discourse_routes`, the site's state and documents in `discourse_site`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Method;
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::discourse_routes::{Logged, Shared, Site, router};
use super::discourse_site::{SitePost, SiteTopic, SiteUser, digest};

/// The API user every fake site has, an admin.
pub const API_USERNAME: &str = "system";

/// Handles on every open connection, to cut them.
type Connections = Arc<Mutex<Vec<std::net::TcpStream>>>;

/// A private message as the fake received it.
#[derive(Clone, Debug)]
pub struct SentMessage {
    pub topic_id: i64,
    pub recipients: Vec<String>,
    pub title: String,
    pub raw: String,
    pub external_id: Option<String>,
}

/// The fake site's server.
pub struct FakeDiscourseApi {
    /// `http://127.0.0.1:{port}`: the site's base URL.
    pub base_url: String,
    /// The admin API key it accepts.
    pub api_key: String,
    addr: SocketAddr,
    site: Shared,
    running: Mutex<Option<(JoinHandle<()>, Connections)>>,
}

/// A listener that keeps a handle on every connection it accepts, so that they can be cut.
struct CuttableListener {
    inner: tokio::net::TcpListener,
    connections: Connections,
}

impl axum::serve::Listener for CuttableListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.inner.accept().await else {
                continue;
            };
            let Ok(std_stream) = stream.into_std() else {
                continue;
            };
            if let Ok(handle) = std_stream.try_clone() {
                self.connections.lock().unwrap().push(handle);
            }
            if let Ok(stream) = TcpStream::from_std(std_stream) {
                return (stream, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

fn listen(addr: SocketAddr) -> tokio::net::TcpListener {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.bind(addr).expect("the fake's port is free");
    socket.listen(1024).expect("listening")
}

impl FakeDiscourseApi {
    /// A site with the admin API user `system`, the categories 5 and 6, the voting topic 10
    /// ("Governance votes", in category 5), and the given custom user fields.
    pub async fn start(user_fields: &[(i64, &str)]) -> FakeDiscourseApi {
        let mut site = Site {
            api_key: "fake-api-key-0123456789abcdef".into(),
            categories: vec![5, 6],
            user_fields: user_fields
                .iter()
                .map(|(id, n)| (*id, n.to_string()))
                .collect(),
            ..Site::default()
        };
        site.users.push(SiteUser {
            id: -1,
            username: API_USERNAME.into(),
            trust_level: 4,
            admin: true,
            groups: Vec::new(),
            fields: BTreeMap::new(),
        });
        site.topics.push(SiteTopic {
            id: 10,
            title: "Governance votes".into(),
            slug: "governance-votes".into(),
            category_id: Some(5),
            archetype: "regular".into(),
            external_id: None,
            recipients: Vec::new(),
            archived: false,
        });
        site.posts.push(SitePost {
            id: 100,
            topic_id: 10,
            post_number: 1,
            username: API_USERNAME.into(),
            raw: "Votes on who shares the revenue happen here.".into(),
        });
        let api_key = site.api_key.clone();
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)));
        let addr = listener.local_addr().unwrap();
        let fake = FakeDiscourseApi {
            base_url: format!("http://{addr}"),
            api_key,
            addr,
            site: Arc::new(Mutex::new(site)),
            running: Mutex::new(None),
        };
        fake.serve(listener);
        fake
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let connections = Arc::new(Mutex::new(Vec::new()));
        let listener = CuttableListener {
            inner: listener,
            connections: connections.clone(),
        };
        let app = router(self.site.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *self.running.lock().unwrap() = Some((task, connections));
    }

    /// Stops answering: the port refuses connections and open connections are cut.
    pub async fn go_down(&self) {
        let running = self.running.lock().unwrap().take();
        if let Some((task, connections)) = running {
            task.abort();
            let _ = task.await;
            for connection in connections.lock().unwrap().drain(..) {
                let _ = connection.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    /// Answers again, on the same port.
    pub fn come_back(&self) {
        self.serve(listen(self.addr));
    }

    /// Adds a user at trust level 1 with these custom field values.
    pub fn add_user(&self, id: i64, username: &str, fields: &[(&str, &str)]) {
        self.site.lock().unwrap().users.push(SiteUser {
            id,
            username: username.into(),
            trust_level: 1,
            admin: false,
            groups: Vec::new(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.to_string())))
                .collect(),
        });
    }

    /// Adds `count` users `voter1`… with ids from `first_id`.
    pub fn add_voters(&self, first_id: i64, count: usize) -> Vec<String> {
        (0..count)
            .map(|i| {
                let name = format!("voter{}", i + 1);
                self.add_user(first_id + i as i64, &name, &[]);
                name
            })
            .collect()
    }

    /// Sets a user's trust level (and so their automatic groups).
    pub fn promote(&self, username: &str, level: u8) {
        let mut s = self.site.lock().unwrap();
        let user = s
            .users
            .iter_mut()
            .find(|u| u.username == username)
            .expect("a known user");
        user.trust_level = level;
    }

    /// Adds a user to a custom group.
    pub fn add_to_group(&self, username: &str, group: &str) {
        let mut s = self.site.lock().unwrap();
        let user = s
            .users
            .iter_mut()
            .find(|u| u.username == username)
            .expect("a known user");
        user.groups.push(group.into());
    }

    /// Casts (or changes) `username`'s vote, by option text, as the poll plugin would allow it.
    pub fn vote(
        &self,
        post_id: i64,
        poll: &str,
        username: &str,
        option: &str,
    ) -> Result<(), String> {
        let mut s = self.site.lock().unwrap();
        let user = s.user(username).cloned().ok_or("no such user")?;
        s.vote_seq += 1;
        let seq = s.vote_seq;
        let poll = s
            .polls
            .iter_mut()
            .find(|p| p.post_id == post_id && p.name == poll)
            .ok_or("No poll with this name")?;
        if poll.status == "closed" {
            return Err("The poll must be open to vote.".into());
        }
        if let Some(groups) = &poll.groups {
            let mine = user.all_groups();
            if !groups
                .split(',')
                .any(|g| mine.iter().any(|m| m.eq_ignore_ascii_case(g)))
            {
                return Err(format!("Only members of {groups} can vote."));
            }
        }
        let id = digest(option);
        if !poll.options.iter().any(|(d, _)| *d == id) {
            return Err("Requires at least 1 valid option.".into());
        }
        poll.votes.retain(|(u, _, _)| *u != user.id);
        poll.votes.push((user.id, id, seq));
        Ok(())
    }

    /// Withdraws `username`'s vote.
    pub fn withdraw(&self, post_id: i64, poll: &str, username: &str) {
        let mut s = self.site.lock().unwrap();
        let user = s.user(username).expect("a known user").id;
        if let Some(poll) = s
            .polls
            .iter_mut()
            .find(|p| p.post_id == post_id && p.name == poll)
        {
            poll.votes.retain(|(u, _, _)| *u != user);
        }
    }

    /// A poll's status (`open` or `closed`), if it exists.
    pub fn poll_status(&self, post_id: i64, poll: &str) -> Option<String> {
        let s = self.site.lock().unwrap();
        s.polls
            .iter()
            .find(|p| p.post_id == post_id && p.name == poll)
            .map(|p| p.status.clone())
    }

    /// A post's Markdown.
    pub fn post_raw(&self, post_id: i64) -> Option<String> {
        let s = self.site.lock().unwrap();
        s.posts
            .iter()
            .find(|p| p.id == post_id)
            .map(|p| p.raw.clone())
    }

    /// The topic of a post, with its title and category.
    pub fn topic_of(&self, post_id: i64) -> Option<(i64, String, Option<i64>)> {
        let s = self.site.lock().unwrap();
        let post = s.posts.iter().find(|p| p.id == post_id)?;
        let topic = s.topics.iter().find(|t| t.id == post.topic_id)?;
        Some((topic.id, topic.title.clone(), topic.category_id))
    }

    /// Every private message received, in order.
    pub fn private_messages(&self) -> Vec<SentMessage> {
        let s = self.site.lock().unwrap();
        s.topics
            .iter()
            .filter(|t| t.archetype == "private_message")
            .map(|t| SentMessage {
                topic_id: t.id,
                recipients: t.recipients.clone(),
                title: t.title.clone(),
                raw: s
                    .posts
                    .iter()
                    .find(|p| p.topic_id == t.id)
                    .map(|p| p.raw.clone())
                    .unwrap_or_default(),
                external_id: t.external_id.clone(),
            })
            .collect()
    }

    /// Answers the next `count` requests with 429 and `Retry-After: secs`.
    pub fn rate_limit_next(&self, count: usize, secs: u64) {
        let mut s = self.site.lock().unwrap();
        s.faults.next_429 = count;
        s.faults.retry_after_secs = secs;
    }

    /// Answers every request with 429 for `length` from the next request on, each telling the
    /// time left (rounded up to whole seconds).
    pub fn rate_limit_window(&self, length: Duration) {
        self.site.lock().unwrap().faults.window_armed = Some(length);
    }

    /// When the rate-limit window ends, once it started.
    pub fn window_end(&self) -> Option<Instant> {
        self.site.lock().unwrap().faults.window_until
    }

    /// Takes away the API user's right to reply in `topic_id`: replies are answered 403.
    pub fn forbid_replies_in(&self, topic_id: i64) {
        self.site.lock().unwrap().read_only_topics.push(topic_id);
    }

    /// Answers the next `count` requests with 500.
    pub fn fail_next(&self, count: usize) {
        self.site.lock().unwrap().faults.next_500 = count;
    }

    /// Holds every answer for `delay` after acting on the request (or no longer, with `None`).
    pub fn slow(&self, delay: Option<Duration>) {
        self.site.lock().unwrap().faults.slowness = delay;
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.site.lock().unwrap().log.clone()
    }

    /// Requests received so far whose path starts with `prefix`.
    pub fn count(&self, method: Method, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|l| l.method == method.as_str() && l.path.starts_with(prefix))
            .count()
    }
}
