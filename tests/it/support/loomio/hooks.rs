//! The chatbot webhooks the fake Loomio sends: the formats of Loomio's
//! `Webhook::{Markdown,Slack,Discord,Microsoft,Webex}::EventSerializer`, carrying text rendered
//! for a chat room (the wording follows Loomio's English `notifications.without_title.*` strings
//! and its `chatbot/markdown` templates), posted as JSON with no signature and no event id.

use serde_json::{Value, json};

use super::Poll;

/// Which chat format the integration was set up with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFormat {
    /// `{"text", "icon_url", "username"}`, Mattermost-style Markdown.
    Markdown,
    /// `{"text"}`.
    Slack,
    /// `{"content" (at most 1900 characters), "text", "icon_url", "username"}`.
    Discord,
    /// A Microsoft `MessageCard`.
    Microsoft,
    /// `{"markdown", "text", "icon_url", "username"}`.
    Webex,
}

/// One webhook as Loomio posts it.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// The JSON body.
    pub body: String,
}

fn sentence(kind: &str, actor: &str, title_link: &str, poll_type: &str) -> String {
    match kind {
        "poll_created" => format!("{actor} started a {poll_type}: {title_link}"),
        "stance_created" => format!("{actor} voted on {title_link}"),
        "stance_updated" => format!("{actor} changed their vote on {title_link}"),
        "poll_closed_by_user" => format!("{actor} closed {title_link}"),
        "poll_expired" => format!("{title_link} has closed"),
        "outcome_created" => format!("{actor} shared an outcome for {title_link}"),
        other => format!("{actor}: {other} on {title_link}"),
    }
}

/// The webhook Loomio sends for `kind` on `poll`.
pub fn render(
    format: WebhookFormat,
    kind: &str,
    actor: &str,
    poll: &Poll,
    url: &str,
    choices: &[String],
) -> Webhook {
    let title_link = format!("[{}]({url})", poll.title);
    let mut text = sentence(kind, actor, &title_link, &poll.poll_type);
    text.push_str(&format!("\n\n**{title_link}**\n"));
    if !choices.is_empty() {
        text.push_str(&format!("\n{}\n", choices.join(", ")));
    }
    let icon = "https://loomio.example/rails/active_storage/logo-128.png";
    let body: Value = match format {
        WebhookFormat::Markdown => json!({"text": text, "icon_url": icon, "username": "Loomio"}),
        WebhookFormat::Slack => json!({"text": text}),
        WebhookFormat::Discord => json!({
            "content": text.chars().take(1900).collect::<String>(),
            "text": text, "icon_url": icon, "username": "Loomio"
        }),
        WebhookFormat::Microsoft => json!({
            "@type": "MessageCard", "@context": "http://schema.org/extensions",
            "themeColor": "#658AE7", "text": text, "sections": []
        }),
        WebhookFormat::Webex => {
            json!({"markdown": text, "text": text, "icon_url": icon, "username": "Loomio"})
        }
    };
    Webhook {
        body: body.to_string(),
    }
}

impl Webhook {
    /// A webhook with this exact body (a forgery, say).
    pub fn raw(body: &str) -> Webhook {
        Webhook { body: body.into() }
    }

    /// The webhook as a request for a router, to `/hooks/loomio/{community}`.
    pub fn request(&self, community: &str) -> axum::http::Request<axum::body::Body> {
        axum::http::Request::post(format!("/hooks/loomio/{community}"))
            .header("content-type", "application/json")
            .header("user-agent", "HTTParty")
            .body(axum::body::Body::from(self.body.clone()))
            .expect("a valid request")
    }
}
