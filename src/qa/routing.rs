//! Which lawyer gets a new question. Pure: the use case loads the candidates (active lawyers
//! whose profile accepts questions) in the asking transaction and stores the outcome.
//!
//! Order: (a) the enterprise's own advisors (5+1 group), least loaded, whatever the topic —
//! they know the enterprise; (b) lawyers whose topics contain the question's topic and whose
//! industries contain the enterprise's (no industries: every industry), least loaded first,
//! ties to the lowest id so the choice is reproducible; (c) nobody: the question waits in the
//! organizer's queue.

use super::AssignedBy;

/// A lawyer who may take a new question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub lawyer_id: i64,
    /// Check-up dimension ids the lawyer answers.
    pub topics: Vec<String>,
    /// GB/T 4754 sections; empty: every industry.
    pub industries: Vec<String>,
    /// Questions waiting for this lawyer's word now.
    pub load: i64,
    /// One of the asking enterprise's advisors.
    pub advisor: bool,
}

/// Where a question goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub lawyer_id: i64,
    pub by: AssignedBy,
}

impl Candidate {
    /// Answers `topic` for enterprises of `industry`.
    pub fn matches(&self, topic: &str, industry: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
            && (self.industries.is_empty() || self.industries.iter().any(|i| i == industry))
    }
}

/// The lawyer for a question on `topic` from an enterprise of `industry`, or `None` for the
/// organizer's queue.
pub fn route(candidates: &[Candidate], topic: &str, industry: &str) -> Option<Route> {
    let least_loaded = |pred: &dyn Fn(&Candidate) -> bool| {
        candidates
            .iter()
            .filter(|c| pred(c))
            .min_by_key(|c| (c.load, c.lawyer_id))
            .map(|c| c.lawyer_id)
    };
    if let Some(lawyer_id) = least_loaded(&|c| c.advisor) {
        return Some(Route {
            lawyer_id,
            by: AssignedBy::Advisor,
        });
    }
    least_loaded(&|c| c.matches(topic, industry)).map(|lawyer_id| Route {
        lawyer_id,
        by: AssignedBy::Match,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lawyer(id: i64, topics: &[&str], industries: &[&str], load: i64) -> Candidate {
        Candidate {
            lawyer_id: id,
            topics: topics.iter().map(|s| s.to_string()).collect(),
            industries: industries.iter().map(|s| s.to_string()).collect(),
            load,
            advisor: false,
        }
    }

    #[test]
    fn specialty_and_industry_must_match() {
        let lawyers = [
            lawyer(1, &["contract"], &[], 0),
            lawyer(2, &["labor"], &["C"], 0),
            lawyer(3, &["labor"], &["E"], 5),
        ];
        let r = route(&lawyers, "labor", "E").expect("routed");
        assert_eq!((r.lawyer_id, r.by), (3, AssignedBy::Match));
        assert_eq!(route(&lawyers, "labor", "C").map(|r| r.lawyer_id), Some(2));
        assert_eq!(
            route(&lawyers, "contract", "Q").map(|r| r.lawyer_id),
            Some(1)
        );
    }

    #[test]
    fn least_loaded_first_then_lowest_id() {
        let lawyers = [
            lawyer(7, &["labor"], &[], 2),
            lawyer(4, &["labor"], &[], 1),
            lawyer(5, &["labor"], &[], 1),
        ];
        assert_eq!(route(&lawyers, "labor", "E").map(|r| r.lawyer_id), Some(4));
    }

    #[test]
    fn advisors_come_first_whatever_the_topic() {
        let mut advisor = lawyer(9, &["tax"], &["C"], 8);
        advisor.advisor = true;
        let lawyers = [lawyer(1, &["labor"], &[], 0), advisor];
        let r = route(&lawyers, "labor", "E").expect("routed");
        assert_eq!((r.lawyer_id, r.by), (9, AssignedBy::Advisor));
    }

    #[test]
    fn no_match_waits_for_the_organizer() {
        let lawyers = [lawyer(1, &["contract"], &["C"], 0)];
        assert_eq!(route(&lawyers, "labor", "C"), None);
        assert_eq!(route(&lawyers, "contract", "E"), None);
        assert_eq!(route(&[], "contract", "C"), None);
    }
}
