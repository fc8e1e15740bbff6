//! Where the child's raw report goes, and how the parent reads it back, with no name anyone
//! else can plant, redirect or read.
//!
//! The parent ([`ReportFile`]) makes an unnamed temporary file (`tempfile::tempfile`: an
//! `O_TMPFILE` inode, or a random name created `O_EXCL` and unlinked at once) and hands its
//! descriptor to the child, which inherits it across `exec` and is told of it by
//! [`ENV_REPORT_FD`] as `FD:DEV:INODE`. The child ([`open_report`]) writes there only if
//! that descriptor is still the same file; it then marks the descriptor close-on-exec, so the
//! child's own children never inherit it. A user running the allocator alone can name a file
//! with [`ENV_REPORT`]: it is created new (`O_CREAT | O_EXCL | O_NOFOLLOW`), so an existing
//! file or a symlink planted at that path is neither written nor followed, and the report
//! goes to standard error instead. Standard error is also the fallback when neither is set.

use super::config::{parse_u64, ENV_REPORT, ENV_REPORT_FD};

/// The parent's end: the file the child writes its report to.
pub(crate) struct ReportFile {
    file: std::fs::File,
}

/// The most the parent reads of a report file: a report is at most `REPORT_BYTES` long, and
/// a child that writes more into the descriptor gets its first bytes read, never all of it.
const READ_LIMIT: u64 = 64 * 1024;

impl ReportFile {
    pub(crate) fn new() -> std::io::Result<ReportFile> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let file = tempfile::tempfile()?;
        if file.as_raw_fd() > libc::STDERR_FILENO {
            return Ok(ReportFile { file });
        }
        // A parent that runs with a standard stream closed gets the file on fd 0, 1 or 2,
        // where the child's own stdio is about to go: move it above them.
        // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor (or fails, checked); the new one is
        // owned by nobody else, so `File` may take it.
        let fd = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD_CLOEXEC, libc::STDERR_FILENO + 1) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: see above.
        Ok(ReportFile { file: unsafe { std::fs::File::from_raw_fd(fd) } })
    }

    /// The descriptor the child must inherit.
    pub(crate) fn fd(&self) -> i32 {
        std::os::fd::AsRawFd::as_raw_fd(&self.file)
    }

    /// The value of [`ENV_REPORT_FD`] for the child.
    pub(crate) fn env_value(&self) -> std::io::Result<String> {
        use std::os::unix::fs::MetadataExt;
        let meta = self.file.metadata()?;
        Ok(format!("{}:{}:{}", self.fd(), meta.dev(), meta.ino()))
    }

    /// What the child wrote, from the start of the file, at most [`READ_LIMIT`] bytes.
    pub(crate) fn read(&self) -> std::io::Result<String> {
        use std::io::{Read, Seek};
        let mut bytes = Vec::new();
        // The child wrote through its copy of the descriptor, which shares this one's offset.
        let mut file = &self.file;
        file.rewind()?;
        file.take(READ_LIMIT).read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The descriptor the child writes its report to: the inherited one named by
/// [`ENV_REPORT_FD`] if it is still that file, else a new file at [`ENV_REPORT`], else
/// standard error. Allocation-free (it runs inside the allocator, when the pool is mapped).
pub(crate) fn open_report() -> i32 {
    inherited().or_else(created).unwrap_or(libc::STDERR_FILENO)
}

/// `FD:DEV:INODE`, as [`ReportFile::env_value`] writes it.
pub(crate) fn parse_fd_value(value: &[u8]) -> Option<(i32, u64, u64)> {
    let mut fields = value.split(|&b| b == b':');
    let fd = i32::try_from(parse_u64(fields.next()?)?).ok()?;
    let dev = parse_u64(fields.next()?)?;
    let ino = parse_u64(fields.next()?)?;
    (fields.next().is_none() && fd > libc::STDERR_FILENO).then_some((fd, dev, ino))
}

fn inherited() -> Option<i32> {
    let (fd, dev, ino) = parse_fd_value(super::getenv(ENV_REPORT_FD)?)?;
    // SAFETY: fstat and fcntl only read and set the state of a descriptor number, which is
    // harmless whether or not it is open; `st` is plain data fstat fills in.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0
            || st.st_mode & libc::S_IFMT != libc::S_IFREG
            || st.st_dev != dev
            || st.st_ino != ino
        {
            return None;
        }
        let access = libc::fcntl(fd, libc::F_GETFL) & libc::O_ACCMODE;
        if access != libc::O_WRONLY && access != libc::O_RDWR {
            return None;
        }
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    Some(fd)
}

fn created() -> Option<i32> {
    let key = b"LOCKHOUND_GUARD_REPORT\0";
    debug_assert_eq!(&key[..key.len() - 1], ENV_REPORT.as_bytes());
    // SAFETY: the key is NUL-terminated; a non-null result is a NUL-terminated string in the
    // environment block that `open` only reads.
    unsafe {
        let path = libc::getenv(key.as_ptr().cast());
        if path.is_null() || *path == 0 {
            return None;
        }
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let fd = libc::open(path, flags, 0o600 as libc::c_uint);
        (fd >= 0).then_some(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_values_parse_only_whole() {
        assert_eq!(parse_fd_value(b"7:2049:1234567"), Some((7, 2049, 1_234_567)));
        assert_eq!(parse_fd_value(b"7:2049"), None);
        assert_eq!(parse_fd_value(b"7:2049:12:9"), None);
        assert_eq!(parse_fd_value(b"2:1:1"), None, "never a standard stream");
        assert_eq!(parse_fd_value(b"4294967296:1:1"), None);
        assert_eq!(parse_fd_value(b"x:1:1"), None);
        assert_eq!(parse_fd_value(b""), None);
    }

    #[test]
    #[cfg_attr(miri, ignore)] // a real temporary file
    fn a_report_file_names_itself_and_reads_back_bounded() {
        use std::io::Write;
        let report = ReportFile::new().unwrap();
        let (fd, dev, ino) = parse_fd_value(report.env_value().unwrap().as_bytes()).unwrap();
        assert_eq!(fd, report.fd());
        assert!(dev != 0 || ino != 0);
        let mut writer = report.file.try_clone().unwrap();
        let line = [b'x'; 1000];
        for _ in 0..100 {
            writer.write_all(&line).unwrap();
        }
        assert_eq!(report.read().unwrap().len() as u64, READ_LIMIT, "100 KB written, 64 KiB read");
    }
}
