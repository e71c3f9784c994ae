//! Where a policy lives: `ssm:PARAMETER` or a file path.
