//! The fake's `/api/b2` routes and the documents they answer, shaped like Loomio's
//! `PollSerializer` (with `results`), `PollOptionSerializer`, `OutcomeSerializer`,
//! `StanceSerializer`, `AuthorSerializer` and `TopicItemSerializer` (fields after Loomio 3.8).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::documents::{option_json, poll_json, polls_document, stance_json, user_json};
use super::{Fault, Logged, Poll, PollOption, Site, Stance, loomio_time};

type Shared = Arc<Mutex<Site>>;

pub fn router(site: Shared) -> Router {
    Router::new()
        .route("/api/b2/polls", get(list_polls).post(create_poll))
        .route("/api/b2/polls/{id}", get(show_poll).patch(update_poll))
        .route("/api/b2/threads/{topic}/items", get(thread_items))
        .route("/api/b2/memberships", get(list_memberships))
        .fallback(|| async { error(StatusCode::NOT_FOUND, json!({"error": 404})) })
        .layer(middleware::from_fn_with_state(site.clone(), gate))
        .with_state(site)
}

fn error(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    error(StatusCode::OK, body)
}

fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        json!({"error": "You are not authorized to access this page."}),
    )
}

/// Logs each request and applies the next fault that matches it.
async fn gate(State(site): State<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    // Logged on arrival, so that a request whose client gave up still counts.
    let (fault, entry) = {
        let mut site = site.lock().unwrap();
        let request = format!("{method} {target}");
        let at = site
            .faults
            .iter()
            .position(|(prefix, _)| prefix.as_deref().is_none_or(|p| request.starts_with(p)));
        let fault = at.and_then(|i| site.faults.remove(i)).map(|(_, f)| f);
        site.log.push(Logged { request, status: 0 });
        (fault, site.log.len() - 1)
    };
    let response = match fault {
        None => next.run(request).await,
        Some(Fault::ServerError) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html><html><body><h1>We're sorry, but something went wrong.</h1></body></html>",
        )
            .into_response(),
        Some(Fault::TooManyRequests(retry_after)) => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::CONTENT_TYPE, "text/plain")],
                "Retry later\n",
            )
                .into_response();
            if let Some(value) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, value.parse().unwrap());
            }
            response
        }
        Some(Fault::ApplyThenFail) => {
            let _ = next.run(request).await;
            (StatusCode::INTERNAL_SERVER_ERROR, "").into_response()
        }
        Some(Fault::Delay(wait)) => {
            tokio::time::sleep(wait).await;
            next.run(request).await
        }
        Some(Fault::ApplyThenStall(wait)) => {
            let response = next.run(request).await;
            tokio::time::sleep(wait).await;
            response
        }
        Some(Fault::EchoAuthorization) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"errors": {"base": [format!("cannot accept {authorization}")]}}),
        ),
    };
    site.lock().unwrap().log[entry].status = response.status().as_u16();
    response
}

/// The user whose key is the bearer token; a key anywhere else counts for nothing.
fn caller(site: &Site, headers: &HeaderMap) -> Option<u64> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    site.users
        .iter()
        .find(|u| u.api_key.as_deref() == Some(token))
        .map(|u| u.id)
}

fn member_of(site: &Site, user: u64, group: Option<u64>) -> bool {
    group.is_some_and(|g| {
        site.groups
            .iter()
            .any(|grp| grp.id == g && grp.members.contains(&user))
    })
}

/// A `group_id` index's guard, as b2's controllers apply it: the key's user (403 without one),
/// the group (404 when unknown), and the user's membership of it (403 otherwise).
fn members_group<'a>(
    site: &'a Site,
    headers: &HeaderMap,
    group_id: Option<u64>,
) -> Result<(u64, &'a super::Group), Box<Response>> {
    let user = caller(site, headers).ok_or_else(|| Box::new(forbidden()))?;
    let group = group_id
        .and_then(|g| site.groups.iter().find(|grp| grp.id == g))
        .ok_or_else(|| Box::new(error(StatusCode::NOT_FOUND, json!({"error": 404}))))?;
    if !group.members.contains(&user) {
        return Err(Box::new(forbidden()));
    }
    Ok((user, group))
}

fn find_poll<'a>(site: &'a Site, id: &str) -> Option<&'a Poll> {
    site.polls
        .iter()
        .find(|p| p.id.to_string() == id || p.key == id)
}

async fn show_poll(
    State(site): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let site = site.lock().unwrap();
    let Some(user) = caller(&site, &headers) else {
        return forbidden();
    };
    let Some(poll) = find_poll(&site, &id) else {
        return error(StatusCode::NOT_FOUND, json!({"error": 404}));
    };
    if !member_of(&site, user, poll.group_id) && poll.author_id != user {
        return error(
            StatusCode::FORBIDDEN,
            json!({"error": "Not authorized to show Poll."}),
        );
    }
    ok(polls_document(&site, &[poll], user, None))
}

