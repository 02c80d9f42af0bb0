//! The routes of the fake Discourse's API (see `discourse_api` for the server and its controls):
//! each endpoint in Discourse's JSON shapes and status codes, the key check, the injected faults
//! and the request log, over the site state of `discourse_site`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::discourse_site::{
    SitePoll, SitePost, SiteTopic, SiteUser, polls_of, post_json, slug_of,
};

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
pub struct Faults {
    pub next_429: usize,
    pub retry_after_secs: u64,
    pub next_500: usize,
    /// Every request until this moment is answered 429.
    pub window_until: Option<Instant>,
    /// A window of this length starts at the next request.
    pub window_armed: Option<Duration>,
    pub slowness: Option<Duration>,
}

#[derive(Default)]
pub struct Site {
    pub api_key: String,
    pub users: Vec<SiteUser>,
    pub user_fields: Vec<(i64, String)>,
    pub categories: Vec<i64>,
    pub topics: Vec<SiteTopic>,
    pub posts: Vec<SitePost>,
    pub polls: Vec<SitePoll>,
    pub vote_seq: u64,
    pub faults: Faults,
    /// Topics the API user may read but not reply in (a category whose "Create / Reply"
    /// permission they lack): Discourse answers a reply with 403 `invalid_access`.
    pub read_only_topics: Vec<i64>,
    pub log: Vec<Logged>,
}

impl Site {
    pub fn next_id<T>(items: &[T], id: impl Fn(&T) -> i64, start: i64) -> i64 {
        items.iter().map(id).max().unwrap_or(start - 1) + 1
    }
    pub fn user(&self, name: &str) -> Option<&SiteUser> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(name))
    }
}

pub type Shared = Arc<Mutex<Site>>;

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

pub fn rate_limited(wait: u64) -> Response {
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
        if s.read_only_topics.contains(&topic.id) {
            return error(
                StatusCode::FORBIDDEN,
                "invalid_access",
                "You are not permitted to view the requested resource.",
            );
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

pub fn router(site: Shared) -> Router {
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
