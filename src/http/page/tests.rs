//! The page's pure formatting; the page as a browser gets it is tested in the integration suite.

use super::*;

#[test]
fn percentages_lose_only_trailing_zeros() {
    assert_eq!(trim_percent("50.0000"), "50");
    assert_eq!(trim_percent("12.5000"), "12.5");
    assert_eq!(trim_percent("33.3333"), "33.3333");
    assert_eq!(bps_percent(2500), "25");
    assert_eq!(bps_percent(1234), "12.34");
    assert_eq!(bps_percent(5), "0.05");
}
