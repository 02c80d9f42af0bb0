//! The documents the fake answers, shaped like Loomio's serializers: `PollSerializer` (with
//! `results`, `stance_counts` and the voter counts), `PollOptionSerializer`,
//! `StanceSerializer` (`option_scores` keyed by option id), `AuthorSerializer`, and the compound
//! `polls` document with its side-loads and `meta`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{Poll, PollOption, Site, Stance, loomio_time};

pub(super) fn user_json(site: &Site, id: u64) -> Value {
    let u = site.user(id);
    json!({"id": u.id, "name": u.name, "username": u.username,
           "avatar_initials": u.name.split(' ').filter_map(|w| w.chars().next()).collect::<String>(),
           "avatar_kind": "initials", "thumb_url": null, "time_zone": "Pacific/Auckland",
           "locale": "en", "created_at": "2024-10-19T02:52:23.311Z", "titles": {},
           "delegates": {}, "email_verified": true, "bot": u.api_key.is_some() && u.username.ends_with("bot")})
}

fn latest(site: &Site, poll: u64) -> impl Iterator<Item = &Stance> {
    site.stances
        .iter()
        .filter(move |s| s.poll_id == poll && s.latest && s.revoked_at.is_none())
}

pub(super) fn poll_json(site: &Site, poll: &Poll) -> Value {
    let results_available = poll.hide_results != "until_closed" || poll.closed_at.is_some();
    let voters_of = |option: &PollOption| -> Vec<u64> {
        latest(site, poll.id)
            .filter(|s| s.cast_at.is_some() && s.option_ids.contains(&option.id))
            .map(|s| s.participant_id)
            .collect()
    };
    let undecided: Vec<u64> = latest(site, poll.id)
        .filter(|s| s.cast_at.is_none())
        .map(|s| s.participant_id)
        .collect();
    let decided = latest(site, poll.id)
        .filter(|s| s.cast_at.is_some())
        .count();
    let voters = decided + undecided.len();
    let mut row = json!({
        "id": poll.id, "key": poll.key, "title": poll.title, "details": poll.details,
        "details_format": poll.details_format, "poll_type": poll.poll_type,
        "group_id": poll.group_id, "topic_id": poll.topic_id, "author_id": poll.author_id,
        "closing_at": poll.closing_at.map(loomio_time), "closed_at": poll.closed_at.map(loomio_time),
        "opened_at": poll.opened_at.map(loomio_time), "opening_at": null,
        "created_at": loomio_time(poll.created_at), "discarded_at": null, "discarded_by": null,
        "anonymous": poll.anonymous, "hide_results": poll.hide_results,
        "specified_voters_only": poll.specified_voters_only, "voting_system": "stance",
        "chart_type": "pie", "notify_on_closing_soon": "nobody", "notify_on_open": true,
        "poll_option_names": poll.options.iter().map(|o| o.name.clone()).collect::<Vec<_>>(),
        "poll_option_name_format": poll_option_name_format(poll),
        "poll_option_ids": poll.options.iter().map(|o| o.id).collect::<Vec<_>>(),
        "voters_count": voters, "decided_voters_count": decided,
        "undecided_voters_count": undecided.len(),
        "cast_stances_pct": (decided * 100).checked_div(voters).unwrap_or(0),
        "current_outcome_id": poll.outcome.as_ref().map(|o| o.0),
        "versions_count": poll.versions_count, "attachments": [], "link_previews": [],
        "mentioned_usernames": [], "shuffle_options": false, "max_score": 1, "min_score": 1,
        "minimum_stance_choices": 1, "maximum_stance_choices": 1, "quorum_pct": null,
    });
    if results_available {
        // `PollService.calculate_results`: `voter_ids` stops at `Poll::RESULT_VOTER_IDS_MAX`,
        // `voter_scores` names every voter; an anonymous poll names none.
        let named = |ids: &[u64]| {
            if poll.anonymous {
                Vec::new()
            } else {
                ids.to_vec()
            }
        };
        let mut results: Vec<Value> = poll
            .options
            .iter()
            .map(|o| {
                let ids = named(&voters_of(o));
                let count = voters_of(o).len();
                let scores: Map<String, Value> =
                    ids.iter().map(|id| (id.to_string(), json!(1))).collect();
                json!({"id": o.id, "poll_id": poll.id, "name": o.name,
                       "name_format": poll_option_name_format(poll), "icon": o.icon,
                       "score": count, "voter_ids": ids.iter().take(50).collect::<Vec<_>>(),
                       "voter_scores": scores, "voter_count": count})
            })
            .collect();
        results.push(
            json!({"id": -1, "poll_id": poll.id, "name": "poll_common_votes_panel.undecided",
                   "name_format": "i18n", "score": 0,
                   "voter_ids": named(&undecided).iter().take(50).collect::<Vec<_>>(),
                   "voter_scores": {}, "voter_count": undecided.len()}),
        );
        let counts: Vec<usize> = poll.options.iter().map(|o| voters_of(o).len()).collect();
        let row = row.as_object_mut().unwrap();
        row.insert("results".into(), Value::Array(results));
        row.insert("stance_counts".into(), json!(counts));
        row.insert("total_score".into(), json!(counts.iter().sum::<usize>()));
    }
    row
}

