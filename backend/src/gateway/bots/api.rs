//! `/api/bots`: `POST {"add":N,"rate":R}` adds N bots and sets every bot's rate (lines a second
//! each; `rate` may be left out to keep it, `add` to only set it) → `200 {"bots":TOTAL,"rate":R,…}`;
//! `400 {"error":…}` for a body that is not such a request; `409 {"error":…}` over a bound (see
//! the module above: nothing is changed; `"bound"` says which, `bots`, `rate_each` or
//! `total_rate`, and `"limit"` its value). `DELETE` closes them all → `{"bots":0,…}`. `GET` →
//! `{"bots":N,"rate":R,"said":LINES,"max_bots":…,"max_rate_each":…,"max_total_rate":…}`.
//! Host and Origin are checked by the gateway's guard, as for `POST /api/model`.

use super::Refused;
use crate::gateway::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// A bots request is a few bytes; anything bigger is not one.
const MAX_BODY: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddRequest {
    #[serde(default)]
    add: usize,
    rate: Option<f64>,
}

pub async fn add(State(st): State<AppState>, body: Bytes) -> Response {
    if body.len() > MAX_BODY {
        return error(StatusCode::PAYLOAD_TOO_LARGE, format!("a bots request is at most {MAX_BODY} bytes"));
    }
    let req: AddRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("expected {{\"add\":N,\"rate\":LINES_PER_SECOND_EACH}}: {e}")),
    };
    match st.bots.add(req.add, req.rate).await {
        Ok(status) => Json(status).into_response(),
        Err(r @ Refused::Bad(_)) => error(StatusCode::BAD_REQUEST, r.message().to_string()),
        Err(Refused::Over(bound, why)) => {
            // 5000, not 5000.0: a whole limit reads as one.
            let limit = bound.limit();
            let limit = if limit.fract() == 0.0 { serde_json::json!(limit as u64) } else { serde_json::json!(limit) };
            (StatusCode::CONFLICT, Json(serde_json::json!({ "error": why, "bound": bound, "limit": limit }))).into_response()
        }
        Err(r) => error(StatusCode::CONFLICT, r.message().to_string()),
    }
}

pub async fn remove_all(State(st): State<AppState>) -> Response {
    Json(st.bots.remove_all().await).into_response()
}

pub async fn list(State(st): State<AppState>) -> Response {
    Json(st.bots.status().await).into_response()
}

fn error(status: StatusCode, why: String) -> Response {
    (status, Json(serde_json::json!({ "error": why }))).into_response()
}
