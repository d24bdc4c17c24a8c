//! The confirmation step of actions that cannot be taken back or hurt someone else: 取消报名,
//! 取消此课程, 移除. The page says what will happen; only a form carrying `confirm=yes` acts, so
//! a stray click or a replayed form changes nothing. The API acts at once (its clients ask
//! their users themselves).

use crate::http::layout::Layout;
use askama::Template;
use askama_web::WebTemplate;
use std::collections::HashMap;

/// The field a confirmed form carries.
pub const FIELD: &str = "confirm";

/// Whether a submitted form was confirmed.
pub fn confirmed(form: &HashMap<String, String>) -> bool {
    form.get(FIELD).is_some_and(|v| v == "yes")
}

#[derive(Template, WebTemplate)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    /// The question, e.g. "取消报名？".
    pub title: String,
    /// What the action concerns: label and value pairs.
    pub facts: Vec<(String, String)>,
    /// What will happen, one sentence each.
    pub consequences: Vec<String>,
    /// Where the confirmed form posts.
    pub action: String,
    /// Fields the confirmed form carries besides `csrf` and `confirm`.
    pub hidden: Vec<(String, String)>,
    pub confirm_label: String,
    pub back_href: String,
    pub back_label: String,
}
