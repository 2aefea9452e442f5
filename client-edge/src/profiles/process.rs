//! Matching process names against profiles, and the thin OS shell that lists processes.
//!
//! Detection itself is pure (it takes the list); only [`running_process_names`] touches the OS,
//! and it only reads names: opening a handle to a protected game is exactly what anti-cheats
//! flag (see [`ACCELERATOR_RULES`](super::ACCELERATOR_RULES)).

/// Linux keeps a process's `comm` to 15 bytes (`TASK_COMM_LEN` minus the NUL), so a long
/// executable name shows up truncated there.
const COMM_LEN: usize = 15;

/// Whether a name from the process list is the executable `known`.
///
/// Case-insensitive (Windows file names are), and a 15-byte name matches a longer `known` by
/// prefix so a truncated Linux `comm` (`FortniteClient-`) still counts.
pub(super) fn name_matches(candidate: &str, known: &str) -> bool {
    if candidate.eq_ignore_ascii_case(known) {
        return true;
    }
    candidate.len() == COMM_LEN
        && known.len() > COMM_LEN
        && known
            .as_bytes()
            .get(..COMM_LEN)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(candidate.as_bytes()))
}

/// The last path component of `path`, splitting on both `/` and `\` because Wine/Proton
/// processes carry Windows paths (`Z:\...\cs2.exe`) in their command line.
pub(super) fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// How many processes [`running_process_names`] reads at most. A desktop runs a few hundred;
/// the bound keeps a pathological system from making detection slow or large.
pub const MAX_PROCESSES: usize = 8192;

/// How many bytes of one `/proc/<pid>/cmdline` are read: enough for any executable path, and
/// a process with a huge argument list costs no more than this.
#[cfg(target_os = "linux")]
const MAX_CMDLINE: u64 = 4096;

/// Names of the running processes, for [`detect_by_process`](super::detect_by_process).
///
/// On Linux this reads `/proc/<pid>/comm` and the base name of `argv[0]` from
/// `/proc/<pid>/cmdline` (which carries the full `.exe` name of Proton games), for at most
/// [`MAX_PROCESSES`] processes. Processes that vanish or deny access are skipped. On other
/// systems it returns an empty list (the Windows listing belongs to the Windows build, which
/// cannot be tested here). Never panics.
pub fn running_process_names() -> Vec<String> {
    #[cfg(target_os = "linux")]
    {
        linux::list()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Vec::new()
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::{MAX_CMDLINE, MAX_PROCESSES, base_name};
    use std::fs;
    use std::io::Read;
    use std::path::Path;

    pub(super) fn list() -> Vec<String> {
        let Ok(dir) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut names = Vec::new();
        let pids = dir
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_str().is_some_and(is_pid))
            .take(MAX_PROCESSES);
        for entry in pids {
            let path = entry.path();
            if let Some(comm) = read_comm(&path) {
                names.push(comm);
            }
            if let Some(exe) = read_argv0(&path) {
                names.push(exe);
            }
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    fn is_pid(name: &str) -> bool {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
    }

    fn read_comm(proc_dir: &Path) -> Option<String> {
        let raw = read_bounded(&proc_dir.join("comm"))?;
        let text = String::from_utf8_lossy(&raw);
        let name = text.trim_end_matches('\n');
        (!name.is_empty()).then(|| name.to_owned())
    }

    fn read_argv0(proc_dir: &Path) -> Option<String> {
        let raw = read_bounded(&proc_dir.join("cmdline"))?;
        let argv0 = raw.split(|&b| b == 0).next()?;
        let text = String::from_utf8_lossy(argv0);
        let name = base_name(&text);
        (!name.is_empty()).then(|| name.to_owned())
    }

    fn read_bounded(path: &Path) -> Option<Vec<u8>> {
        let file = fs::File::open(path).ok()?;
        let mut buf = Vec::new();
        file.take(MAX_CMDLINE).read_to_end(&mut buf).ok()?;
        Some(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_ignores_case_and_accepts_truncated_comm() {
        assert!(name_matches("cs2.EXE", "cs2.exe"));
        assert!(name_matches(
            "FortniteClient-",
            "FortniteClient-Win64-Shipping.exe"
        ));
        assert!(name_matches(
            "fortniteclient-",
            "FortniteClient-Win64-Shipping.exe"
        ));
        // Short prefixes are not truncations: "cs" must not match "cs2".
        assert!(!name_matches("cs", "cs2"));
        assert!(!name_matches(
            "FortniteClient",
            "FortniteClient-Win64-Shipping.exe"
        ));
        // A 15-byte name does not match a known name of the same length by prefix.
        assert!(!name_matches("abcdefghijklmno", "abcdefghijklmnp"));
    }

    #[test]
    fn base_name_handles_unix_and_windows_paths() {
        assert_eq!(base_name("/home/p/.steam/cs2"), "cs2");
        assert_eq!(
            base_name("Z:\\games\\Overwatch\\Overwatch.exe"),
            "Overwatch.exe"
        );
        assert_eq!(base_name("dota2"), "dota2");
        assert_eq!(base_name("dir/"), "");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn listing_this_system_finds_the_test_process_itself() {
        let names = running_process_names();
        assert!(!names.is_empty());
        assert!(names.len() <= 2 * MAX_PROCESSES);
        // The test binary's own comm is a prefix of its file name (at most 15 bytes).
        let me = std::env::current_exe().expect("test binary path");
        let me = me.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
        assert!(
            names.iter().any(|n| me.starts_with(n.as_str())),
            "{me} not in list"
        );
    }
}
