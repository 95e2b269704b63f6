//! The streaming template miner.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::token::{Token, tokenize, truncate_bytes, var_prefix};

/// Placeholder for a variable part in template text (Loghub-2.0 convention).
pub const WILDCARD: &str = "<*>";

/// Text of the per-service overflow template.
pub const OVERFLOW_TEXT: &str = "<overflow>";

/// Stable template identifier: allocated once, never reused or renumbered, persisted in snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TemplateId(pub u64);

impl std::fmt::Display for TemplateId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Tuning knobs. [`MinerConfig::default`] is the one configuration used for every Loghub system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MinerConfig {
    /// Minimum share of a template's constant words a line must repeat to join it.
    pub similarity_threshold: f64,
    /// Words considered per line; the rest of a longer line is one trailing variable.
    pub max_tokens: usize,
    /// Bytes considered per line (cut on a char boundary).
    pub max_line_bytes: usize,
    /// Templates per service; unmatched lines beyond this go to the service's overflow template.
    pub max_templates_per_service: usize,
    /// Templates that differ in one plain word only are merged (that word becomes `<*>`) once
    /// this many distinct words were seen there: a few values are an enum of event kinds
    /// (`VM Started` / `VM Paused`), many values are a variable (user and host names).
    pub merge_after_variants: usize,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            similarity_threshold: 0.5,
            max_tokens: 256,
            max_line_bytes: 16 * 1024,
            max_templates_per_service: 5000,
            merge_after_variants: 5,
        }
    }
}

/// A mined template.
#[derive(Debug, Clone)]
pub struct Template {
    id: TemplateId,
    service: String,
    text: String,
    count: u64,
    /// `None` marks a variable word.
    words: Vec<Option<Box<str>>>,
    /// `words.len() + 1` separators: before each word, then the tail.
    seps: Vec<Box<str>>,
    /// Constant prefix kept in front of a variable (`core.<*>`, `node-<*>`); same length as
    /// `words`, only meaningful where the word is `None`.
    prefixes: Vec<Option<Box<str>>>,
    overflow: bool,
    /// Set when merged into another template: index of the survivor.
    merged_into: Option<usize>,
}

impl Template {
    /// Stable id.
    pub fn id(&self) -> TemplateId {
        self.id
    }
    /// Service (log source) the template belongs to.
    pub fn service(&self) -> &str {
        &self.service
    }
    /// Template text with `<*>` for variables.
    pub fn text(&self) -> &str {
        &self.text
    }
    /// Lines assigned so far.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Whether this is the service's overflow bucket (template cap reached).
    pub fn is_overflow(&self) -> bool {
        self.overflow
    }
    /// Number of words the template spans.
    pub fn len(&self) -> usize {
        self.words.len()
    }
    /// True for the template of empty lines (and for overflow buckets).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    fn render(&mut self) {
        let mut s = String::with_capacity(64);
        for (i, (w, sep)) in self.words.iter().zip(&self.seps).enumerate() {
            s.push_str(sep);
            match w {
                Some(w) => s.push_str(w),
                None => {
                    if let Some(Some(p)) = self.prefixes.get(i) {
                        s.push_str(p);
                    }
                    s.push_str(WILDCARD);
                }
            }
        }
        if let Some(tail) = self.seps.last() {
            s.push_str(tail);
        }
        self.text = canonical_text(&s);
    }
}

/// Collapses adjacent variables the way Loghub-2.0 writes templates: `<*>.<*>` and `<*><*>`
/// become one `<*>` (an IP or a version is one variable, not four).
fn canonical_text(s: &str) -> String {
    let mut t = s.trim().to_string();
    for pair in ["<*>.<*>", "<*><*>"] {
        while t.contains(pair) {
            t = t.replace(pair, WILDCARD);
        }
    }
    t
}

/// Result of [`TemplateMiner::add`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchResult {
    /// Template the line was assigned to.
    pub id: TemplateId,
    /// The line's words at the template's variable positions, in order.
    pub variables: Vec<String>,
    /// True when this line created the template.
    pub created: bool,
}

