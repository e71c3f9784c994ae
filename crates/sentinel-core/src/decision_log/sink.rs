//! Where the log's lines go: a regular file opened for appending, or standard output.
//!
//! Only a regular file keeps what is written to it, so anything else at the path (`/dev/null`,
//! a pipe, a directory) is refused. A file that is renamed or deleted while Sentinel runs
//! (logrotate) is noticed on the next line, by its device and inode no longer being what the
//! path names, and reopened at the path. A line goes out in one `write` call: a write that
//! takes only part of it is a failure, never continued by a second write that could land after
//! another process's line.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::LogError;

/// Which file a path named when it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    fn of(metadata: &Metadata) -> FileId {
        FileId {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

/// The open destination of the log.
#[derive(Debug)]
pub(super) struct Sink {
    file: Arc<File>,
    /// The path and the file it named when opened; `None` for standard output, which is never
    /// reopened or synced.
    at: Option<(PathBuf, FileId)>,
}

impl Sink {
    /// Opens (creating with mode 0600, and its directory with 0700) the regular file at `path`.
    pub(super) fn open(path: &Path) -> Result<Sink, LogError> {
        let (file, id) = open_regular(path)?;
        Ok(Sink {
            file: Arc::new(file),
            at: Some((path.to_owned(), id)),
        })
    }

    /// Standard output (a copy of its descriptor), for platforms that collect it.
    pub(super) fn stdout() -> Result<Sink, LogError> {
        let fd = io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|cause| LogError::Open {
                path: PathBuf::from("-"),
                cause,
            })?;
        Ok(Sink {
            file: Arc::new(File::from(fd)),
            at: None,
        })
    }

    /// The file lines are written to now.
    pub(super) fn file(&self) -> &Arc<File> {
        &self.file
    }

    /// Whether lines written here can be made durable (a file, not standard output).
    pub(super) fn syncs(&self) -> bool {
        self.at.is_some()
    }

    /// Reopens the file at its path if the path no longer names the open file (it was renamed
    /// or deleted); says whether it did. Lines already written stay in the old file, whose
    /// pending syncs still complete on it.
    pub(super) fn follow_rotation(&mut self) -> Result<bool, LogError> {
        let Some((path, id)) = &self.at else {
            return Ok(false);
        };
        match std::fs::metadata(path) {
            Ok(metadata) if FileId::of(&metadata) == *id => return Ok(false),
            Ok(_) => {}
            Err(cause) if cause.kind() == ErrorKind::NotFound => {}
            Err(cause) => {
                return Err(LogError::Open {
                    path: path.clone(),
                    cause,
                });
            }
        }
        let path = path.clone();
        let (file, id) = open_regular(&path)?;
        self.file = Arc::new(file);
        self.at = Some((path, id));
        Ok(true)
    }

    /// Writes `line` with one `write` call; a write that takes less is an error.
    pub(super) fn write_line(&self, line: &[u8]) -> io::Result<()> {
        write_whole(&self.file, line)
    }
}

/// Writes `line` to `file` in one `write` call (retried only if interrupted before writing
/// anything). A short write ends the fragment with a line break, best effort, so that no later
/// line is glued to it, and is an error.
fn write_whole(mut file: &File, line: &[u8]) -> io::Result<()> {
    loop {
        match file.write(line) {
            Ok(written) if written == line.len() => return Ok(()),
            Ok(written) => {
                if written > 0 {
                    let _ = file.write(b"\n");
                }
                return Err(io::Error::new(
                    ErrorKind::WriteZero,
                    format!("only {written} of {} bytes were written", line.len()),
                ));
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Opens the regular file at `path` for appending, creating it (and its directory) if absent.
fn open_regular(path: &Path) -> Result<(File, FileId), LogError> {
    let open_error = |cause| LogError::Open {
        path: path.to_owned(),
        cause,
    };
    let created = match std::fs::metadata(path) {
        Ok(metadata) => {
            refuse_non_file(path, &metadata)?;
            false
        }
        Err(cause) if cause.kind() == ErrorKind::NotFound => {
            if let Some(dir) = parent(path) {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(open_error)?;
            }
            true
        }
        Err(cause) => return Err(open_error(cause)),
    };
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        // Should a pipe appear at the path after the check, opening it must not wait for a
        // reader; on a regular file the flag changes nothing.
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(open_error)?;
    let metadata = file.metadata().map_err(open_error)?;
    refuse_non_file(path, &metadata)?;
    if created {
        // The new file's name must be as durable as the lines synced into it.
        if let Some(dir) = parent(path) {
            File::open(dir)
                .and_then(|dir| dir.sync_all())
                .map_err(open_error)?;
        }
    }
    Ok((file, FileId::of(&metadata)))
}

/// The directory `path` is in (`.` for a bare file name).
fn parent(path: &Path) -> Option<&Path> {
    match path.parent() {
        Some(dir) if dir.as_os_str().is_empty() => Some(Path::new(".")),
        other => other,
    }
}

fn refuse_non_file(path: &Path, metadata: &Metadata) -> Result<(), LogError> {
    let file_type = metadata.file_type();
    let kind = if file_type.is_file() {
        return Ok(());
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_char_device() {
        "a character device (such as /dev/null)"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_fifo() {
        "a named pipe"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(LogError::NotAFile {
        path: path.to_owned(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    #[test]
    #[allow(unsafe_code)]
    fn a_short_write_is_an_error_and_is_not_continued() {
        let (mut reader, writer) = io::pipe().expect("pipe");
        // SAFETY: F_SETFL on a descriptor this test owns.
        let flags = unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_GETFL) };
        assert!(flags >= 0);
        // SAFETY: as above.
        let set =
            unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) };
        assert_eq!(set, 0);
        let file = File::from(std::os::fd::OwnedFd::from(writer));
        // Fill the pipe, then free one page: a longer line can only be written in part.
        let page = [b'x'; 4096];
        while (&file).write(&page).is_ok() {}
        let mut freed = [0u8; 4096];
        reader.read_exact(&mut freed).expect("read a page");
        let line = vec![b'y'; 3 * 4096];
        let error = write_whole(&file, &line).expect_err("a short write");
        assert_eq!(error.kind(), ErrorKind::WriteZero);
        assert!(
            error
                .to_string()
                .contains(&format!("of {} bytes were written", line.len())),
            "{error}"
        );
        // What arrived is a fragment of the line, ended by at most one line break.
        drop(file);
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).expect("read the rest");
        let fragment = &rest[rest.iter().position(|&b| b == b'y').expect("a fragment")..];
        let ys = fragment.iter().filter(|&&b| b == b'y').count();
        assert!(ys > 0 && ys < line.len(), "{ys} bytes of the line arrived");
        assert!(fragment.iter().all(|&b| b == b'y' || b == b'\n'));
    }
}
