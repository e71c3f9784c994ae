//! Who is a user: every shape of caller ARN against every kind of `identity` section. Only an
//! IAM user, or a session of a listed role, in a listed account, is a user; everything else is
//! refused by the rule that says why.

use proptest::prelude::*;
use sentinel_core::caller::{Caller, IdentityRule};
use sentinel_policy::Policy;

/// The account of the profile's role in every case.
const HOME: &str = "123456789012";
const FOREIGN: &str = "999999999999";

/// The identity settings of the table's columns.
const SETTINGS: [(&str, &str); 4] = [
    ("default", ""),
    (
        "two accounts",
        "identity:\n  accounts: [\"123456789012\", \"999999999999\"]\n",
    ),
    (
        "pinned roles",
        "identity:\n  session_name_roles: [\"Pinned*\"]\n",
    ),
    ("no roles", "identity:\n  session_name_roles: []\n"),
];

fn policy(identity: &str) -> Policy {
    Policy::from_yaml(&format!(
        "version: \"1\"\n{identity}rules:\n  - name: all\n    effect: allow\n"
    ))
    .expect("valid policy")
}

fn caller(arn: &str) -> Caller {
    let account = arn.split(':').nth(4).unwrap_or_default().to_owned();
    Caller {
        arn: arn.to_owned(),
        account,
        user_id: "AIDAEXAMPLE".to_owned(),
    }
}

/// What a cell expects: the user, or the rule that refuses.
type Expect = Result<&'static str, IdentityRule>;

const ACCOUNTS: Expect = Err(IdentityRule::Accounts);
const ROLES: Expect = Err(IdentityRule::SessionNameRoles);
const KIND: Expect = Err(IdentityRule::PrincipalKind);

#[test]
fn every_arn_shape_under_every_identity_setting() {
    // Columns: default, two accounts, pinned roles, no roles.
    let table: [(&str, [Expect; 4]); 12] = [
        ("arn:aws:iam::123456789012:user/alice", [Ok("alice"); 4]),
        (
            "arn:aws:iam::123456789012:user/engineering/ops/bob",
            [Ok("bob"); 4],
        ),
        (
            "arn:aws:iam::999999999999:user/alice",
            [ACCOUNTS, Ok("alice"), ACCOUNTS, ACCOUNTS],
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123abcd/carol@example.com",
            [
                Ok("carol@example.com"),
                Ok("carol@example.com"),
                ROLES,
                ROLES,
            ],
        ),
        (
            "arn:aws:sts::999999999999:assumed-role/AWSReservedSSO_Admin_0123abcd/alice",
            [ACCOUNTS, Ok("alice"), ACCOUNTS, ACCOUNTS],
        ),
        // A session name chosen by whoever assumed the role.
        (
            "arn:aws:sts::123456789012:assumed-role/dev/alice",
            [ROLES, ROLES, ROLES, ROLES],
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/PinnedEngineers/dave",
            [ROLES, ROLES, Ok("dave"), ROLES],
        ),
        ("arn:aws:sts::123456789012:federated-user/alice", [KIND; 4]),
        ("arn:aws:iam::123456789012:root", [KIND; 4]),
        ("arn:aws:iam::123456789012:role/dev", [KIND; 4]),
        ("arn:aws:sts::123456789012:assumed-role/dev", [KIND; 4]),
        ("alice", [KIND; 4]),
    ];
    for (arn, row) in table {
        for ((setting, identity), expected) in SETTINGS.iter().zip(row) {
            let policy = policy(identity);
            let caller = caller(arn);
            let got = caller.user(policy.identity(), Some(HOME));
            if let Err(refused) = &got {
                assert_eq!(refused.arn, arn);
                let message = refused.to_string();
                assert!(message.contains(arn), "{message}");
                assert!(message.contains(&refused.rule.to_string()), "{message}");
            }
            assert_eq!(
                got.map_err(|refused| refused.rule),
                expected,
                "{arn} under {setting}"
            );
        }
    }
}

#[test]
fn the_refusal_says_which_rule_and_what_it_wanted() {
    let default = policy("");
    let chosen = caller("arn:aws:sts::123456789012:assumed-role/dev/alice")
        .user(default.identity(), Some(HOME))
        .expect_err("a chosen session name");
    let message = chosen.to_string();
    assert!(
        message.starts_with(
            "principal arn:aws:sts::123456789012:assumed-role/dev/alice is refused by \
             identity.session_name_roles:"
        ),
        "{message}"
    );
    assert!(
        message.contains("role dev is not AWSReservedSSO_*"),
        "{message}"
    );

    let foreign = caller("arn:aws:iam::999999999999:user/alice")
        .user(default.identity(), Some(HOME))
        .expect_err("a foreign account");
    assert!(
        foreign.to_string().contains(
            "account 999999999999 is not 123456789012 (the account of the profile's role)"
        ),
        "{foreign}"
    );
}

#[test]
fn an_arn_of_another_account_than_sts_answered_for_is_refused() {
    let mismatched = Caller {
        arn: "arn:aws:iam::123456789012:user/alice".into(),
        account: FOREIGN.into(),
        user_id: "AIDAEXAMPLE".into(),
    };
    let refused = mismatched
        .user(policy("").identity(), Some(HOME))
        .expect_err("mismatched");
    assert_eq!(refused.rule, IdentityRule::Accounts);
}

#[test]
fn without_a_role_account_only_listed_accounts_are_users() {
    let alice = caller("arn:aws:iam::123456789012:user/alice");
    let refused = alice
        .user(policy("").identity(), None)
        .expect_err("no account to default to");
    assert_eq!(refused.rule, IdentityRule::Accounts);
    let listed = policy("identity:\n  accounts: [\"123456789012\"]\n");
    assert_eq!(alice.user(listed.identity(), None), Ok("alice"));
}

proptest! {
    /// Whatever the ARN, a user comes out only as the last segment of an IAM user's or a
    /// listed role's session ARN, in the home account; federated users and root never.
    #[test]
    fn a_user_is_only_ever_a_name_the_rules_vouch_for(
        account in prop_oneof![Just(HOME), Just(FOREIGN)],
        service in prop_oneof![Just("iam"), Just("sts"), Just("s3")],
        kind in prop_oneof![
            Just("user/"),
            Just("assumed-role/AWSReservedSSO_x/"),
            Just("assumed-role/dev/"),
            Just("federated-user/"),
            Just("role/"),
            Just(""),
        ],
        name in "[a-z/:@.]{0,12}",
        setting in 0..SETTINGS.len(),
    ) {
        let arn = format!("arn:aws:{service}::{account}:{kind}{name}");
        let policy = policy(SETTINGS[setting].1);
        if let Ok(user) = caller(&arn).user(policy.identity(), Some(HOME)) {
            prop_assert!(!user.is_empty() && !user.contains('/'));
            let suffix = format!("/{user}");
            prop_assert!(arn.ends_with(&suffix), "{} does not end with {}", arn, suffix);
            let listed = account == HOME || setting == 1;
            prop_assert!(listed, "{arn} under {}", SETTINGS[setting].0);
            let vouched = (service == "iam" && kind == "user/")
                || (service == "sts" && kind == "assumed-role/AWSReservedSSO_x/" && setting < 2);
            prop_assert!(vouched, "{arn} under {}", SETTINGS[setting].0);
        }
    }
}
