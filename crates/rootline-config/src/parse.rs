//! Format detection and the parsers: YAML (multi-document, Kubernetes-aware), JSON, TOML, INI
//! and `.env`, each into a [`FlatConfig`] with secrets masked.

use std::fmt;

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::flat::{FlatConfig, Node, Secrecy, child_secrecy, flatten, masked_scalar, push_key};
use crate::secrets;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Yaml,
    Json,
    Toml,
    Ini,
    Env,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Yaml,
        Format::Json,
        Format::Toml,
        Format::Ini,
        Format::Env,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Toml => "toml",
            Format::Ini => "ini",
            Format::Env => "env",
        }
    }

    /// `yaml`/`yml`, `json`, `toml`, `ini`, `env`/`dotenv` (any case).
    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "toml" => Some(Format::Toml),
            "ini" | "cfg" => Some(Format::Ini),
            "env" | "dotenv" => Some(Format::Env),
            _ => None,
        }
    }

    /// The format a file name implies: `.yaml`/`.yml`, `.json`, `.toml`, `.ini`/`.cfg`/
    /// `.properties`, and `.env`, `.env.*` or `*.env`. `None` for anything else (`.conf` is
    /// too varied to trust).
    pub fn from_path(path: &str) -> Option<Format> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let lower = name.to_ascii_lowercase();
        if lower == ".env" || lower.starts_with(".env.") || lower.ends_with(".env") {
            return Some(Format::Env);
        }
        let ext = lower.rsplit_once('.')?.1;
        match ext {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "toml" => Some(Format::Toml),
            "ini" | "cfg" | "properties" => Some(Format::Ini),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The content is not valid in the format it was read as.
    #[error("invalid {format}{}: {reason}", line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Parse {
        format: Format,
        /// 1-based, when known.
        line: Option<usize>,
        reason: String,
    },
    /// No format was given, the name implies none, and the content parses as none.
    #[error("cannot tell the config format (yaml, json, toml, ini or env): {reason}")]
    UnknownFormat { reason: String },
}

/// A parsed config: the format it was read as and its flattened, masked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedConfig {
    pub format: Format,
    pub config: FlatConfig,
}

/// Parses `content` as `format`, or (when `None`) as the format the file name `path` implies,
/// or else as the first format the content parses as (JSON, `.env`, TOML, INI, YAML, in that
/// order, each with a shape check so that a plain sentence is not "YAML"). Secrets are masked
/// before anything is returned.
pub fn parse_config(
    content: &str,
    path: Option<&str>,
    format: Option<Format>,
) -> Result<ParsedConfig, ConfigError> {
    // A BOM would otherwise end up in the first key.
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    if let Some(format) = format.or_else(|| path.and_then(Format::from_path)) {
        return parse_as(content, format).map(|config| ParsedConfig { format, config });
    }
    let format = detect_format(content)?;
    parse_as(content, format).map(|config| ParsedConfig { format, config })
}

/// The format of `content`, from its shape.
pub fn detect_format(content: &str) -> Result<Format, ConfigError> {
    let trimmed = content.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && serde_json::from_str::<serde::de::IgnoredAny>(content).is_ok()
    {
        return Ok(Format::Json);
    }
    let lines: Vec<&str> = content
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .collect();
    if lines.is_empty() {
        return Err(ConfigError::UnknownFormat {
            reason: "the content is empty".into(),
        });
    }
    if lines.iter().all(|l| looks_like_env_line(l)) && parse_env(content).is_ok() {
        return Ok(Format::Env);
    }
    if parse_toml(content).is_ok() {
        return Ok(Format::Toml);
    }
    // YAML before INI: `key: value` lines are both, and YAML keeps nesting.
    let yaml_error = match YamlLoader::load_from_str(content) {
        Ok(docs)
            if docs
                .iter()
                .any(|d| matches!(d, Yaml::Hash(_) | Yaml::Array(_))) =>
        {
            return Ok(Format::Yaml);
        }
        Ok(_) => "not a mapping or list".to_owned(),
        Err(e) => e.to_string(),
    };
    let ini_shaped = lines
        .iter()
        .all(|l| (l.starts_with('[') && l.ends_with(']')) || l.contains('=') || l.contains(':'));
    if ini_shaped && parse_ini(content).is_ok() {
        return Ok(Format::Ini);
    }
    Err(ConfigError::UnknownFormat {
        reason: format!("not valid in any supported format (as yaml: {yaml_error})"),
    })
}