#[derive(Deserialize)]
struct ListQuery {
    group_id: Option<u64>,
    status: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn list_polls(
    State(site): State<Shared>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let site = site.lock().unwrap();
    let (user, group) = match members_group(&site, &headers, q.group_id) {
        Ok((user, group)) => (user, group.id),
        Err(refused) => return *refused,
    };
    let mut polls: Vec<&Poll> = site
        .polls
        .iter()
        .filter(|p| p.group_id == Some(group))
        .filter(|p| match q.status.as_deref() {
            Some("closed") => p.closed_at.is_some(),
            Some("all") => true,
            _ => p.closed_at.is_none() && p.opened_at.is_some(),
        })
        .collect();
    polls.sort_by_key(|p| std::cmp::Reverse((p.created_at, p.id)));
    let total = polls.len();
    let page: Vec<&Poll> = polls
        .into_iter()
        .skip(q.offset.unwrap_or(0))
        .take(q.limit.unwrap_or(50))
        .collect();
    ok(polls_document(&site, &page, user, Some(total)))
}

/// Loomio 3.8's `permitted_params`: the nested `poll` hash when present, else the flat body
/// wrapped the way Rails wraps JSON parameters, keeping the poll table's columns only.
fn poll_params(body: &Bytes) -> Result<Map<String, Value>, Box<Response>> {
    let bad = || Box::new(error(StatusCode::BAD_REQUEST, json!({"error": 400})));
    let value: Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let object = value.as_object().ok_or_else(bad)?;
    const PERMITTED: [&str; 16] = [
        "title",
        "details",
        "details_format",
        "poll_type",
        "options",
        "poll_option_names",
        "closing_at",
        "group_id",
        "topic_id",
        "anonymous",
        "hide_results",
        "specified_voters_only",
        "shuffle_options",
        "notify_on_closing_soon",
        "notify_on_open",
        "recipient_audience",
    ];
    const COLUMNS: [&str; 10] = [
        "title",
        "details",
        "details_format",
        "poll_type",
        "closing_at",
        "anonymous",
        "hide_results",
        "specified_voters_only",
        "shuffle_options",
        "notify_on_open",
    ];
    match object.get("poll") {
        Some(Value::Object(nested)) => {
            if nested.keys().any(|k| !PERMITTED.contains(&k.as_str())) {
                return Err(bad());
            }
            Ok(nested.clone())
        }
        _ => Ok(object
            .iter()
            .filter(|(k, _)| COLUMNS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()),
    }
}

/// `closing_at` rounded down to the hour, which must then be in the future.
fn closing_at(value: Option<&Value>) -> Result<Option<jiff::Timestamp>, Box<Response>> {
    let invalid = |message: &str| {
        Box::new(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"errors": {"closing_at": [message]}}),
        ))
    };
    let Some(text) = value.and_then(Value::as_str) else {
        return Ok(None);
    };
    let at: jiff::Timestamp = text.parse().map_err(|_| invalid("is invalid"))?;
    let hour =
        jiff::Timestamp::from_second(at.as_second() - at.as_second().rem_euclid(3600)).unwrap();
    if hour <= jiff::Timestamp::now() {
        return Err(invalid("must be in the future"));
    }
    Ok(Some(hour))
}

/// `Poll#poll_option_names=`: a proposal's common option (a key of `poll_types.yml`'s
/// `common_poll_options`) is stored as the translated word with the key as its icon, or in the
/// legacy `i18n` format as the key itself; any other option as written.
fn stored_option(poll_type: &str, name: &str, format: &str) -> (String, Option<String>) {
    let word = match name {
        "agree" => "Agree",
        "disagree" => "Disagree",
        "abstain" => "Abstain",
        "block" => "Block",
        _ => return (name.into(), None),
    };
    if poll_type != "proposal" {
        return (name.into(), None);
    }
    let stored = if format == "i18n" { name } else { word };
    (stored.into(), Some(name.into()))
}

