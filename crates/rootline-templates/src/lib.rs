//! Streaming log template miner (Drain family) with Loghub-2.0 style evaluation.
//!
//! # Algorithm
//!
//! 1. **Tokenize** (`token`): a line (first 16 KiB, first 256 words) is cut into *words*
//!    separated by whitespace and the punctuation that surrounds values (`, ; : = | " ' ( ) [ ]
//!    { } !`). Separators are kept, whitespace collapsed, so template text reproduces `uid=<*>`,
//!    `[<*>]`, `<*>:<*>`. `.`, `-`, `_`, `/`, `@` stay inside words: an IP, host name, path or
//!    id is one word. A few shapes are recognised whole: MAC addresses, `scheme://...` URLs,
//!    paths with a query string, comma-joined IPv4 lists, and an empty `()`/`[]` after a space
//!    becomes an empty value slot.
//! 2. **Classify**: a word with digits (except a short name with one trailing digit such as
//!    `ssh2`, `eth1`), an absolute path, `true`/`false`/`null`/`root`/`admin`, and month or
//!    weekday names inside dates are variables up front. Every other word is *plain*: a
//!    possible constant.
//! 3. **Match**: lines are grouped by *signature* = word count + the exact separator sequence
//!    (hash map, O(1)). Inside a group a line joins the most similar template (share of the
//!    template's constant words it repeats, threshold 0.5, ties to the bigger template) provided
//!    no *plain* word of the template conflicts with a plain word of the line. Conflicts on
//!    variable-looking words (digits, units like `KB`/`B`) just turn that position into `<*>`;
//!    the template keeps its id.
//! 4. **Variant merging** (token-value evidence instead of a similarity threshold): a line that
//!    conflicts on plain words creates a new template (inheriting its nearest neighbour's
//!    variables). Every template is filed, for each plain word p, in the bucket "same signature,
//!    same words except p". When a bucket holds `merge_after_variants` (5) templates, p is a
//!    variable: the templates are merged into the oldest (its id survives, the others become
//!    aliases that [`TemplateMiner::resolve`] and [`TemplateMiner::get`] follow). A handful of
//!    words in one slot is an enum of event kinds (`VM Started` / `VM Paused`); many is a value.
//!    After the nouns `user`, `host`, `node`, ... two values suffice; the first word of a line
//!    only generalises when identifier-shaped (contains `.`, `-`, `_`, `/`, `@`).
//! 5. **Render**: variables print as `<*>`, keeping a constant head such as `core.<*>` or
//!    `node-<*>`; `<*>.<*>` and `<*><*>` collapse to `<*>` as Loghub-2.0 templates do.
//!
//! Templates are per service and capped (`max_templates_per_service`); lines that would create
//! more go to one counted overflow template per service. Ids are allocated from a counter that
//! is persisted in [`MinerSnapshot`], so they are never reused or renumbered.
//!
//! ```
//! use rootline_templates::{MinerConfig, TemplateMiner};
//! let mut m = TemplateMiner::new(MinerConfig::default());
//! let a = m.add("sshd", "Failed password for root from 5.36.59.76 port 42393 ssh2");
//! let b = m.add("sshd", "Failed password for root from 112.95.230.3 port 45378 ssh2");
//! assert_eq!(a.id, b.id);
//! assert_eq!(m.get(a.id).unwrap().text(), "Failed password for <*> from <*> port <*> ssh2");
//! assert_eq!(b.variables, ["root", "112.95.230.3", "45378"]);
//! ```
//!
//! The library does no IO except in [`loghub`], the evaluation-directory reader.

pub mod eval;
pub mod loghub;
mod miner;
mod token;

pub use eval::{Metrics, evaluate};
pub use miner::{
    MatchResult, MinerConfig, MinerSnapshot, OVERFLOW_TEXT, Template, TemplateId, TemplateMiner,
    TemplateSnapshot, WILDCARD,
};
