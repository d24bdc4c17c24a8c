//! Part of 企问律答 (issue 16); see [`super`].
