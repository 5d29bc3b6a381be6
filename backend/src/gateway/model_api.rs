//! `POST /api/model {"model":"poll"}`: switch the IO model live. `200 {"model":"poll"}` once the
//! new model serves every connection; `409 {"error":"…"}` when the loop refuses (the server
//! stays on the old model); `400 {"error":"…"}` for a body that names no model.

use super::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use muxscope_shared::{ModelRequest, ModelsReport};

/// A model request is a few bytes; anything bigger is not one.
const MAX_BODY: usize = 256;

pub async fn switch(State(st): State<AppState>, body: Bytes) -> Response {
    if body.len() > MAX_BODY {
        return error(StatusCode::PAYLOAD_TOO_LARGE, format!("a model request is at most {MAX_BODY} bytes"));
    }
    let req: ModelRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("expected {{\"model\":\"NAME\"}}: {e}")),
    };
    let (control, ledger) = (st.control.clone(), st.ledger.clone());
    // The loop answers between two of its turns, and the ledger reads /proc for every chat
    // thread: neither may hold a runtime thread.
    let answer = tokio::task::spawn_blocking(move || {
        let ended = ledger.before_switch();
        let answer = control.switch(req.model, crate::chat::SWITCH_TIMEOUT);
        if let Ok(model) = &answer {
            ledger.switched(*model, ended);
        }
        answer
    })
    .await;
    match answer {
        Ok(Ok(model)) => (StatusCode::OK, Json(ModelRequest { model })).into_response(),
        Ok(Err(why)) => error(StatusCode::CONFLICT, why),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("switch task failed: {e}")),
    }
}

/// `GET /api/models`: availability, and one measured row per model that has served.
pub async fn report(State(st): State<AppState>) -> Json<ModelsReport> {
    let ledger = st.ledger.clone();
    // Reads /proc for every chat thread: off the runtime's threads.
    Json(tokio::task::spawn_blocking(move || ledger.report()).await.expect("the report task"))
}

fn error(status: StatusCode, why: String) -> Response {
    (status, Json(serde_json::json!({ "error": why }))).into_response()
}
