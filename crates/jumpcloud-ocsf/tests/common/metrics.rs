//! The running pipeline's `/metrics` and `/readyz`, read over HTTP.

/// Status and body of a GET (`0` and an empty body when nothing answers).
pub async fn get(url: &str) -> (u16, String) {
    match reqwest::get(url).await {
        Ok(response) => (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        ),
        Err(_) => (0, String::new()),
    }
}

/// `(org label, value)` of every sample of `name` with an `org` label.
pub fn samples(body: &str, name: &str) -> Vec<(String, f64)> {
    let prefix = format!("{name}{{org=\"");
    body.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (org, value) = rest.split_once("\"}")?;
            Some((org.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The value of `name` without labels.
pub fn plain(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| {
            line.strip_prefix(&format!("{name} "))
                .or_else(|| line.strip_prefix(&format!("{name}{{}} ")))
        })
        .and_then(|value| value.trim().parse().ok())
}
