//! The page's two languages. The language is chosen once as the page starts ([`choose`]: a
//! `?lang=zh|en` link wins, then what this browser chose before, then the browser's own
//! language) and kept in the page's state, so every part of the page renders with it; the
//! header's toggle (`data-testid="lang"`) switches it and remembers the choice.
//!
//! Fixed words are keys of small per-area enums declared with [`words!`]: each key is written
//! with its English and its Chinese side by side, so a key without both does not compile.
//! Text with values in it is a function that matches on [`Lang`] (`crate::text`, `crate::models`).

#[cfg(target_arch = "wasm32")]
mod browser;
mod cluster;
mod corrections;
mod insight;
mod panels;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "wasm32")]
mod toggle;
mod tours;
mod ui;

#[cfg(target_arch = "wasm32")]
pub use browser::{initial, remember};
pub use cluster::ClusterText;
pub use corrections::Fix;
pub use insight::Sight;
pub use panels::{Panel, COLUMNS};
#[cfg(target_arch = "wasm32")]
pub(crate) use toggle::lang_toggle;
pub use tours::TourText;
pub use ui::Ui;

/// The page's language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// Its code, as `?lang=` and `<html lang>` spell it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// `"zh"` or `"en"` (any case), as a link or the browser's storage says it.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language the toggle switches to.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// What the toggle shows: the language it switches to, in that language (a reader who
    /// cannot read the page's language can still find theirs).
    pub fn toggle_label(self) -> &'static str {
        match self.other() {
            Lang::En => "English",
            Lang::Zh => "中文",
        }
    }
}

/// The language a page starts in: `?lang=` (the query string, e.g. `"?lang=zh&x=1"`) forces
/// it; else the one remembered from the toggle; else the browser's (`navigator.language`:
/// `zh`, `zh-CN`, `zh-TW` … are Chinese), and English for every other.
pub fn choose(query: &str, stored: Option<&str>, navigator: Option<&str>) -> Lang {
    query_lang(query)
        .or_else(|| stored.and_then(Lang::parse))
        .or_else(|| navigator.map(|n| if n.trim().to_ascii_lowercase().starts_with("zh") { Lang::Zh } else { Lang::En }))
        .unwrap_or_default()
}

/// The `lang` parameter of a query string, when it names a language.
pub fn query_lang(query: &str) -> Option<Lang> {
    query.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("lang=")).and_then(Lang::parse)
}

/// The query string with its `lang` parameter set to `lang` (when it has one; else as it is):
/// after a switch, reloading a `?lang=` link keeps the language chosen.
pub fn with_query_lang(query: &str, lang: Lang) -> String {
    let q = query.trim_start_matches('?');
    if q.is_empty() || query_lang(query).is_none() {
        return query.to_string();
    }
    let parts: Vec<String> =
        q.split('&').map(|kv| if kv.starts_with("lang=") { format!("lang={}", lang.code()) } else { kv.to_string() }).collect();
    format!("?{}", parts.join("&"))
}

/// Declares an enum of fixed words, each key with its English and its Chinese: a key missing
/// either does not compile. `ALL` lists every key, for the tests that read them all.
macro_rules! words {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$km:meta])* $key:ident => $en:expr, $zh:expr;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($(#[$km])* $key,)* }

        impl $name {
            /// Every key, in declaration order.
            #[allow(dead_code)]
            pub const ALL: &'static [$name] = &[$($name::$key,)*];

            /// The key in `lang`.
            pub fn t(self, lang: $crate::i18n::Lang) -> &'static str {
                match lang {
                    $crate::i18n::Lang::En => match self { $($name::$key => $en,)* },
                    $crate::i18n::Lang::Zh => match self { $($name::$key => $zh,)* },
                }
            }
        }
    };
}
use words;
