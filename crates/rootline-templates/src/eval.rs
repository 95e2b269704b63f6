//! Loghub-2.0 accuracy metrics (GA, PA, FGA, FTA), as `/work/shared/tools/loghub_eval.py`
//! defines them: groups are keyed by template *string* on both sides, and PA/FTA compare
//! template strings verbatim.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::TemplateId;

/// Cell values pandas reads as NaN; Loghub-2.0 reads its CSVs with pandas, so a ground-truth
/// template equal to one of these is unlabelled and a predicted one becomes "".
const PANDAS_NA: &[&str] = &[
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// Accuracy of one system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Grouping accuracy: share of labelled lines whose GT group is predicted exactly.
    pub ga: f64,
    /// Parsing accuracy: share of lines whose predicted template equals the GT template.
    pub pa: f64,
    /// F1 of group precision/recall (exactly-predicted groups).
    pub fga: f64,
    /// F1 of template precision/recall (predicted templates that are correct).
    pub fta: f64,
    /// Exactly-matched groups / predicted groups.
    pub pga: f64,
    /// Exactly-matched groups / GT groups.
    pub rga: f64,
    /// Correct templates / predicted templates.
    pub pta: f64,
    /// Correct templates / GT templates.
    pub rta: f64,
    /// Lines scored.
    pub lines: usize,
    /// Distinct GT templates.
    pub gt_templates: usize,
    /// Distinct predicted template strings.
    pub pred_templates: usize,
    /// Distinct predicted template ids.
    pub pred_ids: usize,
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Scores one system. `lines` are the input lines (only their number is used; it must equal
/// the other two lengths), `truth_templates` the GT template per line, `predicted` the template
/// id and FINAL template text per line.
///
/// # Panics
/// If the three slices differ in length.
pub fn evaluate(
    lines: &[String],
    truth_templates: &[String],
    predicted: &[(TemplateId, String)],
) -> Metrics {
    assert_eq!(
        lines.len(),
        truth_templates.len(),
        "one GT template per line"
    );
    assert_eq!(lines.len(), predicted.len(), "one prediction per line");
    let n_all = lines.len();
    let norm = |s: &str| -> String {
        if PANDAS_NA.contains(&s) {
            String::new()
        } else {
            s.to_string()
        }
    };
    let mut pa_hits = 0usize;
    // (gt, predicted template)
    let mut labelled: Vec<(&str, String)> = Vec::with_capacity(n_all);
    for (gt, (_, p)) in truth_templates.iter().zip(predicted) {
        let p = norm(p);
        if PANDAS_NA.contains(&gt.as_str()) {
            continue;
        }
        if p == *gt {
            pa_hits += 1;
        }
        labelled.push((gt.as_str(), p));
    }

    let mut gt_to_keys: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
    let mut key_size: HashMap<&str, usize> = HashMap::new();
    for (gt, p) in &labelled {
        *gt_to_keys.entry(gt).or_default().entry(p).or_default() += 1;
        *key_size.entry(p).or_default() += 1;
    }
    let (mut exact_groups, mut exact_lines) = (0usize, 0usize);
    for keys in gt_to_keys.values() {
        if keys.len() == 1 {
            let (k, n) = keys.iter().next().expect("one key");
            if key_size[k] == *n {
                exact_groups += 1;
                exact_lines += n;
            }
        }
    }
    let n_gt = gt_to_keys.len();
    let n_pred = key_size.len();
    let pga = ratio(exact_groups, n_pred);
    let rga = ratio(exact_groups, n_gt);

    let mut tpl_to_gts: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (gt, p) in &labelled {
        tpl_to_gts.entry(p).or_default().insert(gt);
    }
    let correct = tpl_to_gts
        .iter()
        .filter(|(p, gts)| gts.len() == 1 && gts.contains(**p))
        .count();
    let pta = ratio(correct, tpl_to_gts.len());
    let rta = ratio(correct, n_gt);
    let pred_ids = predicted.iter().map(|p| p.0).collect::<HashSet<_>>().len();

    Metrics {
        ga: ratio(exact_lines, labelled.len()),
        pa: ratio(pa_hits, n_all),
        fga: f1(pga, rga),
        fta: f1(pta, rta),
        pga,
        rga,
        pta,
        rta,
        lines: n_all,
        gt_templates: n_gt,
        pred_templates: tpl_to_gts.len(),
        pred_ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn perfect_and_split_groups() {
        let lines = s(&["a 1", "a 2", "b"]);
        let gt = s(&["a <*>", "a <*>", "b"]);
        let pred = vec![
            (TemplateId(1), "a <*>".to_string()),
            (TemplateId(1), "a <*>".to_string()),
            (TemplateId(2), "b".to_string()),
        ];
        let m = evaluate(&lines, &gt, &pred);
        assert_eq!((m.ga, m.pa, m.fga, m.fta), (1.0, 1.0, 1.0, 1.0));

        // GT group "a <*>" split in two predicted groups: only "b" is exact.
        let pred = vec![
            (TemplateId(1), "a 1".to_string()),
            (TemplateId(3), "a 2".to_string()),
            (TemplateId(2), "b".to_string()),
        ];
        let m = evaluate(&lines, &gt, &pred);
        assert!((m.ga - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.pga - 1.0 / 3.0).abs() < 1e-12 && (m.rga - 0.5).abs() < 1e-12);
        assert!((m.pa - 1.0 / 3.0).abs() < 1e-12);
        // Template "a 1" is wrong (its line's GT is "a <*>"); "b" is right.
        assert!((m.pta - 1.0 / 3.0).abs() < 1e-12 && (m.rta - 0.5).abs() < 1e-12);
    }

    #[test]
    fn groups_are_keyed_by_text_not_id() {
        let lines = s(&["x", "y"]);
        let gt = s(&["<*>", "<*>"]);
        let pred = vec![
            (TemplateId(1), "<*>".to_string()),
            (TemplateId(2), "<*>".to_string()),
        ];
        let m = evaluate(&lines, &gt, &pred);
        assert_eq!(m.ga, 1.0);
        assert_eq!(m.pred_ids, 2);
    }
}
