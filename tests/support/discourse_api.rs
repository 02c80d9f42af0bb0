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
//! window, slow answers, and refused connections (the listener closes and every open connection
//! is cut, then the server comes back on the same port). Every request is logged with its time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::discourse_site::{
    SitePoll, SitePost, SiteTopic, SiteUser, digest, polls_of, post_json, slug_of,
};

/// The API user every fake site has, an admin.
pub const API_USERNAME: &str = "system";

/// A logged request; `status` is 0 until it is answered.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub at: Instant,
}

/// Faults to inject.
#[derive(Default)]
struct Faults {
    next_429: usize,
    retry_after_secs: u64,
    next_500: usize,
    /// Every request until this moment is answered 429.
    window_until: Option<Instant>,
    /// A window of this length starts at the next request.
    window_armed: Option<Duration>,
    slowness: Option<Duration>,
}

#[derive(Default)]
struct Site {
    api_key: String,
    users: Vec<SiteUser>,
    user_fields: Vec<(i64, String)>,
    categories: Vec<i64>,
    topics: Vec<SiteTopic>,
    posts: Vec<SitePost>,
    polls: Vec<SitePoll>,
    vote_seq: u64,
    faults: Faults,
    log: Vec<Logged>,
}

impl Site {
    fn next_id<T>(items: &[T], id: impl Fn(&T) -> i64, start: i64) -> i64 {
        items.iter().map(id).max().unwrap_or(start - 1) + 1
    }
    fn user(&self, name: &str) -> Option<&SiteUser> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(name))
    }
}

type Shared = Arc<Mutex<Site>>;

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

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errors": [message], "error_type": kind})),
    )
        .into_response()
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "The requested URL or resource could not be found.",
    )
}

fn invalid_params(name: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_parameters",
        &format!("You supplied invalid parameters to the request: {name}"),
    )
}

fn create_post_error(message: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({"action": "create_post", "errors": [message]})),
    )
        .into_response()
}

fn unprocessable(message: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({"errors": [message]})),
    )
        .into_response()
}

fn rate_limited(wait: u64) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(json!({
            "errors": [format!("You’ve performed this action too many times. Please wait {wait} seconds before trying again.")],
            "error_type": "rate_limit",
            "extras": {"wait_seconds": wait, "time_left": format!("{wait} seconds")}})),
    )
        .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        wait.to_string().parse().expect("digits"),
    );
    response
}