fn looks_like_env_line(line: &str) -> bool {
    let line = line.strip_prefix("export ").unwrap_or(line);
    match line.split_once('=') {
        Some((k, _)) => is_env_key(k),
        // A continuation of a quoted multi-line value.
        None => false,
    }
}

fn is_env_key(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn parse_as(content: &str, format: Format) -> Result<FlatConfig, ConfigError> {
    match format {
        Format::Yaml => parse_yaml(content),
        Format::Json => parse_json(content),
        Format::Toml => parse_toml(content),
        Format::Ini => parse_ini(content),
        Format::Env => parse_env(content),
    }
}

// ---- JSON and TOML: serde into an order-keeping tree ----

fn parse_json(content: &str) -> Result<FlatConfig, ConfigError> {
    let node: Node = serde_json::from_str(content).map_err(|e| ConfigError::Parse {
        format: Format::Json,
        line: Some(e.line()),
        reason: e.to_string(),
    })?;
    Ok(flatten_root(&node))
}

fn parse_toml(content: &str) -> Result<FlatConfig, ConfigError> {
    let node: Node = toml::from_str(content).map_err(|e| ConfigError::Parse {
        format: Format::Toml,
        line: e
            .span()
            .map(|s| content[..s.start.min(content.len())].matches('\n').count() + 1),
        reason: e.message().trim().to_owned(),
    })?;
    Ok(flatten_root(&node))
}

fn flatten_root(node: &Node) -> FlatConfig {
    let mut out = FlatConfig::new();
    flatten(node, "", Secrecy::No, &mut out);
    out
}

// ---- YAML ----

/// Documents are keyed `kind/namespace/name` (or `kind/name` for cluster-scoped objects) when
/// they are Kubernetes objects, else `#index` when the file holds several, so that a path reads
/// `Deployment/shop/api:spec.replicas`. A single plain document has no prefix. Empty documents
/// (a trailing `---`) are skipped but keep their index.
fn parse_yaml(content: &str) -> Result<FlatConfig, ConfigError> {
    let docs = YamlLoader::load_from_str(content).map_err(|e| ConfigError::Parse {
        format: Format::Yaml,
        line: Some(e.marker().line()),
        reason: e.info().to_owned(),
    })?;
    let nodes: Vec<(usize, Node)> = docs
        .iter()
        .enumerate()
        .filter(|(_, d)| !matches!(d, Yaml::Null | Yaml::BadValue))
        .map(|(i, d)| (i, yaml_node(d)))
        .collect();
    let mut out = FlatConfig::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, node) in &nodes {
        let prefix = match k8s_identity(node) {
            Some(id) if !seen.contains(&id) => id,
            Some(id) => format!("{id}#{i}"),
            None if nodes.len() == 1 => String::new(),
            None => format!("#{i}"),
        };
        seen.push(prefix.clone());
        flatten_document(node, &prefix, &mut out);
    }
    Ok(out)
}

/// `kind/namespace/name` or `kind/name`, for a mapping with a string `kind` and
/// `metadata.name`.
fn k8s_identity(doc: &Node) -> Option<String> {
    let kind = doc.get("kind")?.as_str()?;
    let meta = doc.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    Some(match meta.get("namespace").and_then(Node::as_str) {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    })
}

/// Flattens one document under `prefix:`; a Kubernetes `Secret`'s `data` and `stringData` are
/// masked whole.
fn flatten_document(doc: &Node, prefix: &str, out: &mut FlatConfig) {
    let is_secret_kind = doc.get("kind").and_then(Node::as_str) == Some("Secret");
    match doc {
        Node::Map(entries) if !entries.is_empty() => {
            let base = if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}:")
            };
            for (k, v) in entries {
                let secrecy = if is_secret_kind && matches!(k.as_str(), "data" | "stringData") {
                    Secrecy::All
                } else {
                    child_secrecy(Secrecy::No, k, false)
                };
                flatten(v, &format!("{base}{}", push_key("", k)), secrecy, out);
            }
        }
        // A list or scalar document: its paths hang off the prefix itself (`#1[0]`, `#2`).
        _ => flatten(doc, prefix, Secrecy::No, out),
    }
}

fn yaml_key(k: &Yaml) -> String {
    match k {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => "null".into(),
        other => format!("{other:?}"),
    }
}