/// `plain`, unless the poll's options were stored as `i18n` keys (a name that is a key).
fn poll_option_name_format(poll: &Poll) -> &'static str {
    let keyed = poll
        .options
        .iter()
        .any(|o| o.icon.as_deref() == Some(o.name.as_str()));
    if keyed { "i18n" } else { "plain" }
}

pub(super) fn option_json(poll: &Poll, o: &PollOption) -> Value {
    json!({"id": o.id, "poll_id": poll.id, "name": o.name, "priority": o.priority,
           "color": "#4caf50", "icon": o.icon, "meaning": null, "prompt": null,
           "test_operator": null, "test_percent": null, "test_against": null})
}

pub(super) fn stance_json(s: &Stance) -> Value {
    let scores: Map<String, Value> = s
        .option_ids
        .iter()
        .map(|id| (id.to_string(), json!(1)))
        .collect();
    json!({"id": s.id, "poll_id": s.poll_id, "participant_id": s.participant_id,
           "latest": s.latest, "cast_at": s.cast_at.map(loomio_time),
           "revoked_at": s.revoked_at.map(loomio_time), "created_at": loomio_time(s.created_at),
           "updated_at": loomio_time(s.cast_at.unwrap_or(s.created_at)), "reason": null,
           "reason_format": "md", "none_of_the_above": false, "option_scores": scores,
           "versions_count": 1, "inviter_id": null, "locale": "en"})
}

/// A compound `polls` document: the polls, their options and outcomes, their authors and the
/// caller's own stances.
pub(super) fn polls_document(
    site: &Site,
    polls: &[&Poll],
    caller: u64,
    total: Option<usize>,
) -> Value {
    let users: BTreeSet<u64> = polls.iter().map(|p| p.author_id).collect();
    let mut meta = json!({"root": "polls"});
    if let Some(total) = total {
        meta["total"] = json!(total);
    }
    json!({
        "users": users.iter().map(|u| user_json(site, *u)).collect::<Vec<_>>(),
        "outcomes": polls.iter().filter_map(|p| p.outcome.as_ref().map(|(id, statement, option)| json!({
            "id": id, "statement": statement, "statement_format": "md", "latest": true,
            "poll_id": p.id, "poll_option_id": option, "author_id": p.author_id,
            "created_at": loomio_time(p.created_at)}))).collect::<Vec<_>>(),
        "topics": polls.iter().map(|p| json!({"id": p.topic_id, "group_id": p.group_id,
            "topicable_type": "Poll", "topicable_id": p.id, "poll_id": p.id})).collect::<Vec<_>>(),
        "polls": polls.iter().map(|p| poll_json(site, p)).collect::<Vec<_>>(),
        "poll_options": polls.iter().flat_map(|p| p.options.iter().map(|o| option_json(p, o))).collect::<Vec<_>>(),
        "stances": polls.iter().flat_map(|p| latest(site, p.id).filter(|s| s.participant_id == caller)).map(stance_json).collect::<Vec<_>>(),
        "meta": meta,
    })
}
