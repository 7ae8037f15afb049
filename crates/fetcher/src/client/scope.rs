//! Whom a request is about.

use std::sync::Arc;

/// Whom a request is about: the headers `x-org-id` (once or several times) or `x-provider-id`.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// One organisation (`""`: none named, the credential's own).
    Org(&'a str),
    /// Several organisations at once (Directory Insights accepts `x-org-id` repeated).
    Orgs(&'a [Arc<str>]),
    /// The Multi-Tenant Portal itself (`x-provider-id`): its own events.
    Provider(&'a str),
}

impl Scope<'_> {
    /// The name errors and logs use: the organisation, the organisations joined by `,`, or
    /// `provider/<id>`.
    pub fn name(&self) -> String {
        match self {
            Scope::Org(org) => (*org).to_owned(),
            Scope::Orgs(orgs) => orgs.iter().map(|o| &**o).collect::<Vec<_>>().join(","),
            Scope::Provider(id) => format!("provider/{id}"),
        }
    }
}
