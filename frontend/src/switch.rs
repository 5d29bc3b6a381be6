//! Switching the model from the page: the picker's options (every model, those this server
//! cannot run disabled with its reason), the request, what `POST /api/model` answered, and what
//! the picker shows meanwhile. Pure, tested natively.

use crate::i18n::{Lang, Panel};
use muxscope_shared::{Model as IoModel, ModelAvailability, ModelRequest};

/// One option of the picker.
#[derive(Clone, Debug, PartialEq)]
pub struct PickOption {
    pub model: IoModel,
    /// Why the server cannot run it (the option is disabled, with this as its title).
    pub unavailable: Option<String>,
}

/// Every model, in [`IoModel::ALL`]'s order. Until the server said, every one is offered (a
/// refusal then comes back as a 409 and is shown).
pub fn options(available: &[ModelAvailability]) -> Vec<PickOption> {
    IoModel::ALL
        .into_iter()
        .map(|model| PickOption { model, unavailable: available.iter().find(|a| a.model == model).and_then(|a| a.unavailable.clone()) })
        .collect()
}

/// The body of `POST /api/model`.
pub fn request_body(model: IoModel) -> String {
    serde_json::to_string(&ModelRequest { model }).expect("a model request serializes")
}

/// What the server answered `status` and `body` means: the model now serving, or why not (the
/// server's own words when it gave any, the page's in `lang`). Status 0: the request never got
/// an answer.
pub fn answer(status: u16, body: &str, lang: Lang) -> Result<IoModel, String> {
    if status == 200 {
        return serde_json::from_str::<ModelRequest>(body).map(|r| r.model).map_err(|e| match lang {
            Lang::En => format!("the server switched, but its answer is not a model: {e}"),
            Lang::Zh => format!("服务器已切换，但它的回答不是一个模型：{e}"),
        });
    }
    if status == 0 {
        return Err(match lang {
            Lang::En => format!("no answer from the server: {body}"),
            Lang::Zh => format!("服务器没有回答：{body}"),
        });
    }
    // `{"error": "..."}`, read as a `Value` (whose reader the page has anyway) rather than a
    // struct of its own.
    let said = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| v.get("error")?.as_str().map(str::to_string));
    match said {
        Some(error) => Err(error),
        None if body.trim().is_empty() => Err(format!("HTTP {status}")),
        None => Err(format!("HTTP {status}: {}", body.trim())),
    }
}

/// The picker's own state, beside the model the stream says serves.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Pick {
    #[default]
    Idle,
    /// Asked for `to`; no answer yet.
    Pending { to: IoModel },
    /// The server said `to` serves, while the stream still showed `from` (its `model` event is
    /// on its way).
    Switched { to: IoModel, from: Option<IoModel> },
    /// Refused: the server's reason.
    Failed(String),
}

impl Pick {
    /// The model the picker shows: the one asked for while that is under way, else the one
    /// serving (which follows a switch made elsewhere, e.g. with curl).
    pub fn shown(&self, serving: Option<IoModel>) -> Option<IoModel> {
        match self {
            Pick::Pending { to } => Some(*to),
            Pick::Switched { to, from } if serving == *from => Some(*to),
            _ => serving,
        }
    }

    /// What to say next to the picker.
    pub fn status(&self, lang: Lang) -> Option<String> {
        match self {
            Pick::Pending { .. } => Some(Panel::Switching.t(lang).to_string()),
            Pick::Failed(why) => Some(why.clone()),
            Pick::Idle | Pick::Switched { .. } => None,
        }
    }

    /// After the server answered a request made while `from` served.
    pub fn answered(status: u16, body: &str, from: Option<IoModel>, lang: Lang) -> Pick {
        match answer(status, body, lang) {
            Ok(to) => Pick::Switched { to, from },
            Err(why) => Pick::Failed(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_is_offered_and_the_unavailable_ones_say_why() {
        let available = [
            ModelAvailability { model: IoModel::Epoll, unavailable: None },
            ModelAvailability { model: IoModel::IoUring, unavailable: Some("io_uring_setup: ENOSYS".into()) },
        ];
        let o = options(&available);
        assert_eq!(o.iter().map(|o| o.model).collect::<Vec<_>>(), IoModel::ALL);
        let off: Vec<_> = o.iter().filter_map(|o| o.unavailable.as_deref().map(|u| (o.model, u))).collect();
        assert_eq!(off, [(IoModel::IoUring, "io_uring_setup: ENOSYS")]);
        assert!(options(&[]).iter().all(|o| o.unavailable.is_none()));
        assert_eq!(request_body(IoModel::EpollEt), r#"{"model":"epoll-et"}"#);
    }

    #[test]
    fn answers_are_the_model_or_the_servers_reason() {
        assert_eq!(answer(200, r#"{"model":"poll"}"#, Lang::En), Ok(IoModel::Poll));
        let refused = r#"{"error":"select() cannot watch fd 1500: fd_set holds only FD_SETSIZE=1024 fds; still on epoll"}"#;
        assert_eq!(
            answer(409, refused, Lang::En).unwrap_err(),
            "select() cannot watch fd 1500: fd_set holds only FD_SETSIZE=1024 fds; still on epoll"
        );
        assert_eq!(answer(400, r#"{"error":"expected {\"model\":\"NAME\"}"}"#, Lang::En).unwrap_err(), r#"expected {"model":"NAME"}"#);
        assert_eq!(answer(502, "Bad Gateway\n", Lang::En).unwrap_err(), "HTTP 502: Bad Gateway");
        assert!(answer(0, "TypeError: Failed to fetch", Lang::En).unwrap_err().contains("Failed to fetch"));
        assert!(answer(200, "ok", Lang::En).is_err());
        assert!(answer(0, "TypeError", Lang::Zh).unwrap_err().starts_with("服务器没有回答"));
        assert!(answer(200, "ok", Lang::Zh).unwrap_err().starts_with("服务器已切换"));
    }

    #[test]
    fn the_picker_shows_the_request_until_the_stream_catches_up_then_the_stream() {
        let epoll = Some(IoModel::Epoll);
        assert_eq!(Pick::Idle.shown(epoll), epoll);
        let pending = Pick::Pending { to: IoModel::Poll };
        assert_eq!((pending.shown(epoll), pending.status(Lang::En).as_deref()), (Some(IoModel::Poll), Some("switching…")));
        let ok = Pick::answered(200, r#"{"model":"poll"}"#, epoll, Lang::En);
        assert_eq!((ok.shown(epoll), ok.status(Lang::En)), (Some(IoModel::Poll), None));
        assert_eq!(ok.shown(Some(IoModel::Poll)), Some(IoModel::Poll));
        // Switched elsewhere (curl) after ours: the stream wins.
        assert_eq!(ok.shown(Some(IoModel::Sigio)), Some(IoModel::Sigio));
        // Refused: back to the model serving, the reason beside it.
        let refused = Pick::answered(409, r#"{"error":"cannot start io_uring"}"#, epoll, Lang::En);
        assert_eq!((refused.shown(epoll), refused.status(Lang::En).as_deref()), (epoll, Some("cannot start io_uring")));
    }
}
