//! What a command run by `exec` finds in its environment: the credentials Sentinel hands it
//! (in variables, or by a credential server's address), the profile's region, and nothing that
//! its SDK would rank above them.

use std::process::Command;

/// Variables through which an SDK would find other credentials before the ones Sentinel hands
/// over, or be pointed back at a Sentinel profile (and so at Sentinel itself). A command `exec`
/// runs gets none of them from Sentinel's environment; Sentinel sets the ones it hands over
/// itself afterwards.
pub const FOREIGN_CREDENTIALS: [&str; 15] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    super::NESTED_GUARD,
];

/// Clears [`FOREIGN_CREDENTIALS`] from `command`'s environment and hands it the profile's
/// `region`, if it names one. Call it before setting the variables Sentinel hands over: a later
/// setting of the same variable wins.
pub fn prepare(command: &mut Command, region: Option<&str>) {
    for variable in FOREIGN_CREDENTIALS {
        command.env_remove(variable);
    }
    if let Some(region) = region {
        command
            .env("AWS_REGION", region)
            .env("AWS_DEFAULT_REGION", region);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_credentials_are_removed_and_what_is_set_later_stays() {
        let mut command = Command::new("true");
        command
            .env("AWS_SECURITY_TOKEN", "stale")
            .env("KEEP", "yes");
        prepare(&mut command, Some("eu-west-1"));
        command.env("AWS_ACCESS_KEY_ID", "handed-over");
        let envs: Vec<(String, Option<String>)> = command
            .get_envs()
            .map(|(key, value)| {
                let text = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
                (text(key), value.map(text))
            })
            .collect();
        let value = |name: &str| {
            envs.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        assert_eq!(value("AWS_SECURITY_TOKEN"), Some(None), "removed");
        assert_eq!(
            value("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            Some(None),
            "removed"
        );
        assert_eq!(value("AWS_ACCESS_KEY_ID"), Some(Some("handed-over".into())));
        assert_eq!(value("AWS_REGION"), Some(Some("eu-west-1".into())));
        assert_eq!(value("KEEP"), Some(Some("yes".into())));
    }
}
