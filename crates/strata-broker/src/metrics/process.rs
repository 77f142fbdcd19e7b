//! Process and filesystem figures for `/metrics`, read from `/proc` and `statvfs` (Linux).
//! A figure that cannot be read is left out, never guessed.

use std::path::Path;

use super::snapshot::{Dir, Process};

/// The broker process now; `None` where `/proc` is not there.
pub fn read_process() -> Option<Process> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let ticks = clock_ticks()?;
    let fields = stat_fields(&stat)?;
    // Fields after the command (counted from 3, as proc(5) numbers them): utime 14,
    // stime 15, starttime 22.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let cpu_seconds = (field(14)? + field(15)?) as f64 / ticks;
    let started_ticks = field(22)?;
    let start_time_seconds = boot_time().map_or(0.0, |boot| boot + started_ticks as f64 / ticks);
    let kb = |key: &str| status_value(&status, key).map(|v| v * 1024);
    Some(Process {
        cpu_seconds,
        resident_bytes: kb("VmRSS:").unwrap_or(0),
        virtual_bytes: kb("VmSize:").unwrap_or(0),
        threads: status_value(&status, "Threads:").unwrap_or(0),
        open_fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64),
        max_fds: max_fds().unwrap_or(0),
        start_time_seconds,
    })
}

/// The fields of `/proc/self/stat` after the command name (which may hold spaces and
/// parentheses: it ends at the last `)`).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let after = &stat[stat.rfind(')')? + 1..];
    Some(after.split_whitespace().collect())
}

/// A `Key:   value kB` line's number.
fn status_value(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn clock_ticks() -> Option<f64> {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (t > 0).then_some(t as f64)
}

/// Boot time, seconds since the epoch (`btime` of `/proc/stat`).
fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    status_value(&stat, "btime").map(|b| b as f64)
}

fn max_fds() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0).then_some(lim.rlim_cur)
}

/// The filesystem holding `dir`: bytes available to an unprivileged writer, and its
/// size. `None` when it cannot be asked.
pub fn read_dir_space(dir: &Path) -> Option<Dir> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: zeroed is a valid statvfs; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    let block = st.f_frsize as u64;
    Some(Dir {
        dir: dir.display().to_string(),
        free_bytes: st.f_bavail as u64 * block,
        capacity_bytes: st.f_blocks as u64 * block,
        offline: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read() {
        let p = read_process().expect("/proc");
        assert!(p.resident_bytes > 0 && p.open_fds > 0 && p.max_fds >= p.open_fds);
        assert!(p.threads >= 1 && p.start_time_seconds > 1.6e9);
        let d = read_dir_space(Path::new("/")).expect("statvfs");
        assert!(d.capacity_bytes >= d.free_bytes && d.capacity_bytes > 0);
    }

    #[test]
    fn a_command_with_parentheses_does_not_shift_the_fields() {
        let stat = "42 (a) b) S 1 2 3";
        assert_eq!(stat_fields(stat).unwrap(), vec!["S", "1", "2", "3"]);
    }
}
