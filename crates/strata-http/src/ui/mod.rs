//! The admin web UI at `/ui`: one page, its scripts (the shell, then one per group of
//! pages) and one style sheet, embedded in the binary (plain HTML, CSS and JavaScript:
//! nothing to build). The assets are served without credentials; everything they show
//! comes from `/api/v1`, which asks for them. A Content-Security-Policy keeps the page
//! to its own origin.

use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use strata_broker::Broker;

const INDEX: &str = include_str!("../../ui/index.html");
const APP_JS: &str = include_str!("../../ui/app.js");
const TOPICS_JS: &str = include_str!("../../ui/topics.js");
const MESSAGES_JS: &str = include_str!("../../ui/messages.js");
const GROUPS_JS: &str = include_str!("../../ui/groups.js");
const USERS_JS: &str = include_str!("../../ui/users.js");
const ACLS_JS: &str = include_str!("../../ui/acls.js");
const STYLE: &str = include_str!("../../ui/style.css");

/// Only this origin: no inline script or style, no frames, no other hosts.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The UI routes.
pub(crate) fn router() -> Router<Arc<Broker>> {
    Router::new()
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/app.js", get(|| script(APP_JS)))
        .route("/ui/topics.js", get(|| script(TOPICS_JS)))
        .route("/ui/messages.js", get(|| script(MESSAGES_JS)))
        .route("/ui/groups.js", get(|| script(GROUPS_JS)))
        .route("/ui/users.js", get(|| script(USERS_JS)))
        .route("/ui/acls.js", get(|| script(ACLS_JS)))
        .route("/ui/style.css", get(style))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

async fn script(body: &'static str) -> Response {
    asset("text/javascript; charset=utf-8", body)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}
