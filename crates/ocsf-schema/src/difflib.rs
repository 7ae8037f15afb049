//! "Did you mean ...?" for an unknown attribute: Python's `difflib.get_close_matches(word,
//! possibilities, n=1, cutoff=0.6)` (Ratcliff/Obershelp similarity), so the hint is the one the
//! reference validator gives.

use std::collections::{HashMap, HashSet};

/// The possibility most similar to `word` with a similarity of at least 0.6, if any (ties go
/// to the greatest string, as `heapq.nlargest` on `(score, name)` pairs does).
pub(crate) fn close_match<'a>(
    word: &str,
    possibilities: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let b: Vec<char> = word.chars().collect();
    let b2j = index_of(&b);
    let mut best: Option<(f64, &str)> = None;
    for candidate in possibilities {
        let a: Vec<char> = candidate.chars().collect();
        let score = ratio(&a, &b, &b2j);
        if score < 0.6 {
            continue;
        }
        let better = match best {
            None => true,
            Some((best_score, best_name)) => {
                score > best_score
                    || (score == best_score && candidate.chars().gt(best_name.chars()))
            }
        };
        if better {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, name)| name)
}

/// `SequenceMatcher.b2j`: positions of each element of `b`, without the "popular" elements
/// (more than 1 % of a sequence of 200 or more), as `autojunk=True` does.
fn index_of(b: &[char]) -> HashMap<char, Vec<usize>> {
    let mut b2j: HashMap<char, Vec<usize>> = HashMap::new();
    for (j, c) in b.iter().enumerate() {
        b2j.entry(*c).or_default().push(j);
    }
    let n = b.len();
    if n >= 200 {
        let limit = n / 100 + 1;
        let popular: HashSet<char> = b2j
            .iter()
            .filter(|(_, js)| js.len() > limit)
            .map(|(c, _)| *c)
            .collect();
        b2j.retain(|c, _| !popular.contains(c));
    }
    b2j
}

fn ratio(a: &[char], b: &[char], b2j: &HashMap<char, Vec<usize>>) -> f64 {
    let length = a.len() + b.len();
    if length == 0 {
        return 1.0;
    }
    let mut matches = 0;
    let mut queue = vec![(0, a.len(), 0, b.len())];
    while let Some((alo, ahi, blo, bhi)) = queue.pop() {
        let (i, j, k) = longest_match(a, b, b2j, (alo, ahi, blo, bhi));
        if k > 0 {
            matches += k;
            if alo < i && blo < j {
                queue.push((alo, i, blo, j));
            }
            if i + k < ahi && j + k < bhi {
                queue.push((i + k, ahi, j + k, bhi));
            }
        }
    }
    2.0 * matches as f64 / length as f64
}

/// `SequenceMatcher.find_longest_match` without junk: the longest common block, earliest in
/// `a`, then earliest in `b`, extended over popular elements.
fn longest_match(
    a: &[char],
    b: &[char],
    b2j: &HashMap<char, Vec<usize>>,
    (alo, ahi, blo, bhi): (usize, usize, usize, usize),
) -> (usize, usize, usize) {
    let (mut best_i, mut best_j, mut best_size) = (alo, blo, 0);
    let mut j2len: HashMap<usize, usize> = HashMap::new();
    for (i, c) in a.iter().enumerate().take(ahi).skip(alo) {
        let mut next: HashMap<usize, usize> = HashMap::new();
        for &j in b2j.get(c).map(Vec::as_slice).unwrap_or(&[]) {
            if j < blo {
                continue;
            }
            if j >= bhi {
                break;
            }
            let k = j
                .checked_sub(1)
                .and_then(|p| j2len.get(&p))
                .copied()
                .unwrap_or(0)
                + 1;
            next.insert(j, k);
            if k > best_size {
                (best_i, best_j, best_size) = (i + 1 - k, j + 1 - k, k);
            }
        }
        j2len = next;
    }
    while best_i > alo && best_j > blo && a[best_i - 1] == b[best_j - 1] {
        best_i -= 1;
        best_j -= 1;
        best_size += 1;
    }
    while best_i + best_size < ahi
        && best_j + best_size < bhi
        && a[best_i + best_size] == b[best_j + best_size]
    {
        best_size += 1;
    }
    (best_i, best_j, best_size)
}

#[cfg(test)]
mod tests {
    use super::close_match;

    #[test]
    fn like_python_get_close_matches() {
        // Values checked with Python 3.11's difflib.get_close_matches(word, names, n=1).
        let names = ["user", "users", "time", "time_dt", "metadata", "message"];
        let m = |w: &str| close_match(w, names.iter().copied());
        assert_eq!(m("usr"), Some("user"));
        assert_eq!(m("metdata"), Some("metadata"));
        assert_eq!(m("tim"), Some("time"));
        assert_eq!(m("zzzz"), None);
        assert_eq!(m(""), None);
    }
}