fn yaml_node(y: &Yaml) -> Node {
    match y {
        Yaml::String(s) => Node::Scalar(Value::String(s.clone())),
        Yaml::Integer(i) => Node::Scalar((*i).into()),
        Yaml::Real(s) => Node::Scalar(
            s.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(s.clone()), Value::Number),
        ),
        Yaml::Boolean(b) => Node::Scalar(Value::Bool(*b)),
        Yaml::Null | Yaml::BadValue => Node::Scalar(Value::Null),
        Yaml::Alias(_) => Node::Scalar(Value::String("*alias".into())),
        Yaml::Array(items) => Node::List(items.iter().map(yaml_node).collect()),
        Yaml::Hash(h) => Node::Map(h.iter().map(|(k, v)| (yaml_key(k), yaml_node(v))).collect()),
    }
}

// ---- INI ----

/// `[section]` headers, `key = value` or `key: value` lines, `;`/`#` comments, indented lines
/// continuing the previous value. Paths are `section.key`; keys before any section are bare.
/// Values stay strings (INI has no types).
fn parse_ini(content: &str) -> Result<FlatConfig, ConfigError> {
    let mut out = FlatConfig::new();
    let mut section = String::new();
    let mut last: Option<(String, String)> = None;
    let err = |line: usize, reason: String| ConfigError::Parse {
        format: Format::Ini,
        line: Some(line),
        reason,
    };
    for (n, raw) in content.lines().enumerate() {
        let line_no = n + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if raw.starts_with([' ', '\t'])
            && let Some((_, value)) = last.as_mut()
        {
            value.push('\n');
            value.push_str(line);
            continue;
        }
        if let Some((k, v)) = last.take() {
            insert_ini(&mut out, k, v);
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| err(line_no, "section header without a closing ]".into()))?;
            section = name.trim().to_owned();
            continue;
        }
        let sep = line
            .find(['=', ':'])
            .ok_or_else(|| err(line_no, format!("expected key = value, got {line:?}")))?;
        let key = line[..sep].trim();
        if key.is_empty() {
            return Err(err(line_no, "empty key".into()));
        }
        let value = unquote(line[sep + 1..].trim());
        last = Some((push_key(&section_path(&section), key), value));
    }
    if let Some((k, v)) = last {
        insert_ini(&mut out, k, v);
    }
    Ok(out)
}

fn section_path(section: &str) -> String {
    if section.is_empty() {
        String::new()
    } else {
        push_key("", section)
    }
}

fn insert_ini(out: &mut FlatConfig, path: String, value: String) {
    let key = path.rsplit(['.', '[']).next().unwrap_or(&path);
    let secret = secrets::is_secret_key(key.trim_matches(['"', ']']), false);
    out.insert(path, masked_scalar(&Value::String(value), secret));
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_owned();
        }
    }
    v.to_owned()
}

// ---- .env ----

/// `KEY=value` lines with an optional `export `, `#` comments, single quotes (literal), double
/// quotes (with `\n`, `\"`, `\\` escapes, and which may span lines), and ` #` comments after an
/// unquoted value. Any `*_KEY` counts as a secret here.
fn parse_env(content: &str) -> Result<FlatConfig, ConfigError> {
    let mut out = FlatConfig::new();
    let lines: Vec<&str> = content.lines().collect();
    let err = |line: usize, reason: String| ConfigError::Parse {
        format: Format::Env,
        line: Some(line),
        reason,
    };
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let (key, rest) = line
            .split_once('=')
            .ok_or_else(|| err(line_no, format!("expected KEY=value, got {line:?}")))?;
        let key = key.trim();
        if !is_env_key(key) {
            return Err(err(line_no, format!("invalid variable name {key:?}")));
        }
        let rest = rest.trim_start();
        let value = if let Some(body) = rest.strip_prefix('"') {
            let mut text = body.to_owned();
            loop {
                if let Some(end) = closing_quote(&text) {
                    text.truncate(end);
                    break;
                }
                let Some(next) = lines.get(i) else {
                    return Err(err(line_no, format!("unterminated double quote in {key}")));
                };
                text.push('\n');
                text.push_str(next);
                i += 1;
            }
            unescape_double(&text)
        } else if let Some(body) = rest.strip_prefix('\'') {
            let end = body
                .find('\'')
                .ok_or_else(|| err(line_no, format!("unterminated single quote in {key}")))?;
            body[..end].to_owned()
        } else {
            let v = match rest.find(" #") {
                Some(c) => &rest[..c],
                None => rest,
            };
            v.trim_end().to_owned()
        };
        let secret = secrets::is_secret_key(key, true);
        out.insert(
            push_key("", key),
            masked_scalar(&Value::String(value), secret),
        );
    }
    Ok(out)
}

