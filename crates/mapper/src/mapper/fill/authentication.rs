//! Authentication (3002): who signed in to what, how (protocol, factors, logon type), from where.

use std::borrow::Cow;

use crate::mapper::extract::*;
use crate::mapper::model::*;
use crate::source::RawObject;
use crate::tables::MappingTables;

impl<'a> OcsfEvent<'a> {
    /// The service signed in to when neither the event nor the vendor's rows name one: the
    /// table's (`service`), else the DI service's ([services]), else JumpCloud.
    pub(in crate::mapper) fn default_service(
        &mut self,
        tables: &MappingTables,
        service_name: Option<&str>,
    ) {
        if self.service_object.is_none() {
            let name = service_name
                .or_else(|| self.service.as_deref().and_then(|s| tables.service_name(s)))
                .unwrap_or("JumpCloud");
            self.service_object = Some(Named {
                name: Some(Cow::Owned(name.to_owned())),
                ..Named::default()
            });
        }
    }

    pub(in crate::mapper) fn fill_authentication(
        &mut self,
        source: &RawObject<'a>,
        auth_protocol_id: Option<i32>,
    ) {
        let user_open = self.user_open();
        let consumed = &mut self.consumed;
        let initiated_by = source
            .object("initiated_by")
            .and_then(|object| person(object, "initiated_by", consumed));
        if user_open {
            let user = initiated_by
                .clone()
                .or_else(|| {
                    source
                        .object("resource")
                        .and_then(|object| person(object, "resource", consumed))
                })
                .or_else(|| {
                    source.non_empty_str("username").map(|name| {
                        consumed.take("username");
                        Person {
                            name: Some(name),
                            ..Person::default()
                        }
                    })
                });
            if let Some(user) = &user
                && source.non_empty_str("username").as_deref() == user.name.as_deref()
            {
                self.consumed.take("username");
            }
            self.user = user;
        }
        self.actor = initiated_by;

        let is_sso = self.event_type.as_deref() == Some("sso_auth");
        if is_sso {
            self.status = status(source, true, &mut self.consumed);
        }
        let mut protocol = auth_protocol_id;
        if let Some(application) = source.object("application") {
            let name_key = ["display_label", "displayName", "name"]
                .into_iter()
                .find(|key| application.non_empty_str(key).is_some());
            let service = Named {
                uid: application.non_empty_str("id"),
                name: name_key.and_then(|key| application.non_empty_str(key)),
                kind: None,
            };
            if service.is_usable() {
                for key in ["id"].into_iter().chain(name_key) {
                    if application.get(key).is_some() {
                        self.consumed.take2("application", key);
                    }
                }
                self.service_object = Some(service);
            }
            let sso_protocol = match application.non_empty_str("sso_type").as_deref() {
                Some(kind) if kind.eq_ignore_ascii_case("saml") => Some(5),
                Some(kind)
                    if kind.eq_ignore_ascii_case("oidc") || kind.eq_ignore_ascii_case("openid") =>
                {
                    Some(4)
                }
                _ => None,
            };
            // `sso_type` stays in `unmapped` too (auth_protocol is coarser: oidc/openid -> 4).
            if sso_protocol.is_some() {
                protocol = sso_protocol;
            }
        }
        self.auth_protocol_id = Some(protocol.unwrap_or(0));
        if let Some(mfa) = source.bool("mfa") {
            self.consumed.take("mfa");
            self.is_mfa = Some(mfa);
        }
        if let Some(mfa_meta) = source.object("mfa_meta")
            && let Some(kind) = mfa_meta.non_empty_str("type")
            && let Some(factor) = auth_factor_named(&kind)
        {
            self.consumed.take2("mfa_meta", "type");
            self.add_auth_factor(factor);
        }
        // The methods the sign-in used (each with its own `success`, which stays in `unmapped`
        // with them: the factors are a typed view).
        if let Some(methods) = source
            .object("auth_context")
            .and_then(|context| context.object("auth_methods"))
        {
            for field in &methods.fields {
                if let Some(factor) = auth_factor_named(&field.key) {
                    self.add_auth_factor(factor);
                }
            }
        }
        self.logon_type = logon_type(source, &mut self.consumed);
        // SSO: the device the user signs in from (device certificate), when known.
        if let Some(system) = source
            .object("auth_context")
            .and_then(|context| context.object("system"))
        {
            let uid = system.non_empty_str("id");
            let hostname = system.non_empty_str("hostname");
            if uid.is_some() || hostname.is_some() {
                if uid.is_some() {
                    self.consumed.take3("auth_context", "system", "id");
                }
                if hostname.is_some() {
                    self.consumed.take3("auth_context", "system", "hostname");
                }
                self.src_endpoint = Some(Endpoint {
                    uid,
                    hostname,
                    ..Endpoint::default()
                });
            }
        }
    }
}