/// Faults, the key check and the log, around every route.
async fn gatekeeper(State(site): State<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let at = Instant::now();
    let early = {
        let mut s = site.lock().unwrap();
        if let Some(length) = s.faults.window_armed.take() {
            s.faults.window_until = Some(at + length);
        }
        if let Some(until) = s.faults.window_until.filter(|u| *u > at) {
            Some(rate_limited((until - at).as_secs_f64().ceil() as u64))
        } else if s.faults.next_429 > 0 {
            s.faults.next_429 -= 1;
            Some(rate_limited(s.faults.retry_after_secs))
        } else if s.faults.next_500 > 0 {
            s.faults.next_500 -= 1;
            Some((StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response())
        } else {
            let key = request
                .headers()
                .get("api-key")
                .and_then(|v| v.to_str().ok());
            let user = request
                .headers()
                .get("api-username")
                .and_then(|v| v.to_str().ok());
            let valid =
                key == Some(s.api_key.as_str()) && user.is_some_and(|u| s.user(u).is_some());
            (!valid).then(|| {
                error(
                    StatusCode::FORBIDDEN,
                    "invalid_access",
                    "You are not permitted to view the requested resource. The API username or key is invalid.",
                )
            })
        }
    };
    let entry = {
        let mut s = site.lock().unwrap();
        s.log.push(Logged {
            method,
            path,
            status: 0,
            at,
        });
        s.log.len() - 1
    };
    let response = match early {
        Some(response) => response,
        None => {
            let response = next.run(request).await;
            let slowness = site.lock().unwrap().faults.slowness;
            if let Some(slowness) = slowness {
                tokio::time::sleep(slowness).await;
            }
            response
        }
    };
    site.lock().unwrap().log[entry].status = response.status().as_u16();
    response
}

fn json_id(file: &str) -> Option<i64> {
    file.strip_suffix(".json")?.parse().ok()
}

fn body_text(body: &Value, field: &str) -> Option<String> {
    match &body[field] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn create_post(State(site): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return invalid_params("raw");
    };
    let Some(raw) = body_text(&body, "raw") else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_parameters",
            "param is missing or the value is empty: raw",
        );
    };
    let mut s = site.lock().unwrap();
    let author = headers
        .get("api-username")
        .and_then(|v| v.to_str().ok())
        .and_then(|u| s.user(u))
        .cloned()
        .expect("the gatekeeper checked the user");
    let external_id = body_text(&body, "external_id");
    if let Some(id) = &external_id {
        if id.len() > 50
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return create_post_error("External ID is invalid");
        }
        if s.topics.iter().any(|t| t.external_id.as_ref() == Some(id)) {
            return create_post_error("External ID has already been taken");
        }
    }
    let post_id = Site::next_id(&s.posts, |p| p.id, 100);
    let poll_start = Site::next_id(&s.polls, |p| p.id, 1);
    let polls = match polls_of(&raw, post_id, poll_start) {
        Ok(polls) => polls,
        Err(e) => return create_post_error(&e),
    };
    let topic = if let Some(topic_id) = body_text(&body, "topic_id") {
        let Some(topic) = s.topics.iter().find(|t| t.id.to_string() == topic_id) else {
            return not_found();
        };
        if topic.archived {
            return create_post_error("This topic is archived.");
        }
        topic.clone()
    } else {
        let Some(title) = body_text(&body, "title") else {
            return create_post_error("Title can't be blank");
        };
        let private = body["archetype"] == "private_message";
        let mut recipients = Vec::new();
        let mut category_id = None;
        if private {
            let names = body_text(&body, "target_recipients").unwrap_or_default();
            for name in names.split(',').filter(|n| !n.is_empty()) {
                if s.user(name).is_none() {
                    return create_post_error(&format!("Sorry, there is no user named '{name}'."));
                }
                recipients.push(name.to_string());
            }
            if recipients.is_empty() {
                return create_post_error("You must choose a valid user.");
            }
        } else {
            if title.chars().count() < 15 {
                return create_post_error("Title is too short (minimum is 15 characters)");
            }
            let category = body_text(&body, "category").and_then(|c| c.parse::<i64>().ok());
            match category {
                Some(c) if s.categories.contains(&c) => category_id = Some(c),
                _ => return create_post_error("Category can't be blank"),
            }
        }
        let topic = SiteTopic {
            id: Site::next_id(&s.topics, |t| t.id, 10),
            slug: slug_of(&title),
            title,
            category_id,
            archetype: if private {
                "private_message"
            } else {
                "regular"
            }
            .into(),
            external_id,
            recipients,
            archived: false,
        };
        s.topics.push(topic.clone());
        topic
    };
    let number = s.posts.iter().filter(|p| p.topic_id == topic.id).count() as i64 + 1;
    let post = SitePost {
        id: post_id,
        topic_id: topic.id,
        post_number: number,
        username: author.username.clone(),
        raw,
    };
    s.posts.push(post.clone());
    s.polls.extend(polls);
    let polls: Vec<&SitePoll> = s.polls.iter().filter(|p| p.post_id == post.id).collect();
    axum::Json(post_json(&post, &topic, &author, &polls)).into_response()
}

fn post_document(s: &Site, post: &SitePost) -> Value {
    let topic = s
        .topics
        .iter()
        .find(|t| t.id == post.topic_id)
        .expect("a post has a topic");
    let author = s.user(&post.username).expect("a post has an author");
    let polls: Vec<&SitePoll> = s.polls.iter().filter(|p| p.post_id == post.id).collect();
    post_json(post, topic, author, &polls)
}

async fn get_post(State(site): State<Shared>, Path(file): Path<String>) -> Response {
    let s = site.lock().unwrap();
    match json_id(&file).and_then(|id| s.posts.iter().find(|p| p.id == id)) {
        Some(post) => axum::Json(post_document(&s, post)).into_response(),
        None => not_found(),
    }
}

