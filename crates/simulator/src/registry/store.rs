//! The registry's state: schemas by id, subjects with their versions, compatibility levels,
//! and the Avro compatibility rules.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use apache_avro::Schema;
use apache_avro::schema_compatibility::SchemaCompatibility;

/// A compatibility level, as Confluent names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompatibilityLevel {
    /// No checks.
    None,
    /// The new schema reads data written with the latest version.
    Backward,
    /// The new schema reads data written with every version.
    BackwardTransitive,
    /// The latest version reads data written with the new schema.
    Forward,
    /// Every version reads data written with the new schema.
    ForwardTransitive,
    /// Backward and forward, against the latest version.
    Full,
    /// Backward and forward, against every version.
    FullTransitive,
}

impl CompatibilityLevel {
    /// The Confluent name (`BACKWARD`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }

    fn checks_backward(self) -> bool {
        matches!(
            self,
            Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    fn checks_forward(self) -> bool {
        matches!(
            self,
            Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CompatibilityLevel {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text.to_ascii_uppercase().as_str() {
            "NONE" => Self::None,
            "BACKWARD" => Self::Backward,
            "BACKWARD_TRANSITIVE" => Self::BackwardTransitive,
            "FORWARD" => Self::Forward,
            "FORWARD_TRANSITIVE" => Self::ForwardTransitive,
            "FULL" => Self::Full,
            "FULL_TRANSITIVE" => Self::FullTransitive,
            other => return Err(format!("Invalid compatibility level: {other}")),
        })
    }
}

/// A registry error, with its Confluent error code and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryFailure {
    /// HTTP status.
    pub status: u16,
    /// Confluent `error_code`.
    pub error_code: u32,
    /// Confluent `message`.
    pub message: String,
}

impl RegistryFailure {
    fn new(status: u16, error_code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            message: message.into(),
        }
    }

    /// 404 / 40401.
    pub fn subject_not_found(subject: &str) -> Self {
        Self::new(404, 40401, format!("Subject '{subject}' not found."))
    }

    /// 404 / 40402.
    pub fn version_not_found(version: &str) -> Self {
        Self::new(404, 40402, format!("Version {version} not found."))
    }

    /// 404 / 40403.
    pub fn schema_not_found() -> Self {
        Self::new(404, 40403, "Schema not found")
    }

    /// 422 / 42201.
    pub fn invalid_schema(detail: &str) -> Self {
        Self::new(422, 42201, format!("Invalid schema: {detail}"))
    }

    /// 422 / 42202.
    pub fn invalid_version(version: &str) -> Self {
        Self::new(
            422,
            42202,
            format!(
                "The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
            ),
        )
    }

    /// 422 / 42203.
    pub fn invalid_compatibility_level(detail: &str) -> Self {
        Self::new(422, 42203, detail.to_owned())
    }

    /// 409 / 409.
    pub fn incompatible(subject: &str, detail: &str) -> Self {
        Self::new(
            409,
            409,
            format!(
                "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: {detail}"
            ),
        )
    }

    /// 404 / 40408.
    pub fn subject_level_config_not_found(subject: &str) -> Self {
        Self::new(
            404,
            40408,
            format!("Subject '{subject}' does not have subject-level compatibility configured"),
        )
    }

    /// 422 / 422 (bad request body).
    pub fn unprocessable(detail: &str) -> Self {
        Self::new(422, 422, detail.to_owned())
    }
}

/// A schema held by the registry.
struct StoredSchema {
    text: String,
    parsed: Schema,
}

/// One registered version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectVersion {
    /// The subject.
    pub subject: String,
    /// Version number, from 1.
    pub version: u32,
    /// Global schema id.
    pub id: u32,
    /// Schema text.
    pub schema: String,
}

/// Which version of a subject a request means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    /// `latest`.
    Latest,
    /// A number.
    Number(u32),
}