/// Byte index of the first unescaped `"`.
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn unescape_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(content: &str, format: Option<Format>) -> ParsedConfig {
        parse_config(content, None, format).unwrap()
    }

    fn pairs(c: &FlatConfig) -> Vec<(String, Value)> {
        c.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect()
    }

    #[test]
    fn formats_from_names_and_paths() {
        assert_eq!(Format::from_path("deploy/app.YML"), Some(Format::Yaml));
        assert_eq!(Format::from_path("/etc/app/.env"), Some(Format::Env));
        assert_eq!(Format::from_path(".env.production"), Some(Format::Env));
        assert_eq!(Format::from_path("prod.env"), Some(Format::Env));
        assert_eq!(Format::from_path("my.cnf.ini"), Some(Format::Ini));
        assert_eq!(Format::from_path("nginx.conf"), None);
        assert_eq!(Format::from_path("Makefile"), None);
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.as_str()), Some(f));
        }
    }

    #[test]
    fn detects_formats_by_content() {
        assert_eq!(detect_format(r#"{"a": 1}"#), Ok(Format::Json));
        assert_eq!(detect_format("A=1\nexport B=two\n# c\n"), Ok(Format::Env));
        assert_eq!(
            detect_format("title = \"x\"\n[server]\nport = 8080\n"),
            Ok(Format::Toml)
        );
        assert_eq!(
            detect_format("[mysqld]\ndatadir = /var/lib/mysql\nbind-address: 0.0.0.0\n"),
            Ok(Format::Ini)
        );
        assert_eq!(
            detect_format("apiVersion: v1\nkind: ConfigMap\n"),
            Ok(Format::Yaml)
        );
        assert!(detect_format("just a sentence").is_err());
        assert!(detect_format("").is_err());
    }

    #[test]
    fn yaml_documents_are_keyed_by_kubernetes_identity() {
        let yaml = "\
apiVersion: v1
kind: Node
metadata:
  name: minikube
spec:
  taints:
  - effect: NoSchedule
    key: key1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  annotations: {}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - image: api:1.2
        env:
        - name: DB_PASSWORD
          value: hunter2
        - name: LOG_LEVEL
          value: info
---
";
        let c = parse(yaml, None);
        assert_eq!(c.format, Format::Yaml);
        let c = c.config;
        assert_eq!(
            c.get("Node/minikube:spec.taints[0].key"),
            Some(&json!("key1"))
        );
        assert_eq!(c.get("Deployment/shop/api:spec.replicas"), Some(&json!(2)));
        assert_eq!(
            c.get("Deployment/shop/api:metadata.annotations"),
            Some(&json!({}))
        );
        let base = "Deployment/shop/api:spec.template.spec.containers[0]";
        assert_eq!(c.get(&format!("{base}.image")), Some(&json!("api:1.2")));
        let pw = c.get(&format!("{base}.env[0].value")).unwrap();
        assert!(secrets::is_mask(pw.as_str().unwrap()), "{pw}");
        assert_eq!(
            c.get(&format!("{base}.env[0].name")),
            Some(&json!("DB_PASSWORD"))
        );
        assert_eq!(c.get(&format!("{base}.env[1].value")), Some(&json!("info")));
        // Document order is kept.
        assert_eq!(c.iter().next().unwrap().0, "Node/minikube:apiVersion");
    }

    #[test]
    fn plain_yaml_and_unnamed_documents() {
        let c = parse("a:\n  b: [1, 2.5, true, null]\n", Some(Format::Yaml)).config;
        assert_eq!(
            pairs(&c),
            vec![
                ("a.b[0]".into(), json!(1)),
                ("a.b[1]".into(), json!(2.5)),
                ("a.b[2]".into(), json!(true)),
                ("a.b[3]".into(), Value::Null),
            ]
        );
        let c = parse("x: 1\n---\nx: 2\n", Some(Format::Yaml)).config;
        assert_eq!(c.get("#0:x"), Some(&json!(1)));
        assert_eq!(c.get("#1:x"), Some(&json!(2)));
    }

    #[test]
    fn kubernetes_secrets_are_masked_whole() {
        let yaml = "\
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
type: Opaque
data:
  username: YWRtaW4=
  host: ZGI=
stringData:
  url: plain
";
        let c = parse(yaml, None).config;
        for k in ["data.username", "data.host", "stringData.url"] {
            let v = c.get(&format!("Secret/shop/db:{k}")).unwrap();
            assert!(secrets::is_mask(v.as_str().unwrap()), "{k}: {v}");
        }
        assert_eq!(c.get("Secret/shop/db:type"), Some(&json!("Opaque")));
    }

    #[test]
    fn json_keeps_order_and_masks() {
        let c = parse(
            r#"{"z": {"password": "pw", "port": 5432}, "a": {"url": "postgres://u:pw@h/db", "passwordFile": "/run/pw"}}"#,
            None,
        );
        assert_eq!(c.format, Format::Json);
        let keys: Vec<&str> = c.config.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["z.password", "z.port", "a.url", "a.passwordFile"]);
        assert!(secrets::is_mask(
            c.config.get("z.password").unwrap().as_str().unwrap()
        ));
        assert_eq!(c.config.get("z.port"), Some(&json!(5432)));
        let url = c.config.get("a.url").unwrap().as_str().unwrap();
        assert!(
            url.starts_with("postgres://u:***#") && url.ends_with("@h/db"),
            "{url}"
        );
        assert_eq!(c.config.get("a.passwordFile"), Some(&json!("/run/pw")));
    }

    #[test]
    fn toml_tables_arrays_and_dates() {
        let c = parse(
            "name = \"api\"\nstarted = 1979-05-27T07:32:00Z\n[db]\nhost = \"db\"\npassword = \"pw\"\n[[upstream]]\nurl = \"http://a\"\n",
            None,
        );
        assert_eq!(c.format, Format::Toml);
        let c = c.config;
        assert_eq!(c.get("name"), Some(&json!("api")));
        assert_eq!(c.get("started"), Some(&json!("1979-05-27T07:32:00Z")));
        assert_eq!(c.get("db.host"), Some(&json!("db")));
        assert!(secrets::is_mask(
            c.get("db.password").unwrap().as_str().unwrap()
        ));
        assert_eq!(c.get("upstream[0].url"), Some(&json!("http://a")));
    }

    #[test]
    fn ini_sections_and_continuations() {
        let c = parse(
            "top = 1\n[client]\nuser = app\npassword = \"pw\"\n[mysqld]\nsql_mode = A,\n  B\n; comment\n",
            Some(Format::Ini),
        )
        .config;
        assert_eq!(c.get("top"), Some(&json!("1")));
        assert_eq!(c.get("client.user"), Some(&json!("app")));
        assert!(secrets::is_mask(
            c.get("client.password").unwrap().as_str().unwrap()
        ));
        assert_eq!(c.get("mysqld.sql_mode"), Some(&json!("A,\nB")));
        let e = parse_config("[a\nb=1", None, Some(Format::Ini)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid ini at line 1: section header without a closing ]"
        );
    }

    #[test]
    fn env_quotes_comments_and_key_secrets() {
        let c = parse(
            "# app\nexport APP_ENV=prod # inline\nSTRIPE_KEY=sk_live_1\nGREETING=\"hi\\nthere\"\nLIT='a # b'\nPEM=\"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\"\nEMPTY=\n",
            Some(Format::Env),
        )
        .config;
        assert_eq!(c.get("APP_ENV"), Some(&json!("prod")));
        assert!(secrets::is_mask(
            c.get("STRIPE_KEY").unwrap().as_str().unwrap()
        ));
        assert_eq!(c.get("GREETING"), Some(&json!("hi\nthere")));
        assert_eq!(c.get("LIT"), Some(&json!("a # b")));
        assert!(secrets::is_mask(c.get("PEM").unwrap().as_str().unwrap()));
        assert_eq!(c.get("EMPTY"), Some(&json!("")));
        assert_eq!(c.len(), 6);
        let e = parse_config("OK=1\nnot a line\n", None, Some(Format::Env)).unwrap_err();
        assert!(e.to_string().starts_with("invalid env at line 2:"), "{e}");
    }

    #[test]
    fn bad_input_gives_errors_with_lines() {
        let e = parse_config("{\"a\": }", None, Some(Format::Json)).unwrap_err();
        assert!(e.to_string().starts_with("invalid json at line 1:"), "{e}");
        let e = parse_config("a: [1, 2\nb: 3\n", None, Some(Format::Yaml)).unwrap_err();
        assert!(e.to_string().starts_with("invalid yaml at line"), "{e}");
        let e = parse_config("a = \n", None, Some(Format::Toml)).unwrap_err();
        assert!(e.to_string().starts_with("invalid toml at line 1"), "{e}");
    }
}
