//! The muxscope page.