impl VersionSelector {
    /// Parse `latest`, `-1` or a positive number.
    pub fn parse(text: &str) -> Result<Self, RegistryFailure> {
        if text == "latest" || text == "-1" {
            return Ok(Self::Latest);
        }
        match text.parse::<u32>() {
            Ok(number) if number >= 1 && number <= i32::MAX as u32 => Ok(Self::Number(number)),
            _ => Err(RegistryFailure::invalid_version(text)),
        }
    }
}

/// The whole registry state (in memory).
pub struct RegistryStore {
    schemas: Vec<StoredSchema>,
    /// Normalized schema JSON -> id.
    ids_by_schema: HashMap<String, u32>,
    /// Subject -> ids of its versions, in version order (version = index + 1).
    subjects: BTreeMap<String, Vec<u32>>,
    global_level: CompatibilityLevel,
    subject_levels: HashMap<String, CompatibilityLevel>,
}

impl Default for RegistryStore {
    fn default() -> Self {
        Self {
            schemas: Vec::new(),
            ids_by_schema: HashMap::new(),
            subjects: BTreeMap::new(),
            global_level: CompatibilityLevel::Backward,
            subject_levels: HashMap::new(),
        }
    }
}

/// Parse an Avro schema and give its normalized JSON text (used to recognise the same schema).
fn parse_avro(text: &str) -> Result<(Schema, String), RegistryFailure> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| RegistryFailure::invalid_schema(&e.to_string()))?;
    let parsed =
        Schema::parse(&json).map_err(|e| RegistryFailure::invalid_schema(&e.to_string()))?;
    Ok((parsed, json.to_string()))
}

impl RegistryStore {
    /// The global compatibility level.
    pub fn global_level(&self) -> CompatibilityLevel {
        self.global_level
    }

    /// Set the global compatibility level.
    pub fn set_global_level(&mut self, level: CompatibilityLevel) {
        self.global_level = level;
    }

    /// The subject-level compatibility level, if one is set.
    pub fn subject_level(&self, subject: &str) -> Option<CompatibilityLevel> {
        self.subject_levels.get(subject).copied()
    }

    /// Set a subject-level compatibility level.
    pub fn set_subject_level(&mut self, subject: &str, level: CompatibilityLevel) {
        self.subject_levels.insert(subject.to_owned(), level);
    }

    fn effective_level(&self, subject: &str) -> CompatibilityLevel {
        self.subject_level(subject).unwrap_or(self.global_level)
    }

    /// Every subject with at least one version, sorted.
    pub fn subjects(&self) -> Vec<String> {
        self.subjects.keys().cloned().collect()
    }