#[derive(Debug, Default, Clone)]
struct ServiceState {
    /// Live templates keyed by separator signature (word count + punctuation).
    groups: HashMap<u64, Vec<usize>>,
    /// "Same template except word p" buckets: key = (signature, p, other words).
    variants: HashMap<u64, Vec<usize>>,
    templates: usize,
    overflow: Option<usize>,
}

/// Streaming log template miner (see the crate docs for the algorithm).
#[derive(Debug, Clone)]
pub struct TemplateMiner {
    config: MinerConfig,
    templates: Vec<Template>,
    by_id: HashMap<TemplateId, usize>,
    services: HashMap<String, ServiceState>,
    next_id: u64,
}

/// Serializable miner state. Save it as JSON; [`TemplateMiner::from_snapshot`] restores ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinerSnapshot {
    /// Snapshot format version.
    pub version: u32,
    /// Configuration in force.
    pub config: MinerConfig,
    /// Next id to allocate (greater than every id ever allocated).
    pub next_id: u64,
    /// All templates, overflow buckets and merged ones included.
    pub templates: Vec<TemplateSnapshot>,
}

/// One template in a [`MinerSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateSnapshot {
    /// Stable id.
    pub id: TemplateId,
    /// Service.
    pub service: String,
    /// Lines seen.
    pub count: u64,
    /// Words; `null` for a variable.
    pub words: Vec<Option<String>>,
    /// Separators (`words.len() + 1`).
    pub seps: Vec<String>,
    /// Constant prefix of each variable word (`null` if none or for constants).
    #[serde(default)]
    pub prefixes: Vec<Option<String>>,
    /// Overflow bucket.
    #[serde(default)]
    pub overflow: bool,
    /// Id of the template this one was merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<TemplateId>,
}

const SNAPSHOT_VERSION: u32 = 1;

use rootline_core::hash::{FNV_OFFSET, fnv1a_from};

fn fnv(h: u64, bytes: &[u8]) -> u64 {
    // Field terminator so that ("ab","c") and ("a","bc") differ.
    fnv1a_from(h, bytes.iter().copied().chain([0xff]))
}

/// Group key: same word count and same punctuation are a precondition to share a template.
fn signature<'a>(seps: impl Iterator<Item = &'a str>) -> u64 {
    seps.fold(FNV_OFFSET, |h, s| fnv(h, s.as_bytes()))
}

/// Key of the bucket "templates of signature `sig` equal to `words` except at `p`".
fn variant_key(sig: u64, words: &[Option<Box<str>>], p: usize) -> u64 {
    let mut h = fnv(sig, &(p as u64).to_le_bytes());
    for (i, w) in words.iter().enumerate() {
        h = match (i == p, w) {
            (true, _) => fnv(h, b"\x01"),
            (false, None) => fnv(h, b"\x00"),
            (false, Some(w)) => fnv(h, w.as_bytes()),
        };
    }
    h
}

/// A plain word that may be an event-kind constant (no digits, not a path): only evidence of
/// many distinct values at its position turns it into a variable.
fn is_plain(w: &str) -> bool {
    !crate::token::is_variable(w)
}

/// Nouns whose following word is almost always a value (a user, host or node name): two
/// distinct words after them are enough to call the position a variable.
const VALUE_NOUNS: &[&str] = &[
    "user", "username", "host", "hostname", "node", "domain", "account", "uid", "gid",
];

fn variant_threshold(words: &[Option<Box<str>>], p: usize, k: usize) -> usize {
    let after_noun = p > 0
        && words[p - 1]
            .as_deref()
            .is_some_and(|w| VALUE_NOUNS.iter().any(|n| w.eq_ignore_ascii_case(n)));
    if after_noun { k.min(2) } else { k }
}

/// Size and time units: `93.0 B` vs `5.2 KB` is one value printed at two scales, not two events.
fn is_unit(w: &str) -> bool {
    const UNITS: &[&str] = &[
        "B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB", "ns", "us", "ms", "s", "sec",
        "min", "h",
    ];
    UNITS.contains(&w)
}

