//! Numbered pages for long lists (issue 17: 3,000 enterprises arrived in one 560 KB page):
//! which rows a page shows, and the links to the others keeping the list's filters.

/// One link of the page bar: a page number, or a gap (`…`).
pub struct PageLink {
    pub label: String,
    /// `None` for the current page and for gaps.
    pub href: Option<String>,
    pub current: bool,
}

/// Where a list is: page `page` (from 1) of `per_page` rows out of `total`.
pub struct Paging {
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    /// The list's path and filters without `page`, e.g. `/admin/enterprises?q=示例`.
    base: String,
}

impl Paging {
    /// The page asked for in the query (`None`, not a number or below 1: the first; beyond the
    /// last: the last).
    pub fn new(asked: Option<&str>, per_page: i64, total: i64, base: String) -> Paging {
        let per_page = per_page.max(1);
        let last = ((total.max(0) + per_page - 1) / per_page).max(1);
        let page = asked
            .and_then(|p| p.trim().parse::<i64>().ok())
            .unwrap_or(1)
            .clamp(1, last);
        Paging {
            page,
            per_page,
            total: total.max(0),
            base,
        }
    }

    pub fn pages(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }

    /// Rows to skip for this page.
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }

    /// "第 51–100 条，共 3000 条" (or "共 0 条").
    pub fn summary(&self) -> String {
        if self.total == 0 {
            return "共 0 条".into();
        }
        let first = self.offset() + 1;
        let last = (self.offset() + self.per_page).min(self.total);
        format!("第 {first}–{last} 条，共 {} 条", self.total)
    }

    fn href(&self, page: i64) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        if page == 1 {
            self.base.clone()
        } else {
            format!("{}{sep}page={page}", self.base)
        }
    }

    pub fn previous(&self) -> Option<String> {
        (self.page > 1).then(|| self.href(self.page - 1))
    }

    pub fn next(&self) -> Option<String> {
        (self.page < self.pages()).then(|| self.href(self.page + 1))
    }

    /// The first, the last, and two either side of the current page; gaps as `…`.
    pub fn links(&self) -> Vec<PageLink> {
        let last = self.pages();
        let mut links = Vec::new();
        let mut previous = 0;
        for p in 1..=last {
            if p != 1 && p != last && (p - self.page).abs() > 2 {
                continue;
            }
            if p > previous + 1 {
                links.push(PageLink {
                    label: "…".into(),
                    href: None,
                    current: false,
                });
            }
            links.push(PageLink {
                label: p.to_string(),
                href: (p != self.page).then(|| self.href(p)),
                current: p == self.page,
            });
            previous = p;
        }
        links
    }
}

/// `path?k=v&…` with the non-empty `(key, value)` pairs, URL-encoded.
pub fn url_with(path: &str, pairs: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(
        pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_clamped_and_summarised() {
        let p = Paging::new(Some("7"), 50, 3000, "/admin/enterprises".into());
        assert_eq!((p.page, p.pages(), p.offset()), (7, 60, 300));
        assert_eq!(p.summary(), "第 301–350 条，共 3000 条");
        assert_eq!(p.previous().as_deref(), Some("/admin/enterprises?page=6"));
        assert_eq!(p.next().as_deref(), Some("/admin/enterprises?page=8"));
        let labels: Vec<String> = p.links().into_iter().map(|l| l.label).collect();
        assert_eq!(labels, ["1", "…", "5", "6", "7", "8", "9", "…", "60"]);
        assert!(p.links()[4].current && p.links()[4].href.is_none());

        let p = Paging::new(Some("999"), 50, 120, "/x?q=a".into());
        assert_eq!(p.page, 3);
        assert_eq!(p.summary(), "第 101–120 条，共 120 条");
        assert_eq!(p.previous().as_deref(), Some("/x?q=a&page=2"));
        assert_eq!(p.next(), None);
        for asked in [None, Some("0"), Some("-3"), Some("abc")] {
            assert_eq!(Paging::new(asked, 50, 120, "/x".into()).page, 1);
        }
        let empty = Paging::new(None, 50, 0, "/x".into());
        assert_eq!((empty.pages(), empty.summary().as_str()), (1, "共 0 条"));
        assert_eq!(empty.links().len(), 1);
    }

    #[test]
    fn urls_keep_filters() {
        assert_eq!(
            url_with("/admin/enterprises", &[("q", "示例 企业"), ("industry", ""), ("district", "鼓楼区")]),
            "/admin/enterprises?q=%E7%A4%BA%E4%BE%8B+%E4%BC%81%E4%B8%9A&district=%E9%BC%93%E6%A5%BC%E5%8C%BA"
        );
        assert_eq!(url_with("/x", &[("q", " ")]), "/x");
    }
}
