//! The muxscope page. [`state`] is the pure reducer, [`history`] its timeline (keyframes and
//! packed events), [`text`] the page's words in [`i18n`]'s two languages, [`marks`] how the scene's marks are drawn,
//! [`models`] the IO-models panel's data, [`compare`] the compare panel's table, [`switch`] the
//! model picker's logic, [`dots`] and [`threads`] the markup of big rooms (all compiled and
//! tested natively); the Yew components that draw it exist only in the wasm build.

pub mod cluster_strip;
pub mod compare;
pub mod corrections;
pub mod dots;
pub mod history;
pub mod i18n;
pub mod insight;
pub mod marks;
pub mod models;
pub mod state;
pub mod switch;
pub mod text;
pub mod threads;
pub mod timeline;
pub mod tour;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod bench;
#[cfg(target_arch = "wasm32")]
mod bots_panel;
#[cfg(target_arch = "wasm32")]
mod chat_pane;
#[cfg(target_arch = "wasm32")]
mod controls;
#[cfg(target_arch = "wasm32")]
mod dispatch;
#[cfg(target_arch = "wasm32")]
mod event_log;
#[cfg(target_arch = "wasm32")]
mod fetch;
#[cfg(target_arch = "wasm32")]
mod files;
#[cfg(target_arch = "wasm32")]
mod models_panel;
#[cfg(target_arch = "wasm32")]
mod net;
#[cfg(target_arch = "wasm32")]
mod picker;
#[cfg(target_arch = "wasm32")]
mod stage;
#[cfg(target_arch = "wasm32")]
mod waitbar;

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    net::mark_once("mx:start");
    net::open_events_early();
    // The page's first render waits for the loop's snapshot (usually a few tens of ms), at most
    // FIRST_PICTURE_WAIT_MS: the page then appears with its fds in one frame, instead of an empty
    // stage first, whose frame would also hold up the snapshot's delivery.
    net::when_events_ready(FIRST_PICTURE_WAIT_MS, || {
        yew::Renderer::<app::App>::new().render();
    });
}

/// Longest wait for the snapshot before the page renders without it.
#[cfg(target_arch = "wasm32")]
const FIRST_PICTURE_WAIT_MS: u32 = 250;
