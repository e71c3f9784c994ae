//! Who is asking: the user name Sentinel's policies match, taken from the caller's own AWS
//! identity (`GetCallerIdentity`), never from a flag the caller could set.

use aws_config::SdkConfig;
use aws_sdk_sts::error::DisplayErrorContext;

/// Why the caller's user name could not be determined.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// STS could not be asked.
    #[error("cannot determine who you are (STS GetCallerIdentity failed): {0}")]
    Sts(String),
    /// The identity is of a kind Sentinel does not broker for.
    #[error("cannot broker credentials for {arn}: {problem}")]
    Unsupported {
        /// The caller's ARN.
        arn: String,
        /// Why it is not accepted.
        problem: &'static str,
    },
}

/// Asks STS who the base credentials belong to, and returns the user name policies match.
pub async fn caller_user(config: &SdkConfig) -> Result<String, CallerError> {
    let output = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|error| CallerError::Sts(DisplayErrorContext(error).to_string()))?;
    let arn = output
        .arn()
        .ok_or_else(|| CallerError::Sts("the answer had no ARN".to_owned()))?;
    user_from_arn(arn).map(str::to_owned)
}

/// The user name in a caller ARN: an IAM user's name (without its path), an assumed role's
/// session name, or a federated user's name. The account root is refused.
pub fn user_from_arn(arn: &str) -> Result<&str, CallerError> {
    let unsupported = |problem| CallerError::Unsupported {
        arn: arn.to_owned(),
        problem,
    };
    let resource = arn
        .splitn(6, ':')
        .nth(5)
        .filter(|_| arn.starts_with("arn:"))
        .ok_or_else(|| unsupported("it is not an ARN"))?;
    let name = if let Some(user) = resource.strip_prefix("user/") {
        user.rsplit('/').next()
    } else if let Some(role) = resource.strip_prefix("assumed-role/") {
        role.split_once('/').map(|(_, session)| session)
    } else if let Some(user) = resource.strip_prefix("federated-user/") {
        Some(user)
    } else if resource == "root" {
        return Err(unsupported(
            "the account root user never gets brokered credentials",
        ));
    } else {
        None
    };
    name.filter(|name| !name.is_empty())
        .ok_or_else(|| unsupported("it is not an IAM user, assumed role or federated user"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_user_name_of_each_principal_kind() {
        let cases = [
            ("arn:aws:iam::123456789012:user/alice", "alice"),
            ("arn:aws:iam::123456789012:user/engineering/bob", "bob"),
            (
                "arn:aws:sts::123456789012:assumed-role/Admin/carol@example.com",
                "carol@example.com",
            ),
            ("arn:aws:sts::123456789012:federated-user/dave", "dave"),
            ("arn:aws-cn:iam::123456789012:user/erin", "erin"),
        ];
        for (arn, user) in cases {
            assert_eq!(user_from_arn(arn).expect(arn), user, "{arn}");
        }
    }

    #[test]
    fn refuses_root_and_unknown_shapes() {
        for arn in [
            "arn:aws:iam::123456789012:root",
            "arn:aws:iam::123456789012:role/Admin",
            "arn:aws:sts::123456789012:assumed-role/Admin",
            "arn:aws:iam::123456789012:user/",
            "not-an-arn",
            "",
        ] {
            assert!(user_from_arn(arn).is_err(), "{arn} should be refused");
        }
    }
}