async fn create_poll(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut site = shared.lock().unwrap();
    let Some(user) = caller(&site, &headers) else {
        return forbidden();
    };
    let params = match poll_params(&body) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let group_id = params.get("group_id").and_then(Value::as_u64);
    if let Some(group) = group_id {
        if !site.groups.iter().any(|g| g.id == group) {
            return error(StatusCode::NOT_FOUND, json!({"error": 404}));
        }
        if !member_of(&site, user, Some(group)) {
            return error(
                StatusCode::FORBIDDEN,
                json!({"error": "Not authorized to create Poll."}),
            );
        }
    }
    let text = |k: &str| {
        params
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut errors = Map::new();
    if text("title").trim().is_empty() {
        errors.insert("title".into(), json!(["can't be blank"]));
    }
    let poll_type = text("poll_type");
    if ![
        "proposal",
        "poll",
        "count",
        "score",
        "ranked_choice",
        "meeting",
        "dot_vote",
        "check",
        "question",
        "stv",
    ]
    .contains(&poll_type.as_str())
    {
        errors.insert("poll_type".into(), json!(["is not included in the list"]));
    }
    if !errors.is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": errors}));
    }
    let closing = match closing_at(params.get("closing_at")) {
        Ok(at) => at,
        Err(response) => return *response,
    };
    let format = site.option_name_format;
    let names: Vec<(String, Option<String>)> = params
        .get("options")
        .or_else(|| params.get("poll_option_names"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|name| stored_option(&poll_type, name, format))
                .collect()
        })
        .unwrap_or_default();
    // The group's template wins over the request; `PollService.build` hides an anonymous
    // poll's results until it closes.
    let anonymous = site.template.anonymous
        || params
            .get("anonymous")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let template_hide_results = if anonymous {
        Some("until_closed")
    } else {
        site.template.hide_results
    };
    let now = jiff::Timestamp::now();
    let id = site.id();
    let topic_id = site.id();
    let options = names
        .into_iter()
        .enumerate()
        .map(|(i, (name, icon))| PollOption {
            id: site.id(),
            name,
            priority: i as i64,
            icon,
        })
        .collect();
    let poll = Poll {
        id,
        key: format!("polKEY{id:02}"),
        group_id,
        topic_id,
        author_id: user,
        title: text("title"),
        details: text("details"),
        details_format: params
            .get("details_format")
            .and_then(Value::as_str)
            .unwrap_or("md")
            .into(),
        poll_type,
        options,
        closing_at: closing,
        closed_at: None,
        opened_at: closing.map(|_| now),
        created_at: now,
        hide_results: template_hide_results
            .or(params.get("hide_results").and_then(Value::as_str))
            .unwrap_or("off")
            .into(),
        anonymous,
        specified_voters_only: params
            .get("specified_voters_only")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        outcome: None,
        versions_count: 1,
    };
    // `PollService.create_anyone_can_vote_stances`: an invitation for each human member.
    if poll.opened_at.is_some() && !poll.specified_voters_only {
        let voters: Vec<u64> = site
            .groups
            .iter()
            .filter(|g| Some(g.id) == group_id)
            .flat_map(|g| g.members.clone())
            .filter(|m| *m != user)
            .collect();
        for voter in voters {
            let stance = site.id();
            site.stances.push(Stance {
                id: stance,
                poll_id: id,
                participant_id: voter,
                option_ids: Vec::new(),
                cast_at: None,
                latest: true,
                revoked_at: None,
                created_at: now,
                reason: None,
            });
        }
    }
    // `PollService.invite` reads the recipients from the top level of the request, not from
    // `poll`, and tells them only with `notify_recipients`.
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    if request["recipient_audience"] == "group" && request["notify_recipients"] == true {
        let told: Vec<u64> = site
            .groups
            .iter()
            .filter(|g| Some(g.id) == group_id)
            .flat_map(|g| g.members.clone())
            .filter(|m| *m != user)
            .collect();
        site.announced.push((id, told));
    }
    site.polls.push(poll);
    site.item(topic_id, "poll_created", user, ("Poll", id));
    site.publish("poll_created", user, id, &[]);
    let poll = site.poll(id);
    ok(polls_document(&site, &[poll], user, None))
}

async fn update_poll(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut site = shared.lock().unwrap();
    let Some(user) = caller(&site, &headers) else {
        return forbidden();
    };
    let Some(poll) = find_poll(&site, &id).cloned() else {
        return error(StatusCode::NOT_FOUND, json!({"error": 404}));
    };
    let admin = site
        .groups
        .iter()
        .any(|g| Some(g.id) == poll.group_id && g.admins.contains(&user));
    if poll.author_id != user && !admin {
        return error(
            StatusCode::FORBIDDEN,
            json!({"error": "Not authorized to update Poll."}),
        );
    }
    let params = match poll_params(&body) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let closing = if params.contains_key("closing_at") && poll.closed_at.is_none() {
        match closing_at(params.get("closing_at")) {
            Ok(at) => Some(at),
            Err(response) => return *response,
        }
    } else {
        None
    };
    let stored = site.polls.iter_mut().find(|p| p.id == poll.id).unwrap();
    if let Some(at) = closing {
        stored.closing_at = at;
    }
    if let Some(title) = params.get("title").and_then(Value::as_str) {
        stored.title = title.into();
    }
    stored.versions_count += 1;
    site.item(poll.topic_id, "poll_edited", user, ("Poll", poll.id));
    let poll = site.poll(poll.id);
    ok(polls_document(&site, &[poll], user, None))
}

