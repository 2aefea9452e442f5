//! The on-disk side of the routing recorder: appends [`RecordedRound`]s as JSON lines and
//! rotates the file to `<file>.1` when it reaches its size bound, so at most two files exist.
//!
//! Not yet driven: the route actor that computes candidates each probe round will own a
//! `Recorder` and hand its output here when `edge.ml_record` is set (docs/routing.md).

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use lightspeed_actors::routing::ml::RecordedRound;

/// An open recording.
#[derive(Debug)]
pub struct RecordFile {
    path: PathBuf,
    max_bytes: u64,
    file: File,
    len: u64,
}

impl RecordFile {
    /// Opens (appending to) `path`, rotating at `max_bytes`.
    ///
    /// # Errors
    /// The file cannot be opened or its size read.
    pub fn open(path: &Path, max_bytes: u64) -> io::Result<RecordFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(RecordFile {
            path: path.to_path_buf(),
            max_bytes,
            file,
            len,
        })
    }

    /// Appends `rounds`, one line each, rotating first when the file has reached its bound.
    ///
    /// # Errors
    /// Writing or rotating failed.
    pub fn append(&mut self, rounds: &[RecordedRound]) -> io::Result<()> {
        for r in rounds {
            if self.len >= self.max_bytes {
                self.rotate()?;
            }
            let mut line = serde_json::to_vec(r).map_err(io::Error::other)?;
            line.push(b'\n');
            self.file.write_all(&line)?;
            self.len += line.len() as u64;
        }
        Ok(())
    }

    /// Bytes in the current file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the current file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn rotate(&mut self) -> io::Result<()> {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, &old)?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.len = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(at_us: u64) -> RecordedRound {
        RecordedRound {
            v: 1,
            features_v: 1,
            at_us,
            window_us: 1,
            candidates: Vec::new(),
        }
    }

    #[test]
    fn appends_lines_and_rotates_at_the_bound() {
        let dir = std::env::temp_dir().join(format!("ls-record-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rounds.jsonl");
        let line = serde_json::to_string(&round(1)).unwrap().len() as u64 + 1;
        let mut f = RecordFile::open(&path, 2 * line).unwrap();
        assert!(f.is_empty());
        f.append(&[round(1), round(2)]).unwrap();
        assert_eq!(f.len(), 2 * line);
        f.append(&[round(3)]).unwrap();
        assert_eq!(f.len(), line);
        let old = std::fs::read_to_string(dir.join("rounds.jsonl.1")).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        assert_eq!(old.lines().count(), 2);
        let back: RecordedRound = serde_json::from_str(new.trim()).unwrap();
        assert_eq!(back, round(3));
        // Reopening continues the file where it was.
        assert_eq!(RecordFile::open(&path, 2 * line).unwrap().len(), line);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
