//! Bounded reads, 0600 writes and permission checks for PEM files.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::IdentityError;

/// Largest certificate or key file read. A P-256 certificate is about 0.6 KiB and its key 0.25
/// KiB in PEM; 64 KiB leaves room for long names and chains while bounding what a wrong path
/// (a log file, a device) can make us read.
pub const MAX_PEM_FILE_BYTES: u64 = 64 * 1024;

/// Permission bits for group and others; any of them set on a key file is refused.
const GROUP_OTHER_BITS: u32 = 0o077;

fn io_err(path: &Path, source: io::Error) -> IdentityError {
    IdentityError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (and parents) with mode 0700 when missing; an existing directory is left as is.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), IdentityError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_err(dir, e))
}

/// Whether the file may be written: a file already there is an error, never overwritten.
pub(crate) fn refuse_existing(path: &Path) -> Result<(), IdentityError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Err(IdentityError::AlreadyExists {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path, e)),
    }
}

/// Writes a new file with `mode` (0600 for keys, 0644 for certificates). `create_new` means the
/// mode is applied at creation, so a key is never readable by others even for a moment.
pub(crate) fn write_new(path: &Path, contents: &str, mode: u32) -> Result<(), IdentityError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                IdentityError::AlreadyExists {
                    path: path.to_path_buf(),
                }
            } else {
                io_err(path, e)
            }
        })?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err(path, e))
}

/// Reads a whole PEM file of at most [`MAX_PEM_FILE_BYTES`] as UTF-8.
pub(crate) fn read_pem(path: &Path) -> Result<String, IdentityError> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    read_bounded(path, file)
}

/// Reads a private key file after checking that group and others have no access to it.
pub(crate) fn read_key_pem(path: &Path) -> Result<String, IdentityError> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    // Checked on the open handle, so the file read is the file checked.
    let mode = file
        .metadata()
        .map_err(|e| io_err(path, e))?
        .permissions()
        .mode()
        & 0o7777;
    if mode & GROUP_OTHER_BITS != 0 {
        return Err(IdentityError::KeyPermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    read_bounded(path, file)
}

fn read_bounded(path: &Path, file: File) -> Result<String, IdentityError> {
    let mut bytes = Vec::new();
    file.take(MAX_PEM_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(path, e))?;
    if bytes.len() as u64 > MAX_PEM_FILE_BYTES {
        return Err(IdentityError::FileTooLarge {
            path: path.to_path_buf(),
            max: MAX_PEM_FILE_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|_| IdentityError::Pem {
        path: path.to_path_buf(),
        reason: "not UTF-8 text".to_owned(),
    })
}

/// `dir/name` as an owned path.
pub(crate) fn join(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
