//! An option of a select, checkbox group or radio group, and whether it is chosen.

/// One option a form offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The submitted value.
    pub value: String,
    /// What the user reads.
    pub label: String,
    /// Selected (select) or checked (checkbox, radio).
    pub chosen: bool,
}