#[derive(Deserialize)]
struct ItemsQuery {
    compact: Option<String>,
}

async fn thread_items(
    State(site): State<Shared>,
    Path(topic): Path<u64>,
    Query(q): Query<ItemsQuery>,
    headers: HeaderMap,
    method: Method,
) -> Response {
    assert_eq!(method, Method::GET);
    let site = site.lock().unwrap();
    let Some(user) = caller(&site, &headers) else {
        return forbidden();
    };
    let polls: Vec<&Poll> = site.polls.iter().filter(|p| p.topic_id == topic).collect();
    // TopicQuery.visible_to(user).find: an invisible thread is as unknown as a missing one.
    if polls.is_empty() || !polls.iter().all(|p| member_of(&site, user, p.group_id)) {
        return error(StatusCode::NOT_FOUND, json!({"error": 404}));
    }
    let items: Vec<&super::Item> = site.items.iter().filter(|i| i.topic_id == topic).collect();
    // The stances side-loaded are the items' own: only those given with a reason.
    let stances: Vec<&Stance> = site
        .stances
        .iter()
        .filter(|s| {
            items
                .iter()
                .any(|i| i.itemable_type == "Stance" && i.itemable_id == s.id)
        })
        .collect();
    let users: BTreeSet<u64> = items
        .iter()
        .map(|i| i.actor_id)
        .chain(
            stances
                .iter()
                .filter(|s| s.cast_at.is_some())
                .map(|s| s.participant_id),
        )
        .collect();
    let mut document = json!({
        "items": items.iter().enumerate().map(|(n, i)| json!({
            "id": i.id, "sequence_id": n, "position": n + 1, "depth": 1, "child_count": 0,
            "kind": i.kind, "topic_id": i.topic_id, "actor_id": i.actor_id,
            "created_at": loomio_time(i.created_at), "parent_id": null,
            "itemable_type": i.itemable_type, "itemable_id": i.itemable_id,
            "itemable": {"type": i.itemable_type, "id": i.itemable_id}, "pinned": false})).collect::<Vec<_>>(),
        "stances": stances.iter().map(|s| stance_json(s)).collect::<Vec<_>>(),
        "users": users.iter().map(|u| user_json(&site, *u)).collect::<Vec<_>>(),
        "polls": polls.iter().map(|p| poll_json(&site, p)).collect::<Vec<_>>(),
        "poll_options": polls.iter().flat_map(|p| p.options.iter().map(|o| option_json(p, o))).collect::<Vec<_>>(),
        "meta": {"root": "items", "total": items.len()},
    });
    if q.compact.as_deref() != Some("1") {
        document["topics"] = json!(
            polls
                .iter()
                .map(|p| json!({"id": p.topic_id, "group_id": p.group_id}))
                .collect::<Vec<_>>()
        );
    }
    ok(document)
}

#[derive(Deserialize)]
struct MembershipsQuery {
    group_id: Option<u64>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// `GET /api/b2/memberships?group_id=…`: the group's memberships, oldest first, paged by
/// `offset`/`limit` (50 by default, no maximum), with their users side-loaded and `meta.total`.
async fn list_memberships(
    State(site): State<Shared>,
    Query(q): Query<MembershipsQuery>,
    headers: HeaderMap,
) -> Response {
    let site = site.lock().unwrap();
    let group = match members_group(&site, &headers, q.group_id) {
        Ok((_, group)) => group,
        Err(refused) => return *refused,
    };
    let page: Vec<u64> = group
        .members
        .iter()
        .copied()
        .skip(q.offset.unwrap_or(0))
        .take(q.limit.unwrap_or(50))
        .collect();
    ok(json!({
        "memberships": page.iter().map(|member| json!({
            "id": member * 10 + group.id, "group_id": group.id, "user_id": member,
            "admin": group.admins.contains(member), "inviter_id": null,
            "accepted_at": "2024-10-19T02:52:23.311Z", "created_at": "2024-10-19T02:52:23.311Z",
            "title": null, "delegate": false})).collect::<Vec<_>>(),
        "users": page.iter().map(|member| user_json(&site, *member)).collect::<Vec<_>>(),
        "meta": {"root": "memberships", "total": group.members.len()},
    }))
}
