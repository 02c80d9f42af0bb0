//! Malformed and hostile policies are refused with a message that names the policy and the place
//! (and, for a condition, the expression and its column), and the policy in force stays in force.

use revshare_oracle::policy::{GRANT_REPORT_POLICY, Policy, PolicyError, default_policies};

fn refused(source: &str) -> String {
    let err = Policy::parse(source).expect_err("the policy is refused");
    let message = err.to_string();
    assert!(
        default_policies().propose(source).is_err(),
        "a refused policy cannot be proposed either"
    );
    message
}

fn with(from: &str, to: &str) -> String {
    assert!(GRANT_REPORT_POLICY.contains(from), "{from}");
    GRANT_REPORT_POLICY.replacen(from, to, 1)
}

#[test]
fn the_shipped_policies_read() {
    let policies = default_policies();
    let names: Vec<_> = policies
        .in_force()
        .map(|v| (v.version, v.policy.name().to_string()))
        .collect();
    assert_eq!(
        names,
        [(1, "revshare".to_string()), (2, "constitution".to_string())]
    );
}

#[test]
fn a_syntax_error_is_refused_with_its_line() {
    let message = refused(&with("[vote]", "[vote"));
    assert!(
        message.starts_with("policy file: not valid TOML"),
        "{message}"
    );
    assert!(message.contains("line 10"), "{message}");
}

#[test]
fn an_unknown_field_is_refused_naming_the_policy() {
    let message = refused(&with(
        "otherwise = \"fail\"",
        "otherwise = \"fail\"\nquorum = 3",
    ));
    assert!(message.starts_with("policy `revshare`:"), "{message}");
    assert!(message.contains("unknown field `quorum`"), "{message}");
    let message = refused(&with(
        "{ do = \"add_entry\", pool = \"default\", weight = 1 }",
        "{ do = \"add_entry\", pool = \"default\", weight = 1, share = 2 }",
    ));
    assert!(message.contains("unknown field `share`"), "{message}");
    let message = refused(&with("do = \"add_entry\"", "do = \"pay_out\""));
    assert!(message.contains("unknown variant `pay_out`"), "{message}");
}

#[test]
fn an_expression_too_costly_is_refused() {
    let costly = vec!["total"; 70].join(" + ");
    let message = refused(&with(
        "when = \"total >= 5\"",
        &format!("when = \"{costly} >= 5\""),
    ));
    assert!(
        message.starts_with("policy `revshare`, vote.close `five-votes`: `total + total"),
        "{message}"
    );
    assert!(
        message.contains("too costly to evaluate: 141 steps, the limit is 128"),
        "{message}"
    );
    let nested = format!("when = \"{}total{} >= 5\"", "(".repeat(40), ")".repeat(40));
    let message = refused(&with("when = \"total >= 5\"", &nested));
    assert!(
        message.contains("nested more than 32 levels deep"),
        "{message}"
    );
}

#[test]
fn the_policy_as_a_whole_has_a_budget() {
    let heavy = vec!["total"; 60].join(" + ");
    let mut source = GRANT_REPORT_POLICY.to_string();
    for i in 0..9 {
        source = source.replacen(
            "[[vote.decide]]",
            &format!("[[vote.decide]]\nname = \"heavy-{i}\"\nwhen = \"{heavy} > 0\"\noutcome = \"pass\"\n\n[[vote.decide]]"),
            1,
        );
    }
    let message = refused(&source);
    assert!(
        message.contains("too costly to evaluate: more than 1024 steps"),
        "{message}"
    );
}