async fn voters(State(site): State<Shared>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let s = site.lock().unwrap();
    let Some(post_id) = q.get("post_id").and_then(|p| p.parse::<i64>().ok()) else {
        return invalid_params("post_id");
    };
    let Some(name) = q.get("poll_name") else {
        return invalid_params("poll_name");
    };
    let Some(poll) = s
        .polls
        .iter()
        .find(|p| p.post_id == post_id && &p.name == name)
    else {
        if !s.posts.iter().any(|p| p.id == post_id) {
            return invalid_params("post_id");
        }
        return invalid_params("poll_name");
    };
    if !poll.public {
        return invalid_params("poll_name");
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(25)
        .clamp(0, 50);
    let page = q
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    let Some(option) = q.get("option_id").filter(|o| !o.is_empty()) else {
        return invalid_params("option_id");
    };
    if !poll.options.iter().any(|(d, _)| d == option) {
        return invalid_params("option_id");
    }
    let offset = ((page - 1) * limit) as usize;
    let users: Vec<Value> = poll
        .voters_of(option)
        .into_iter()
        .skip(offset)
        .take(limit as usize)
        .filter_map(|id| s.users.iter().find(|u| u.id == id))
        .map(SiteUser::name_json)
        .collect();
    axum::Json(json!({"voters": {option: users}})).into_response()
}

async fn toggle_status(State(site): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (Some(post_id), Some(name), Some(status)) = (
        body_text(&body, "post_id"),
        body_text(&body, "poll_name"),
        body_text(&body, "status"),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_parameters",
            "param is missing or the value is empty: post_id, poll_name, status",
        );
    };
    let mut s = site.lock().unwrap();
    let Some(post) = s
        .posts
        .iter()
        .find(|p| p.id.to_string() == post_id)
        .cloned()
    else {
        return unprocessable("The post was deleted.");
    };
    let caller = headers
        .get("api-username")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let staff = s.user(caller).is_some_and(|u| u.admin);
    if !staff && !post.username.eq_ignore_ascii_case(caller) {
        return unprocessable(
            "Only staff members or the original poster can toggle a poll status.",
        );
    }
    if status != "open" && status != "closed" {
        return unprocessable("Status must be open or closed.");
    }
    let Some(poll) = s
        .polls
        .iter_mut()
        .find(|p| p.post_id == post.id && p.name == name)
    else {
        return unprocessable(&format!(
            "No poll named <strong>{name}</strong> associated with this post."
        ));
    };
    poll.status = status;
    axum::Json(json!({"poll": poll.json()})).into_response()
}

async fn get_user(State(site): State<Shared>, Path(file): Path<String>) -> Response {
    let s = site.lock().unwrap();
    match file.strip_suffix(".json").and_then(|name| s.user(name)) {
        Some(user) => axum::Json(user.profile_json()).into_response(),
        None => not_found(),
    }
}

async fn user_fields(State(site): State<Shared>, headers: HeaderMap) -> Response {
    let s = site.lock().unwrap();
    let caller = headers
        .get("api-username")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !s.user(caller).is_some_and(|u| u.admin) {
        return not_found();
    }
    let fields: Vec<Value> = s
        .user_fields
        .iter()
        .enumerate()
        .map(|(i, (id, name))| {
            json!({"id": id, "name": name, "description": format!("Your {name}"),
                   "field_type": "text", "editable": true, "requirement": "optional",
                   "show_on_profile": false, "show_on_user_card": false, "searchable": false,
                   "position": i + 1})
        })
        .collect();
    axum::Json(json!({"user_fields": fields})).into_response()
}

async fn topic_by_external_id(State(site): State<Shared>, Path(file): Path<String>) -> Response {
    let s = site.lock().unwrap();
    let id = file.strip_suffix(".json").unwrap_or(&file);
    match s
        .topics
        .iter()
        .find(|t| t.external_id.as_deref() == Some(id))
    {
        Some(topic) => (
            StatusCode::FOUND,
            [(
                header::LOCATION,
                format!("/t/{}/{}.json", topic.slug, topic.id),
            )],
        )
            .into_response(),
        None => not_found(),
    }
}

async fn get_topic(
    State(site): State<Shared>,
    Path((_slug, file)): Path<(String, String)>,
) -> Response {
    let s = site.lock().unwrap();
    let Some(topic) = json_id(&file).and_then(|id| s.topics.iter().find(|t| t.id == id)) else {
        return not_found();
    };
    let posts: Vec<Value> = s
        .posts
        .iter()
        .filter(|p| p.topic_id == topic.id)
        .map(|p| post_document(&s, p))
        .collect();
    let stream: Vec<i64> = s
        .posts
        .iter()
        .filter(|p| p.topic_id == topic.id)
        .map(|p| p.id)
        .collect();
    axum::Json(
        json!({"id": topic.id, "title": topic.title, "fancy_title": topic.title,
        "slug": topic.slug, "archetype": topic.archetype, "category_id": topic.category_id,
        "posts_count": posts.len(), "external_id": topic.external_id,
        "post_stream": {"posts": posts, "stream": stream}}),
    )
    .into_response()
}

fn router(site: Shared) -> Router {
    Router::new()
        .route("/posts.json", post(create_post))
        .route("/posts/{file}", get(get_post))
        .route("/polls/voters.json", get(voters))
        .route("/polls/toggle_status", put(toggle_status))
        .route("/u/{file}", get(get_user))
        .route("/admin/customize/user_fields.json", get(user_fields))
        .route("/t/external_id/{file}", get(topic_by_external_id))
        .route("/t/{slug}/{file}", get(get_topic))
        .fallback(|| async { not_found() })
        .layer(middleware::from_fn_with_state(site.clone(), gatekeeper))
        .with_state(site)
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