/// How a line compares with a template of the same signature.
#[derive(Debug, Clone, Copy)]
struct Cmp {
    /// Constant words of the template.
    consts: usize,
    /// Constant words equal to the line's word.
    hits: usize,
    /// Mismatches between two plain words (possible different event kinds).
    hard: usize,
}

impl Cmp {
    fn sim(&self) -> f64 {
        if self.consts == 0 {
            1.0
        } else {
            self.hits as f64 / self.consts as f64
        }
    }
}

fn compare(t: &Template, toks: &[Token<'_>]) -> Cmp {
    let mut c = Cmp {
        consts: 0,
        hits: 0,
        hard: 0,
    };
    for (w, tok) in t.words.iter().zip(toks) {
        if let Some(w) = w {
            c.consts += 1;
            if !tok.var && **w == *tok.text {
                c.hits += 1;
            } else if !tok.var && is_plain(w) && !(is_unit(w) && is_unit(tok.text)) {
                c.hard += 1;
            }
        }
    }
    c
}

impl TemplateMiner {
    /// Empty miner.
    pub fn new(config: MinerConfig) -> Self {
        Self {
            config,
            templates: Vec::new(),
            by_id: HashMap::new(),
            services: HashMap::new(),
            next_id: 1,
        }
    }

    /// Configuration in force.
    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// Live templates (overflow buckets included, merged ones excluded), in creation order.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        self.templates.iter().filter(|t| t.merged_into.is_none())
    }

    fn live(&self, mut i: usize) -> usize {
        while let Some(j) = self.templates[i].merged_into {
            i = j;
        }
        i
    }

    /// Current id for `id`: itself, or the template it was merged into. `None` if unknown.
    pub fn resolve(&self, id: TemplateId) -> Option<TemplateId> {
        self.by_id
            .get(&id)
            .map(|&i| self.templates[self.live(i)].id)
    }

    /// Template by id; an id that was merged away yields the template it was merged into.
    pub fn get(&self, id: TemplateId) -> Option<&Template> {
        self.by_id.get(&id).map(|&i| &self.templates[self.live(i)])
    }

    /// Lines that hit the template cap of `service` (assigned to its overflow template).
    pub fn overflow_count(&self, service: &str) -> u64 {
        self.services
            .get(service)
            .and_then(|s| s.overflow)
            .map_or(0, |i| self.templates[i].count)
    }

    fn prepare<'a>(&self, line: &'a str) -> (Vec<Token<'a>>, String, u64) {
        let line = truncate_bytes(line, self.config.max_line_bytes);
        let t = tokenize(line, self.config.max_tokens.max(1));
        let sig = signature(
            t.toks
                .iter()
                .map(|x| x.sep.as_str())
                .chain([t.tail.as_str()]),
        );
        (t.toks, t.tail, sig)
    }

    fn same_shape(t: &Template, toks: &[Token<'_>], tail: &str) -> bool {
        t.words.len() == toks.len()
            && t.seps.last().map(|s| &**s) == Some(tail)
            && t.seps.iter().zip(toks).all(|(a, b)| **a == *b.sep)
    }

    /// `(joinable, nearest)`: the best template the line may join (similar enough and no
    /// plain-word conflict), and the most similar one regardless of conflicts.
    fn best(
        &self,
        cands: &[usize],
        toks: &[Token<'_>],
        tail: &str,
    ) -> (Option<usize>, Option<usize>) {
        let th = self.config.similarity_threshold;
        let mut join: Option<(f64, u64, usize)> = None;
        let mut near: Option<(f64, u64, usize)> = None;
        for &ti in cands {
            let t = &self.templates[ti];
            if !Self::same_shape(t, toks, tail) {
                continue;
            }
            let c = compare(t, toks);
            let sim = c.sim();
            if sim < th {
                continue;
            }
            let key = (sim, t.count, ti);
            let better = |b: &Option<(f64, u64, usize)>| match b {
                None => true,
                Some((bs, bc, _)) => sim > *bs || (sim == *bs && t.count > *bc),
            };
            if c.hard == 0 && better(&join) {
                join = Some(key);
            }
            if better(&near) {
                near = Some(key);
            }
        }
        (join.map(|b| b.2), near.map(|b| b.2))
    }

    /// Read-only lookup: the template `line` would join, without learning from it.
    pub fn match_only(&self, service: &str, line: &str) -> Option<TemplateId> {
        let st = self.services.get(service)?;
        let (toks, tail, sig) = self.prepare(line);
        let cands = st.groups.get(&sig)?;
        self.best(cands, &toks, &tail)
            .0
            .map(|i| self.templates[i].id)
    }

    /// Assigns `line` of `service` to a template, creating or generalising one as needed.
    pub fn add(&mut self, service: &str, line: &str) -> MatchResult {
        self.add_with(service, line, true)
    }

    /// [`TemplateMiner::add`] for callers that need only the id (ingest): the same template,
    /// without copying the variables of the line.
    pub fn add_id(&mut self, service: &str, line: &str) -> TemplateId {
        self.add_with(service, line, false).id
    }

    fn add_with(&mut self, service: &str, line: &str, collect: bool) -> MatchResult {
        let (toks, tail, sig) = self.prepare(line);
        let (join, near) = match self
            .services
            .get(service)
            .and_then(|st| st.groups.get(&sig))
        {
            Some(c) => self.best(c, &toks, &tail),
            None => (None, None),
        };
        if let Some(ti) = join {
            let t = &mut self.templates[ti];
            t.count += 1;
            let mut changed = false;
            let mut variables = Vec::new();
            for ((w, pre), tok) in t.words.iter_mut().zip(&mut t.prefixes).zip(&toks) {
                match w {
                    Some(c) if !tok.var && **c == *tok.text => {}
                    Some(c) => {
                        let p = var_prefix(tok.text);
                        *pre = (!p.is_empty() && p == var_prefix(c)).then(|| p.into());
                        *w = None;
                        changed = true;
                        if collect {
                            variables.push(tok.text.to_string());
                        }
                    }
                    None => {
                        if pre.as_deref().is_some_and(|p| p != var_prefix(tok.text)) {
                            *pre = None;
                            changed = true;
                        }
                        if collect {
                            variables.push(tok.text.to_string());
                        }
                    }
                }
            }
            let id = t.id;
            if changed {
                t.render();
                self.register_variants(service, sig, ti);
            }
            return MatchResult {
                id,
                variables,
                created: false,
            };
        }

        let cap = self.config.max_templates_per_service;
        let st = self.services.entry(service.to_string()).or_default();
        if st.templates >= cap {
            return self.overflow(service, line);
        }

        // New template. It inherits the variables of its nearest neighbour, so that variants
        // of one generalised template line up in the same variant bucket.
        let id = TemplateId(self.next_id);
        self.next_id += 1;
        let ti = self.templates.len();
        st.templates += 1;
        st.groups.entry(sig).or_default().push(ti);
        let inherit = near.map(|n| &self.templates[n].words);
        let words: Vec<Option<Box<str>>> = toks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let wild = t.var || inherit.is_some_and(|w| w[i].is_none());
                (!wild).then(|| t.text.into())
            })
            .collect();
        let prefixes = toks
            .iter()
            .zip(&words)
            .map(|(t, w)| {
                let p = var_prefix(t.text);
                (w.is_none() && !p.is_empty()).then(|| p.into())
            })
            .collect();
        let variables = toks
            .iter()
            .zip(&words)
            .filter(|(_, w)| w.is_none())
            .map(|(t, _)| t.text.to_string())
            .collect();
        let mut t = Template {
            id,
            service: service.to_string(),
            text: String::new(),
            count: 1,
            words,
            seps: toks
                .iter()
                .map(|t| t.sep.as_str().into())
                .chain([tail.as_str().into()])
                .collect(),
            prefixes,
            overflow: false,
            merged_into: None,
        };
        t.render();
        self.templates.push(t);
        self.by_id.insert(id, ti);
        let survivor = self.register_variants(service, sig, ti);
        MatchResult {
            id: self.templates[survivor].id,
            variables,
            created: survivor == ti,
        }
    }

    fn overflow(&mut self, service: &str, line: &str) -> MatchResult {
        let st = self.services.get_mut(service).expect("service exists");
        let oi = match st.overflow {
            Some(i) => i,
            None => {
                let i = self.templates.len();
                st.overflow = Some(i);
                let id = TemplateId(self.next_id);
                self.next_id += 1;
                self.templates.push(Template {
                    id,
                    service: service.to_string(),
                    text: OVERFLOW_TEXT.to_string(),
                    count: 0,
                    words: Vec::new(),
                    seps: Vec::new(),
                    prefixes: Vec::new(),
                    overflow: true,
                    merged_into: None,
                });
                self.by_id.insert(id, i);
                i
            }
        };
        let t = &mut self.templates[oi];
        t.count += 1;
        MatchResult {
            id: t.id,
            variables: vec![line.to_string()],
            created: false,
        }
    }

    /// Files template `ti` in the variant bucket of each of its plain words and merges a bucket
    /// that reached `merge_after_variants` distinct words. Returns the live template for `ti`.
    fn register_variants(&mut self, service: &str, sig: u64, ti: usize) -> usize {
        let k = self.config.merge_after_variants;
        let mut ti = ti;
        // A merge changes the survivor's words, which may complete another bucket: repeat.
        'again: loop {
            let words = self.templates[ti].words.clone();
            for p in 0..words.len() {
                let Some(w) = &words[p] else { continue };
                if !is_plain(w) {
                    continue;
                }
                let key = variant_key(sig, &words, p);
                let st = self.services.get_mut(service).expect("service exists");
                let bucket = st.variants.entry(key).or_default();
                if !bucket.contains(&ti) {
                    bucket.push(ti);
                }
                let k = variant_threshold(&words, p, k);
                if k == 0 || bucket.len() < k {
                    continue;
                }
                // Keep members that still are live and still fit the bucket.
                let members: Vec<usize> = bucket
                    .iter()
                    .copied()
                    .filter(|&m| {
                        let t = &self.templates[m];
                        t.merged_into.is_none()
                            && t.words.len() == words.len()
                            && t.words[p].is_some()
                            && variant_key(sig, &t.words, p) == key
                    })
                    .collect();
                let st = self.services.get_mut(service).expect("service exists");
                st.variants.insert(key, members.clone());
                if members.len() < k {
                    continue;
                }
                // The first word names the event far more often than it carries a value; only
                // identifier-shaped words (hosts, dotted names) are generalised there.
                if p == 0
                    && !members.iter().all(|&m| {
                        self.templates[m].words[0]
                            .as_deref()
                            .is_some_and(|w| w.contains(['.', '-', '_', '/', '@']))
                    })
                {
                    continue;
                }
                ti = self.merge(service, sig, &members, p);
                continue 'again;
            }
            return ti;
        }
    }

    /// Merges `members` (equal except at `p`) into the oldest one, with `<*>` at `p`.
    fn merge(&mut self, service: &str, sig: u64, members: &[usize], p: usize) -> usize {
        let survivor = *members.iter().min().expect("non-empty");
        self.templates[survivor].words[p] = None;
        self.templates[survivor].prefixes[p] = None;
        // Other live templates that now have identical words (e.g. made by an earlier merge)
        // are folded in as well, so one event never keeps two live templates.
        let group: Vec<usize> = self.services[service]
            .groups
            .get(&sig)
            .cloned()
            .unwrap_or_default();
        let target = self.templates[survivor].words.clone();
        let mut gone = Vec::new();
        for m in group {
            if m == survivor {
                continue;
            }
            let t = &self.templates[m];
            let fold = members.contains(&m)
                || (t.words.len() == target.len()
                    && t.words
                        .iter()
                        .zip(&target)
                        .all(|(a, b)| b.is_none() || a == b)
                    && t.words
                        .iter()
                        .zip(&target)
                        .all(|(a, b)| a.is_some() || b.is_none()));
            if fold {
                gone.push(m);
            }
        }
        let mut added = 0;
        for &m in &gone {
            added += self.templates[m].count;
            self.templates[m].merged_into = Some(survivor);
        }
        let st = self.services.get_mut(service).expect("service exists");
        st.templates -= gone.len();
        if let Some(g) = st.groups.get_mut(&sig) {
            g.retain(|x| !gone.contains(x));
        }
        let t = &mut self.templates[survivor];
        t.count += added;
        t.render();
        survivor
    }

    /// Serializable state.
    pub fn to_snapshot(&self) -> MinerSnapshot {
        MinerSnapshot {
            version: SNAPSHOT_VERSION,
            config: self.config.clone(),
            next_id: self.next_id,
            templates: self
                .templates
                .iter()
                .map(|t| TemplateSnapshot {
                    id: t.id,
                    service: t.service.clone(),
                    count: t.count,
                    words: t
                        .words
                        .iter()
                        .map(|w| w.as_deref().map(String::from))
                        .collect(),
                    seps: t.seps.iter().map(|s| s.to_string()).collect(),
                    prefixes: t
                        .prefixes
                        .iter()
                        .map(|w| w.as_deref().map(String::from))
                        .collect(),
                    overflow: t.overflow,
                    merged_into: t.merged_into.map(|i| self.templates[i].id),
                })
                .collect(),
        }
    }

    /// Restores a miner; ids continue after the largest id in the snapshot.
    pub fn from_snapshot(snap: MinerSnapshot) -> Self {
        let mut m = Self::new(snap.config);
        let mut max_id = 0;
        let mut aliases = Vec::new();
        for ts in snap.templates {
            if m.by_id.contains_key(&ts.id) {
                continue;
            }
            // A snapshot edited by hand may be inconsistent; repair rather than panic.
            let mut seps: Vec<Box<str>> = ts.seps.into_iter().map(Into::into).collect();
            seps.resize(ts.words.len() + 1, "".into());
            let mut prefixes: Vec<Option<Box<str>>> =
                ts.prefixes.into_iter().map(|p| p.map(Into::into)).collect();
            prefixes.resize(ts.words.len(), None);
            let mut t = Template {
                id: ts.id,
                service: ts.service,
                text: String::new(),
                count: ts.count,
                words: ts.words.into_iter().map(|w| w.map(Into::into)).collect(),
                seps,
                prefixes,
                overflow: ts.overflow,
                merged_into: None,
            };
            max_id = max_id.max(t.id.0);
            if t.overflow {
                t.text = OVERFLOW_TEXT.to_string();
            } else {
                t.render();
            }
            let ti = m.templates.len();
            if let Some(target) = ts.merged_into {
                aliases.push((ti, target));
            }
            m.by_id.insert(t.id, ti);
            m.templates.push(t);
        }
        for (ti, target) in aliases {
            // Unknown or self-referencing targets leave the template live.
            if let Some(&j) = m.by_id.get(&target)
                && j != ti
            {
                m.templates[ti].merged_into = Some(j);
            }
        }
        // Break alias cycles from a corrupt snapshot.
        for i in 0..m.templates.len() {
            let mut seen = 0;
            let mut j = i;
            while let Some(n) = m.templates[j].merged_into {
                seen += 1;
                if seen > m.templates.len() {
                    m.templates[i].merged_into = None;
                    break;
                }
                j = n;
            }
        }
        for ti in 0..m.templates.len() {
            let t = &m.templates[ti];
            if t.merged_into.is_some() {
                continue;
            }
            let service = t.service.clone();
            let st = m.services.entry(service.clone()).or_default();
            if t.overflow {
                st.overflow = Some(ti);
                continue;
            }
            st.templates += 1;
            let sig = signature(t.seps.iter().map(|s| &**s));
            st.groups.entry(sig).or_default().push(ti);
            let words = t.words.clone();
            let st = m.services.get_mut(&service).expect("just inserted");
            for (p, w) in words.iter().enumerate() {
                if w.as_deref().is_some_and(is_plain) {
                    st.variants
                        .entry(variant_key(sig, &words, p))
                        .or_default()
                        .push(ti);
                }
            }
        }
        m.next_id = snap.next_id.max(max_id + 1);
        m
    }
}