#[test]
fn a_reference_to_nothing_is_refused() {
    let message = refused(&with(
        "count_at(\"approve\", 3) >= 1",
        "count_at(\"aprove\", 3) >= 1",
    ));
    assert_eq!(
        message,
        "policy `revshare`, vote.close `tl3-approval`: `count_at(\"aprove\", 3) >= 1` at column 10: \
         the vote has no option \"aprove\"; its options are \"approve\", \"disapprove\""
    );
    let message = refused(&with("\"elapsed >= 24h\"", "\"hours >= 24\""));
    assert!(
        message.contains("`hours >= 24` at column 1: unknown name `hours`"),
        "{message}"
    );
    let message = refused(&with(
        "has set the wallet {wallet}",
        "has set the wallet {walet}",
    ));
    assert!(
        message.starts_with(
            "policy `revshare`, rule `wallet-added`, text: unknown placeholder `{walet}`"
        ),
        "{message}"
    );
    let message = refused(&with("backend = \"discourse\"", "backend = \"slack\""));
    assert!(
        message
            .contains("vote.backend: unknown backend `slack`; the backends are discourse, loomio"),
        "{message}"
    );
    let message = refused(&with("You removed {old_wallet}", "You removed {link}"));
    assert!(message.contains("{link} has no value here"), "{message}");
}

#[test]
fn actions_must_fit_their_triggers() {
    let message = refused(&with(
        "{ do = \"remove_entry\", pool = \"default\" }",
        "{ do = \"add_entry\", pool = \"default\", weight = 1 }",
    ));
    assert!(message.contains("rule `wallet-removed`, then[0]: `add_entry` needs a trigger among wallet_added, wallet_changed"), "{message}");
    let message = refused(&with(
        "on = [\"wallet_removed\"]",
        "on = [\"wallet_removed\", \"wallet_changed\"]",
    ));
    assert!(
        message.contains("another rule already answers wallet_changed"),
        "{message}"
    );
    let message = refused(&with("vote = false", "vote = true"));
    assert!(
        message.contains("`then` is for rules without a vote"),
        "{message}"
    );
    let message = refused(&with("weight = 1 }", "weight = 0 }"));
    assert!(
        message.contains("a weight must be a whole number from 1"),
        "{message}"
    );
}

#[test]
fn a_refused_change_leaves_the_policy_in_force() {
    let policies = default_policies();
    let before = policies.clone();
    let err = policies
        .propose(
            "name = \"revshare\"\n[[rule]]\nname = \"x\"\non = [\"wallet_added\"]\nvote = true\n",
        )
        .unwrap_err();
    assert!(matches!(err, PolicyError::Invalid { .. }), "{err}");
    assert_eq!(policies, before);
    let mut policies = policies;
    let lockout = format!(
        "{}\n[[rule]]\nname = \"removal\"\non = [\"wallet_removed\"]\nvote = false\nthen = [{{ do = \"remove_entry\", pool = \"default\" }}]\n",
        revshare_oracle::policy::CONSTITUTION_POLICY
    );
    let err = policies.adopt(&lockout).unwrap_err();
    assert!(
        err.to_string()
            .contains("policy `revshare` already answers wallet_removed"),
        "{err}"
    );
    assert_eq!(policies, before);
    let no_constitution = "name = \"constitution\"\n\n[[rule]]\nname = \"requests\"\non = [\"admin_request\"]\nvote = false\nthen = [{ do = \"apply_request\" }]\n";
    let err = policies.adopt(no_constitution).unwrap_err();
    assert!(
        err.to_string().contains("could never be changed again"),
        "{err}"
    );
    assert_eq!(policies, before);
}

#[test]
fn a_fixed_split_change_is_checked_when_read() {
    let set_split = |rules: &str| {
        with(
            "{ do = \"notify\", title = \"Your wallet was not added\"",
            &format!(
                "{{ do = \"set_split\", rules = {{ {rules} }} }},\n  {{ do = \"notify\", title = \"Your wallet was not added\""
            ),
        )
    };
    assert!(Policy::parse(&set_split("author_bps = 2000")).is_ok());
    let message = refused(&set_split("author_bps = 6000, participants_bps = 5000"));
    assert!(
        message.contains(
            "rule `wallet-added`, on_fail[0]: author_bps + participants_bps must be at most 10000"
        ),
        "{message}"
    );
    let message = refused(&with(
        "on_open = [",
        "on_open = [\n  { do = \"remove_entry\", pool = \"default\" },",
    ));
    assert!(
        message.contains("`remove_entry` cannot run when a vote opens"),
        "{message}"
    );
}