    /// The version numbers of a subject.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryFailure> {
        let ids = self
            .subjects
            .get(subject)
            .ok_or_else(|| RegistryFailure::subject_not_found(subject))?;
        Ok((1..=ids.len() as u32).collect())
    }

    fn schema(&self, id: u32) -> Option<&StoredSchema> {
        self.schemas.get((id as usize).checked_sub(1)?)
    }

    /// The schema text with this id.
    pub fn schema_by_id(&self, id: u32) -> Result<String, RegistryFailure> {
        self.schema(id)
            .map(|stored| stored.text.clone())
            .ok_or_else(RegistryFailure::schema_not_found)
    }

    /// One version of a subject.
    pub fn version(
        &self,
        subject: &str,
        selector: VersionSelector,
    ) -> Result<SubjectVersion, RegistryFailure> {
        let ids = self
            .subjects
            .get(subject)
            .ok_or_else(|| RegistryFailure::subject_not_found(subject))?;
        let (version, id) = match selector {
            VersionSelector::Latest => match ids.last() {
                Some(id) => (ids.len() as u32, *id),
                None => return Err(RegistryFailure::version_not_found("latest")),
            },
            VersionSelector::Number(number) => match ids.get(number as usize - 1) {
                Some(id) => (number, *id),
                None => return Err(RegistryFailure::version_not_found(&number.to_string())),
            },
        };
        Ok(SubjectVersion {
            subject: subject.to_owned(),
            version,
            id,
            schema: self.schema_by_id(id)?,
        })
    }

    /// Find `schema_text` among the versions of `subject`.
    pub fn lookup(
        &self,
        subject: &str,
        schema_text: &str,
    ) -> Result<SubjectVersion, RegistryFailure> {
        let ids = self
            .subjects
            .get(subject)
            .ok_or_else(|| RegistryFailure::subject_not_found(subject))?;
        let (_, normalized) = parse_avro(schema_text)?;
        let id = self
            .ids_by_schema
            .get(&normalized)
            .copied()
            .ok_or_else(RegistryFailure::schema_not_found)?;
        let position = ids
            .iter()
            .position(|candidate| *candidate == id)
            .ok_or_else(RegistryFailure::schema_not_found)?;
        self.version(subject, VersionSelector::Number(position as u32 + 1))
    }

    /// Check `candidate` against the given versions' schemas at `level`; the error text says
    /// which rule failed.
    fn check(
        level: CompatibilityLevel,
        candidate: &Schema,
        existing: &[&Schema],
    ) -> Result<(), String> {
        for old in existing {
            if level.checks_backward() {
                SchemaCompatibility::can_read(old, candidate).map_err(|e| {
                    format!("new schema cannot read data written with an earlier version: {e}")
                })?;
            }
            if level.checks_forward() {
                SchemaCompatibility::can_read(candidate, old).map_err(|e| {
                    format!("an earlier version cannot read data written with the new schema: {e}")
                })?;
            }
        }
        Ok(())
    }

    /// Whether `schema_text` is compatible with one version of `subject` (at the subject's level;
    /// only against that version, as Confluent's compatibility endpoint does).
    pub fn is_compatible(
        &self,
        subject: &str,
        selector: VersionSelector,
        schema_text: &str,
    ) -> Result<Result<(), String>, RegistryFailure> {
        let (candidate, _) = parse_avro(schema_text)?;
        let version = self.version(subject, selector)?;
        let level = self.effective_level(subject);
        let old = self
            .schema(version.id)
            .map(|stored| &stored.parsed)
            .ok_or_else(RegistryFailure::schema_not_found)?;
        Ok(Self::check(level, &candidate, &[old]))
    }

    /// Register `schema_text` under `subject`; the id (same schema, same id, across subjects).
    pub fn register(&mut self, subject: &str, schema_text: &str) -> Result<u32, RegistryFailure> {
        let (candidate, normalized) = parse_avro(schema_text)?;
        let existing_id = self.ids_by_schema.get(&normalized).copied();
        let versions = self.subjects.get(subject).cloned().unwrap_or_default();
        if let Some(id) = existing_id.filter(|id| versions.contains(id)) {
            return Ok(id);
        }
        let level = self.effective_level(subject);
        if level != CompatibilityLevel::None && !versions.is_empty() {
            let against: Vec<&Schema> = if level.transitive() {
                versions
                    .iter()
                    .filter_map(|id| self.schema(*id))
                    .map(|s| &s.parsed)
                    .collect()
            } else {
                versions
                    .last()
                    .and_then(|id| self.schema(*id))
                    .map(|s| &s.parsed)
                    .into_iter()
                    .collect()
            };
            Self::check(level, &candidate, &against)
                .map_err(|detail| RegistryFailure::incompatible(subject, &detail))?;
        }
        let id = match existing_id {
            Some(id) => id,
            None => {
                self.schemas.push(StoredSchema {
                    text: schema_text.to_owned(),
                    parsed: candidate,
                });
                let id = self.schemas.len() as u32;
                self.ids_by_schema.insert(normalized, id);
                id
            }
        };
        self.subjects
            .entry(subject.to_owned())
            .or_default()
            .push(id);
        Ok(id)
    }
}
