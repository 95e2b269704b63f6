//! Multi-line records: which lines continue the record before them rather than start one.
//!
//! - indented lines (Java `\tat ...`, Python frames, Go frames' file lines);
//! - Java `Caused by: ...`, `Suppressed: ...`, `... 12 more`, `Exception in thread ...`, and an
//!   exception header such as `java.lang.IllegalStateException: boom` right after a record;
//! - Python `Traceback (most recent call last):` opens a block that ends with the exception line
//!   (`ValueError: ...`), chained tracebacks included;
//! - Go `panic: ...` / `fatal error: ...` / `goroutine 1 [running]:` open a block that lasts
//!   until a line with its own timestamp.

/// A multi-line block in progress: lines without a timestamp of their own belong to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Python,
    Go,
}

/// What a line means for the record before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuation {
    /// Not a continuation by its looks; it may still join an open block.
    No,
    /// Joins the previous record.
    Join,
    /// Joins the previous record and opens a block.
    Start(Block),
}

pub fn classify(line: &str) -> Continuation {
    let Some(&first) = line.as_bytes().first() else {
        return Continuation::No;
    };
    if first == b' ' || first == b'\t' {
        return Continuation::Join;
    }
    // Every marker below starts with a letter or `.`; JSON, digits and brackets never continue.
    if !(first.is_ascii_alphabetic() || first == b'.') {
        return Continuation::No;
    }
    let line = line.trim_end();
    if line.starts_with("Caused by: ")
        || line.starts_with("Suppressed: ")
        || line.starts_with("Exception in thread ")
        || (line.starts_with("... ") && line.ends_with(" more"))
    {
        return Continuation::Join;
    }
    if line == "Traceback (most recent call last):"
        || line.starts_with("During handling of the above exception")
        || line.starts_with("The above exception was the direct cause")
    {
        return Continuation::Start(Block::Python);
    }
    if line.starts_with("panic: ")
        || line.starts_with("fatal error: ")
        || (line.starts_with("goroutine ") && line.ends_with("]:"))
    {
        return Continuation::Start(Block::Go);
    }
    if is_java_exception_header(line) {
        return Continuation::Join;
    }
    Continuation::No
}

/// `java.lang.IllegalStateException: boom`, `com.x.y.FooError`: a dotted class name whose last
/// part ends in Exception/Error/Throwable, alone or before `: message`.
fn is_java_exception_header(line: &str) -> bool {
    // The class name ends at the first space or `:`.
    let end = line.find([' ', ':']).unwrap_or(line.len());
    if line[end..].starts_with(' ') {
        return false;
    }
    let name = &line[..end];
    if name.len() > 200 || !name.contains('.') {
        return false;
    }
    let ok_chars = name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'$'));
    let last = name.rsplit('.').next().unwrap_or("");
    ok_chars
        && name.split('.').all(|s| !s.is_empty())
        && (last.ends_with("Exception") || last.ends_with("Error") || last.ends_with("Throwable"))
}

/// Whether a joined line ends a Python block: the exception line is the first one after the
/// frames that is neither indented nor a traceback marker.
pub fn ends_python_block(line: &str) -> bool {
    !line.starts_with([' ', '\t']) && classify(line) == Continuation::No
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_stack_trace_lines() {
        assert_eq!(
            classify("\tat com.x.Foo.bar(Foo.java:1)"),
            Continuation::Join
        );
        assert_eq!(
            classify("Caused by: java.io.IOException: x"),
            Continuation::Join
        );
        assert_eq!(classify("... 12 more"), Continuation::Join);
        assert_eq!(
            classify("java.lang.IllegalStateException: boom"),
            Continuation::Join
        );
        assert_eq!(
            classify("Traceback (most recent call last):"),
            Continuation::Start(Block::Python)
        );
        assert_eq!(
            classify("panic: runtime error: index out of range"),
            Continuation::Start(Block::Go)
        );
        assert_eq!(
            classify("goroutine 1 [running]:"),
            Continuation::Start(Block::Go)
        );
        assert_eq!(classify("2023-01-29 08:42:22 INFO x"), Continuation::No);
        assert_eq!(classify("ValueError: bad"), Continuation::No);
        assert_eq!(classify("see docs.example.com: Error"), Continuation::No);
        assert!(ends_python_block("ValueError: bad"));
    }
}
