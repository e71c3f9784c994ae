//! The outcome of validating a policy, with the problems that stop it loading kept apart from
//! those that do not.

use crate::diagnostic::Diagnostic;

/// Everything validating a policy found, errors apart from warnings. Any error keeps the policy
/// from loading (it fails closed); warnings alone do not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Validation {
    /// The outcome with these errors and warnings, each already in source order.
    pub(crate) fn new(errors: Vec<Diagnostic>, warnings: Vec<Diagnostic>) -> Validation {
        Validation { errors, warnings }
    }

    /// The problems that keep the policy from loading, in source order.
    pub fn errors(&self) -> &[Diagnostic] {
        &self.errors
    }

    /// The problems that do not keep the policy from loading, in source order.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Whether the policy loads: it has no error, whatever its warnings.
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Validation;
    use crate::code::Code;
    use crate::diagnostic::{Diagnostic, Pos, Severity};

    fn warning() -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(Pos::START, Code::UnknownKey, "a warning")
        }
    }

    #[test]
    fn warnings_alone_pass() {
        let validation = Validation::new(Vec::new(), vec![warning()]);
        assert!(validation.passed());
        assert_eq!(validation.errors(), []);
        assert_eq!(validation.warnings(), [warning()]);
    }

    #[test]
    fn any_error_fails() {
        let error = Diagnostic::error(Pos::START, Code::UnknownKey, "an error");
        let validation = Validation::new(vec![error.clone()], vec![warning()]);
        assert!(!validation.passed());
        assert_eq!(validation.errors(), [error]);
    }
}
