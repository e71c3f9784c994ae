//! Policies on the local file system: one file for every key, or a directory holding
//! `<profile>.yaml` per profile.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{LoadedPolicy, PolicySource, SourceError};

/// A policy source reading YAML files.
#[derive(Clone, Debug)]
pub struct FileSource {
    layout: Layout,
}

#[derive(Clone, Debug)]
enum Layout {
    File(PathBuf),
    Directory(PathBuf),
}

impl FileSource {
    /// A source that answers every key with the policy in `path`.
    pub fn file(path: impl Into<PathBuf>) -> FileSource {
        FileSource {
            layout: Layout::File(path.into()),
        }
    }

    /// A source that answers key `P` with the policy in `dir/P.yaml`.
    pub fn directory(dir: impl Into<PathBuf>) -> FileSource {
        FileSource {
            layout: Layout::Directory(dir.into()),
        }
    }

    fn path_for(&self, key: &str) -> Result<PathBuf, SourceError> {
        match &self.layout {
            Layout::File(path) => Ok(path.clone()),
            Layout::Directory(dir) => {
                check_profile_name(key)?;
                Ok(dir.join(format!("{key}.yaml")))
            }
        }
    }
}

/// Refuses keys that could reach outside the directory or name a hidden file.
fn check_profile_name(key: &str) -> Result<(), SourceError> {
    let refuse = |reason| {
        Err(SourceError::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return refuse("a profile name is not empty");
    }
    if key.starts_with('.') {
        return refuse("a profile name does not start with '.'");
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.+=,@".contains(&b))
    {
        return refuse("a profile name holds only letters, digits and _-.+=,@");
    }
    Ok(())
}

/// The location of a file as it appears in errors and in `LoadedPolicy::origin`.
fn location(path: &Path) -> String {
    format!("file:{}", path.display())
}

#[async_trait::async_trait]
impl PolicySource for FileSource {
    async fn load(&self, key: &str) -> Result<LoadedPolicy, SourceError> {
        let path = self.path_for(key)?;
        let location = location(&path);
        match tokio::fs::read(&path).await {
            Ok(text) => LoadedPolicy::parse(&text, &location),
            Err(error) => Err(match error.kind() {
                ErrorKind::NotFound => SourceError::NotFound { location },
                ErrorKind::PermissionDenied => SourceError::AccessDenied {
                    location,
                    detail: error.to_string(),
                },
                _ => SourceError::Failed {
                    location,
                    detail: error.to_string(),
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::testing::{ALLOW_ALICE, block_on};

    #[test]
    fn a_single_file_answers_every_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, ALLOW_ALICE).expect("write policy");
        let source = FileSource::file(&path);
        for key in ["prod", "dev"] {
            let loaded = block_on(source.load(key)).expect("policy loads");
            assert_eq!(&*loaded.origin, format!("file:{}", path.display()));
            assert_eq!(loaded.policy.rules(), 1);
        }
    }

    #[test]
    fn a_directory_answers_each_profile_with_its_own_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("prod.yaml"), ALLOW_ALICE).expect("write policy");
        let source = FileSource::directory(dir.path());
        let loaded = block_on(source.load("prod")).expect("policy loads");
        assert!(loaded.origin.ends_with("prod.yaml"));
        let missing = block_on(source.load("dev")).expect_err("no dev.yaml");
        assert!(matches!(missing, SourceError::NotFound { .. }), "{missing}");
        assert!(missing.to_string().contains("dev.yaml"), "{missing}");
    }

    #[test]
    fn a_directory_refuses_keys_that_leave_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let source = FileSource::directory(dir.path());
        for key in ["../etc/passwd", "a/b", ".hidden", "", "a b"] {
            let error = block_on(source.load(key)).expect_err("refused");
            assert!(
                matches!(error, SourceError::InvalidKey { .. }),
                "{key}: {error}"
            );
        }
    }

    #[test]
    fn an_invalid_file_is_an_error_with_its_diagnostics() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.yaml");
        std::fs::write(
            &path,
            "version: \"1\"\nrules:\n  - name: x\n    effect: maybe\n",
        )
        .expect("write policy");
        let error = block_on(FileSource::file(&path).load("prod")).expect_err("invalid");
        let SourceError::Invalid { diagnostics, .. } = &error else {
            panic!("expected Invalid, got {error}");
        };
        assert_eq!(diagnostics.iter().next().map(|d| d.line), Some(4));
        assert!(error.to_string().contains("bad.yaml"), "{error}");
    }
}
