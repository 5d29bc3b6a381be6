//! The muxscope page. [`state`] is the pure reducer and [`models`] the IO-models panel's data
//! (both compiled and tested natively); the Yew
//! components that draw it exist only in the wasm build.

pub mod dots;
pub mod models;
pub mod state;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod net;

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
