use proptest::prelude::*;

use super::*;

/// Fixed facts: option 0 "approve", option 1 "disapprove".
struct Fixed {
    counts: [u64; 2],
    tl3: [u64; 2],
    staff: [u64; 2],
    elapsed_ms: i64,
}

impl Facts for Fixed {
    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
    fn total_at(&self, level: u8) -> u64 {
        if level >= 3 {
            self.tl3.iter().sum()
        } else {
            self.total()
        }
    }
    fn count(&self, option: usize) -> u64 {
        self.counts[option]
    }
    fn count_at(&self, option: usize, level: u8) -> u64 {
        if level >= 3 {
            self.tl3[option]
        } else {
            self.counts[option]
        }
    }
    fn count_in(&self, option: usize, group: &str) -> u64 {
        if group == "staff" {
            self.staff[option]
        } else {
            0
        }
    }
    fn elapsed_ms(&self) -> i64 {
        self.elapsed_ms
    }
}

fn options() -> Vec<String> {
    vec!["approve".into(), "disapprove".into()]
}

fn facts() -> Fixed {
    Fixed {
        counts: [3, 2],
        tl3: [1, 0],
        staff: [0, 1],
        elapsed_ms: 25 * 3_600_000,
    }
}

fn holds(source: &str) -> bool {
    Condition::compile(source, &options())
        .unwrap_or_else(|e| panic!("{e}"))
        .holds(&facts(), &mut Fuel::new(MAX_COST))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn refused(source: &str) -> ExprError {
    Condition::compile(source, &options()).expect_err(source)
}

#[test]
fn counts_durations_and_logic_evaluate() {
    assert!(holds("elapsed >= 24h"));
    assert!(!holds("elapsed >= 2d"));
    assert!(holds("count('approve') > count(\"disapprove\")"));
    assert!(holds(
        "count_at(\"approve\", 3) >= 1 && count_at(\"disapprove\", 3) == 0"
    ));
    assert!(holds("total >= 5 || false"));
    assert!(holds("total_at(3) == 1"));
    assert!(holds("count_in(\"disapprove\", \"staff\") == 1"));
    assert!(holds("3 * count(\"approve\") >= 2 * total + -1"));
    assert!(holds("!(elapsed < 24h + 30m)"));
    assert!(holds("true != false"));
}

#[test]
fn a_reference_to_nothing_is_refused_with_its_position() {
    let err = refused("count(\"aprove\") >= 1");
    assert!(matches!(err.kind(), ExprErrorKind::Unknown(_)), "{err}");
    assert_eq!(err.column(), 7);
    assert!(
        err.to_string()
            .contains("no option \"aprove\"; its options are \"approve\", \"disapprove\""),
        "{err}"
    );
    let err = refused("votes >= 5");
    assert!(err.to_string().contains("unknown name `votes`"), "{err}");
    let err = refused("total >= 1 && tally(\"approve\") > 0");
    assert!(
        err.to_string().contains("unknown function `tally`"),
        "{err}"
    );
    assert_eq!(err.column(), 15);
    let err = refused("count_at(\"approve\", 7) >= 1");
    assert!(
        err.to_string().contains("trust levels go from 0 to 4"),
        "{err}"
    );
}

#[test]
fn types_are_checked() {
    for (source, says) in [
        ("total", "must be a bool"),
        ("elapsed >= 5", "one type, found duration and int"),
        ("true < false", "compares ints or durations"),
        ("elapsed * elapsed", "cannot take duration"),
        ("!total", "`!` takes a bool"),
        ("\"approve\" == 1", "a text can only name"),
        ("count(approve) > 1", "named by a quoted text"),
        ("count(\"approve\", 3) > 1", "takes (option)"),
    ] {
        let err = refused(source);
        assert!(err.to_string().contains(says), "{source}: {err}");
    }
}

#[test]
fn a_costly_expression_is_refused_before_it_runs() {
    let sum = vec!["total"; 70].join(" + ");
    let err = refused(&format!("{sum} > 0"));
    assert!(
        matches!(err.kind(), ExprErrorKind::TooCostly { cost, max: MAX_COST } if *cost > MAX_COST),
        "{err}"
    );
    assert!(err.to_string().contains("too costly to evaluate"), "{err}");
    let long = format!("{} > 0", "1 + ".repeat(400));
    assert!(matches!(
        refused(&long).kind(),
        ExprErrorKind::TooLong { .. }
    ));
}

#[test]
fn evaluation_stops_when_its_fuel_runs_out() {
    let condition = Condition::compile("total >= 1 && elapsed >= 1h", &options()).unwrap();
    assert_eq!(condition.cost(), 7);
    let mut fuel = Fuel::new(3);
    let err = condition.holds(&facts(), &mut fuel).unwrap_err();
    assert_eq!(err.kind(), &ExprErrorKind::OutOfFuel);
    let mut fuel = Fuel::new(10);
    assert!(condition.holds(&facts(), &mut fuel).unwrap());
    assert_eq!(fuel.left(), 3);
}

#[test]
fn overflow_is_an_error_at_its_operator() {
    let condition = Condition::compile("9223372036854775807 + total > 0", &options()).unwrap();
    let err = condition
        .holds(&facts(), &mut Fuel::new(MAX_COST))
        .unwrap_err();
    assert_eq!(err.kind(), &ExprErrorKind::Overflow);
    assert_eq!(err.column(), 1);
}

proptest! {
    #[test]
    fn evaluation_is_deterministic(
        a in 0u64..50, d in 0u64..50, tl3a in 0u64..3, tl3d in 0u64..3, hours in 0i64..72,
    ) {
        let facts = Fixed { counts: [a, d], tl3: [tl3a.min(a), tl3d.min(d)], staff: [0, 0], elapsed_ms: hours * 3_600_000 };
        let condition = Condition::compile(
            "count_at(\"disapprove\", 3) >= 1 || count(\"approve\") > count(\"disapprove\") && elapsed < 24h",
            &options(),
        ).unwrap();
        let first = condition.holds(&facts, &mut Fuel::new(MAX_COST)).unwrap();
        let second = condition.holds(&facts, &mut Fuel::new(MAX_COST)).unwrap();
        prop_assert_eq!(first, second);
        prop_assert_eq!(first, tl3d.min(d) >= 1 || (a > d && hours < 24));
    }

    #[test]
    fn any_text_is_parsed_or_refused_without_panicking(source in "[ -~]{0,64}") {
        let _ = Condition::compile(&source, &options());
    }
}
