//! How the page's language is chosen.

use super::*;

#[test]
fn a_link_wins_then_the_remembered_choice_then_the_browser() {
    assert_eq!(choose("?lang=zh", Some("en"), Some("en-US")), Lang::Zh);
    assert_eq!(choose("?x=1&lang=EN", Some("zh"), Some("zh-CN")), Lang::En);
    assert_eq!(choose("?lang=fr", Some("zh"), Some("en-US")), Lang::Zh, "an unknown language is no choice");
    assert_eq!(choose("", None, Some("zh-TW")), Lang::Zh);
    assert_eq!(choose("", None, Some("zh")), Lang::Zh);
    assert_eq!(choose("", None, Some("en-US")), Lang::En, "headless Chromium's language keeps the page English");
    assert_eq!(choose("", Some("garbage"), Some("de")), Lang::En);
    assert_eq!(choose("", None, None), Lang::En);
}

#[test]
fn a_switch_rewrites_a_lang_link_and_leaves_other_queries_alone() {
    assert_eq!(with_query_lang("?lang=zh", Lang::En), "?lang=en");
    assert_eq!(with_query_lang("?a=1&lang=zh&b=2", Lang::En), "?a=1&lang=en&b=2");
    assert_eq!(with_query_lang("?a=1", Lang::Zh), "?a=1");
    assert_eq!(with_query_lang("", Lang::Zh), "");
    assert_eq!(query_lang("?lang=zh"), Some(Lang::Zh));
    for l in Lang::ALL {
        assert_eq!(Lang::parse(l.code()), Some(l));
        assert_eq!(l.other().other(), l);
    }
}
