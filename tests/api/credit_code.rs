//! Valid 统一社会信用代码 for fixtures, one per number, so every test enterprise has its own.
//!
//! The check characters come from the library's own validator: this file holds no second copy
//! of the GB 32100 / GB 11714 arithmetic. `benches/signups.rs` includes it with `#[path]`.

use pufa::accounts::uscc::{Uscc, UsccError};

/// A valid credit code for fixture number `n` (below 10⁸): registering authority 9, type 1,
/// region 350100, the organisation code body `n` as eight digits, and the two check
/// characters that [`Uscc::parse`] asks for.
pub fn valid_uscc(n: u32) -> String {
    let mut code: Vec<char> = format!("91350100{n:08}00").chars().collect();
    loop {
        match Uscc::parse(&code.iter().collect::<String>()) {
            Ok(uscc) => return uscc.as_str().to_string(),
            Err(UsccError::OrgCodeCheck { expected, .. }) => code[16] = expected,
            Err(UsccError::CheckChar { expected, .. }) => code[17] = expected,
            Err(other) => panic!("fixture number {n} gives no credit code: {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    /// The codes the tests and the bench have always used (computed by hand once).
    #[test]
    fn fixture_codes_are_stable() {
        assert_eq!(super::valid_uscc(1), "91350100000000019E");
        assert_eq!(super::valid_uscc(4242), "9135010000004242XH");
        assert_eq!(super::valid_uscc(90_000), "91350100000900009L");
    }
}
