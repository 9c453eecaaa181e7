//! Comparators (`i;octet`, `i;ascii-casemap`) and match types (`:is`, `:contains`,
//! `:matches` with `*` and `?`), with the match variables `:matches` captures (RFC 5229 §3.2).

use super::{Comparator, MatchType};

/// Counts work so that a script cannot make one delivery run for ever.
#[derive(Debug)]
pub(crate) struct Budget {
    pub left: u64,
}

impl Budget {
    /// Uses `n` steps; false once the budget is gone.
    pub fn spend(&mut self, n: u64) -> bool {
        match self.left.checked_sub(n) {
            Some(l) => {
                self.left = l;
                true
            }
            None => {
                self.left = 0;
                false
            }
        }
    }
}

/// The budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfSteps;

fn eq(c: Comparator, a: char, b: char) -> bool {
    match c {
        Comparator::Octet => a == b,
        Comparator::AsciiCasemap => a.eq_ignore_ascii_case(&b),
    }
}

/// Compares `value` against `key`. With `:matches` and `captures` given, a match fills it with
/// `${0}` (the whole value) and then one entry per wildcard, in order.
pub(crate) fn matches(
    comparator: Comparator,
    kind: MatchType,
    value: &str,
    key: &str,
    captures: Option<&mut Vec<String>>,
    budget: &mut Budget,
) -> Result<bool, OutOfSteps> {
    match kind {
        MatchType::Is => {
            if !budget.spend(1 + value.len() as u64 / 64) {
                return Err(OutOfSteps);
            }
            Ok(match comparator {
                Comparator::Octet => value == key,
                Comparator::AsciiCasemap => value.eq_ignore_ascii_case(key),
            })
        }
        MatchType::Contains => {
            let (v, k) = (value.as_bytes(), key.as_bytes());
            if !budget.spend(1 + (v.len() as u64).saturating_mul(k.len().max(1) as u64) / 64) {
                return Err(OutOfSteps);
            }
            Ok(match comparator {
                Comparator::Octet => k.is_empty() || memchr::memmem::find(v, k).is_some(),
                Comparator::AsciiCasemap => {
                    k.is_empty() || v.windows(k.len()).any(|w| w.eq_ignore_ascii_case(k))
                }
            })
        }
        MatchType::Matches => wildcard(comparator, value, key, captures, budget),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum P {
    Lit(char),
    One,
    Star,
}

/// Parses a `:matches` key: `*`, `?`, and `\` quoting the next character.
fn pattern(key: &str) -> Vec<P> {
    let mut out = Vec::new();
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => P::Star,
            '?' => P::One,
            '\\' => match chars.next() {
                Some(n) => P::Lit(n),
                None => P::Lit('\\'),
            },
            other => P::Lit(other),
        });
    }
    out
}

/// Glob matching in O(value × pattern) at worst: on a mismatch only the most recent `*` grows
/// (which is enough to find a match when one exists), so earlier wildcards keep the shortest
/// text that works, as RFC 5229's `"[*] *"` example requires.
fn wildcard(
    comparator: Comparator,
    value: &str,
    key: &str,
    captures: Option<&mut Vec<String>>,
    budget: &mut Budget,
) -> Result<bool, OutOfSteps> {
    let pat = pattern(key);
    let text: Vec<char> = value.chars().collect();
    // Per wildcard (in pattern order): the span of text it took.
    let wild_index: Vec<Option<usize>> = {
        let mut n = 0;
        pat.iter()
            .map(|p| match p {
                P::Lit(_) => None,
                _ => {
                    n += 1;
                    Some(n - 1)
                }
            })
            .collect()
    };
    let mut spans = vec![(0usize, 0usize); wild_index.iter().flatten().count()];
    let (mut t, mut p) = (0usize, 0usize);
    // The last star seen: its pattern index and the text position it currently ends at.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if !budget.spend(1) {
            return Err(OutOfSteps);
        }
        match (pat.get(p), text.get(t)) {
            (Some(P::Star), _) => {
                if let Some(Some(w)) = wild_index.get(p) {
                    if let Some(s) = spans.get_mut(*w) {
                        *s = (t, t);
                    }
                }
                star = Some((p, t));
                p += 1;
                continue;
            }
            (Some(P::One), Some(_)) => {
                if let Some(Some(w)) = wild_index.get(p) {
                    if let Some(s) = spans.get_mut(*w) {
                        *s = (t, t + 1);
                    }
                }
                p += 1;
                t += 1;
                continue;
            }
            (Some(P::Lit(c)), Some(&v)) if eq(comparator, *c, v) => {
                p += 1;
                t += 1;
                continue;
            }
            (None, None) => break,
            _ => {}
        }
        // Mismatch: let the last star take one more character and retry after it.
        match star {
            Some((sp, st)) if st < text.len() => {
                let st = st + 1;
                star = Some((sp, st));
                if let Some(Some(w)) = wild_index.get(sp) {
                    if let Some(s) = spans.get_mut(*w) {
                        *s = (s.0, st);
                    }
                }
                p = sp + 1;
                t = st;
            }
            _ => return Ok(false),
        }
    }
    if let Some(caps) = captures {
        caps.clear();
        caps.push(value.to_string());
        for (a, b) in spans {
            caps.push(text.get(a..b).unwrap_or_default().iter().collect());
        }
    }
    Ok(true)
}
