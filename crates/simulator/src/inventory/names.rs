//! The word lists generated names are drawn from.

pub(super) const FIRST_NAMES: &[&str] = &[
    "john", "jane", "maurice", "roy", "jen", "douglas", "richmond", "alice", "bob", "carol",
    "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
    "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe", "amir", "chen",
];
pub(super) const LAST_NAMES: &[&str] = &[
    "doe",
    "moss",
    "trenneman",
    "barbour",
    "reynholm",
    "avenal",
    "smith",
    "jones",
    "garcia",
    "martin",
    "dubois",
    "muller",
    "rossi",
    "tanaka",
    "kim",
    "nguyen",
    "silva",
    "kowalski",
    "novak",
    "ivanova",
    "oconnor",
    "schmidt",
    "fischer",
    "lopez",
    "khan",
];
pub(super) const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "IT",
    "Support",
];
/// (name, displayLabel) of SSO connectors.
pub(super) const APPLICATIONS: &[(&str, &str)] = &[
    ("google", "Google Workspace"),
    ("salesforce", "Salesforce"),
    ("zoom", "Zoom"),
    ("aws-sso", "AWS SSO"),
    ("slack", "Slack"),
    ("github", "GitHub"),
    ("atlassian", "Atlassian Cloud"),
    ("okta", "Okta"),
    ("box", "Box"),
    ("dropbox", "Dropbox Business"),
];
pub(super) const GROUP_NAMES: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "IT Admins",
    "Contractors",
    "VPN Users",
    "Wi-Fi Corp",
    "Executives",
    "Support",
    "Interns",
    "Security",
];

pub(super) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
