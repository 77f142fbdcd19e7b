//! Wire shapes: Authentication, ACLs and quotas: SaslHandshake, SaslAuthenticate, DescribeAcls, CreateAcls, DeleteAcls, DescribeClientQuotas, AlterClientQuotas, DescribeUserScramCredentials, AlterUserScramCredentials.
//!
//! Derived from kafka-protocol 0.18's generated decoders with
//! `scripts/shape_table_from_kafka_protocol.py`, then reviewed; the round-trip tests in
//! `shape/tests.rs` check every entry against the crate. Field versions are absolute
//! message versions; tagged fields are only read in flexible versions.

/// `SaslHandshakeRequest`: versions 0–1, never flexible.
pub(crate) mod sasl_handshake_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 1, NEVER, &SASL_HANDSHAKE_REQUEST);

    static SASL_HANDSHAKE_REQUEST: Struct = Struct::new(
        "SaslHandshakeRequest",
        &[field("mechanism", ALL, Ty::String)],
        &[],
    );
}

/// `SaslHandshakeResponse`: versions 0–1, never flexible.
pub(crate) mod sasl_handshake_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 1, NEVER, &SASL_HANDSHAKE_RESPONSE);

    static SASL_HANDSHAKE_RESPONSE: Struct = Struct::new(
        "SaslHandshakeResponse",
        &[
            field("error_code", ALL, Ty::Int16),
            field("mechanisms", ALL, Ty::Array(Elem::String)),
        ],
        &[],
    );
}

/// `SaslAuthenticateRequest`: versions 0–2, flexible from v2.
pub(crate) mod sasl_authenticate_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 2, &SASL_AUTHENTICATE_REQUEST);

    static SASL_AUTHENTICATE_REQUEST: Struct = Struct::new(
        "SaslAuthenticateRequest",
        &[field("auth_bytes", ALL, Ty::Bytes)],
        &[],
    );
}

/// `SaslAuthenticateResponse`: versions 0–2, flexible from v2.
pub(crate) mod sasl_authenticate_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 2, &SASL_AUTHENTICATE_RESPONSE);

    static SASL_AUTHENTICATE_RESPONSE: Struct = Struct::new(
        "SaslAuthenticateResponse",
        &[
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("auth_bytes", ALL, Ty::Bytes),
            field("session_lifetime_ms", since(1), Ty::Int64),
        ],
        &[],
    );
}

/// `DescribeAclsRequest`: versions 1–3, flexible from v2.
pub(crate) mod describe_acls_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 3, 2, &DESCRIBE_ACLS_REQUEST);

    static DESCRIBE_ACLS_REQUEST: Struct = Struct::new(
        "DescribeAclsRequest",
        &[
            field("resource_type_filter", ALL, Ty::Int8),
            field("resource_name_filter", ALL, Ty::String),
            field("pattern_type_filter", ALL, Ty::Int8),
            field("principal_filter", ALL, Ty::String),
            field("host_filter", ALL, Ty::String),
            field("operation", ALL, Ty::Int8),
            field("permission_type", ALL, Ty::Int8),
        ],
        &[],
    );
}

/// `DescribeAclsResponse`: versions 1–3, flexible from v2.
pub(crate) mod describe_acls_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 3, 2, &DESCRIBE_ACLS_RESPONSE);

    static DESCRIBE_ACLS_RESPONSE: Struct = Struct::new(
        "DescribeAclsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("resources", ALL, array(&DESCRIBE_ACLS_RESOURCE)),
        ],
        &[],
    );

    static DESCRIBE_ACLS_RESOURCE: Struct = Struct::new(
        "DescribeAclsResource",
        &[
            field("resource_type", ALL, Ty::Int8),
            field("resource_name", ALL, Ty::String),
            field("pattern_type", ALL, Ty::Int8),
            field("acls", ALL, array(&ACL_DESCRIPTION)),
        ],
        &[],
    );

    static ACL_DESCRIPTION: Struct = Struct::new(
        "AclDescription",
        &[
            field("principal", ALL, Ty::String),
            field("host", ALL, Ty::String),
            field("operation", ALL, Ty::Int8),
            field("permission_type", ALL, Ty::Int8),
        ],
        &[],
    );
}

/// `CreateAclsRequest`: versions 1–3, flexible from v2.
pub(crate) mod create_acls_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 3, 2, &CREATE_ACLS_REQUEST);

    static CREATE_ACLS_REQUEST: Struct = Struct::new(
        "CreateAclsRequest",
        &[field("creations", ALL, array(&ACL_CREATION))],
        &[],
    );

    static ACL_CREATION: Struct = Struct::new(
        "AclCreation",
        &[
            field("resource_type", ALL, Ty::Int8),
            field("resource_name", ALL, Ty::String),
            field("resource_pattern_type", ALL, Ty::Int8),
            field("principal", ALL, Ty::String),
            field("host", ALL, Ty::String),
            field("operation", ALL, Ty::Int8),
            field("permission_type", ALL, Ty::Int8),
        ],
        &[],
    );
}

/// `CreateAclsResponse`: versions 1–3, flexible from v2.
pub(crate) mod create_acls_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 3, 2, &CREATE_ACLS_RESPONSE);

    static CREATE_ACLS_RESPONSE: Struct = Struct::new(
        "CreateAclsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("results", ALL, array(&ACL_CREATION_RESULT)),
        ],
        &[],
    );

    static ACL_CREATION_RESULT: Struct = Struct::new(
        "AclCreationResult",
        &[
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
        ],
        &[],
    );
}

/// `DeleteAclsRequest`: versions 1–3, flexible from v2.
pub(crate) mod delete_acls_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 3, 2, &DELETE_ACLS_REQUEST);

    static DELETE_ACLS_REQUEST: Struct = Struct::new(
        "DeleteAclsRequest",
        &[field("filters", ALL, array(&DELETE_ACLS_FILTER))],
        &[],
    );

    static DELETE_ACLS_FILTER: Struct = Struct::new(
        "DeleteAclsFilter",
        &[
            field("resource_type_filter", ALL, Ty::Int8),
            field("resource_name_filter", ALL, Ty::String),
            field("pattern_type_filter", ALL, Ty::Int8),
            field("principal_filter", ALL, Ty::String),
            field("host_filter", ALL, Ty::String),
            field("operation", ALL, Ty::Int8),
            field("permission_type", ALL, Ty::Int8),
        ],
        &[],
    );
}

/// `DeleteAclsResponse`: versions 1–3, flexible from v2.
pub(crate) mod delete_acls_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(1, 3, 2, &DELETE_ACLS_RESPONSE);

    static DELETE_ACLS_RESPONSE: Struct = Struct::new(
        "DeleteAclsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("filter_results", ALL, array(&DELETE_ACLS_FILTER_RESULT)),
        ],
        &[],
    );

    static DELETE_ACLS_FILTER_RESULT: Struct = Struct::new(
        "DeleteAclsFilterResult",
        &[
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("matching_acls", ALL, array(&DELETE_ACLS_MATCHING_ACL)),
        ],
        &[],
    );

    static DELETE_ACLS_MATCHING_ACL: Struct = Struct::new(
        "DeleteAclsMatchingAcl",
        &[
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("resource_type", ALL, Ty::Int8),
            field("resource_name", ALL, Ty::String),
            field("pattern_type", ALL, Ty::Int8),
            field("principal", ALL, Ty::String),
            field("host", ALL, Ty::String),
            field("operation", ALL, Ty::Int8),
            field("permission_type", ALL, Ty::Int8),
        ],
        &[],
    );
}

/// `DescribeClientQuotasRequest`: versions 0–1, flexible from v1.
pub(crate) mod describe_client_quotas_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 1, 1, &DESCRIBE_CLIENT_QUOTAS_REQUEST);

    static DESCRIBE_CLIENT_QUOTAS_REQUEST: Struct = Struct::new(
        "DescribeClientQuotasRequest",
        &[
            field("components", ALL, array(&COMPONENT_DATA)),
            field("strict", ALL, Ty::Bool),
        ],
        &[],
    );

    static COMPONENT_DATA: Struct = Struct::new(
        "ComponentData",
        &[
            field("entity_type", ALL, Ty::String),
            field("match_type", ALL, Ty::Int8),
            field("_match", ALL, Ty::String),
        ],
        &[],
    );
}

/// `DescribeClientQuotasResponse`: versions 0–1, flexible from v1.
pub(crate) mod describe_client_quotas_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 1, 1, &DESCRIBE_CLIENT_QUOTAS_RESPONSE);

    static DESCRIBE_CLIENT_QUOTAS_RESPONSE: Struct = Struct::new(
        "DescribeClientQuotasResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("entries", ALL, array(&ENTRY_DATA)),
        ],
        &[],
    );

    static ENTRY_DATA: Struct = Struct::new(
        "EntryData",
        &[
            field("entity", ALL, array(&ENTITY_DATA)),
            field("values", ALL, array(&VALUE_DATA)),
        ],
        &[],
    );

    static ENTITY_DATA: Struct = Struct::new(
        "EntityData",
        &[
            field("entity_type", ALL, Ty::String),
            field("entity_name", ALL, Ty::String),
        ],
        &[],
    );

    static VALUE_DATA: Struct = Struct::new(
        "ValueData",
        &[
            field("key", ALL, Ty::String),
            field("value", ALL, Ty::Float64),
        ],
        &[],
    );
}

/// `AlterClientQuotasRequest`: versions 0–1, flexible from v1.
pub(crate) mod alter_client_quotas_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 1, 1, &ALTER_CLIENT_QUOTAS_REQUEST);

    static ALTER_CLIENT_QUOTAS_REQUEST: Struct = Struct::new(
        "AlterClientQuotasRequest",
        &[
            field("entries", ALL, array(&ENTRY_DATA)),
            field("validate_only", ALL, Ty::Bool),
        ],
        &[],
    );

    static ENTRY_DATA: Struct = Struct::new(
        "EntryData",
        &[
            field("entity", ALL, array(&ENTITY_DATA)),
            field("ops", ALL, array(&OP_DATA)),
        ],
        &[],
    );

    static ENTITY_DATA: Struct = Struct::new(
        "EntityData",
        &[
            field("entity_type", ALL, Ty::String),
            field("entity_name", ALL, Ty::String),
        ],
        &[],
    );

    static OP_DATA: Struct = Struct::new(
        "OpData",
        &[
            field("key", ALL, Ty::String),
            field("value", ALL, Ty::Float64),
            field("remove", ALL, Ty::Bool),
        ],
        &[],
    );
}

/// `AlterClientQuotasResponse`: versions 0–1, flexible from v1.
pub(crate) mod alter_client_quotas_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 1, 1, &ALTER_CLIENT_QUOTAS_RESPONSE);

    static ALTER_CLIENT_QUOTAS_RESPONSE: Struct = Struct::new(
        "AlterClientQuotasResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("entries", ALL, array(&ENTRY_DATA)),
        ],
        &[],
    );

    static ENTRY_DATA: Struct = Struct::new(
        "EntryData",
        &[
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("entity", ALL, array(&ENTITY_DATA)),
        ],
        &[],
    );

    static ENTITY_DATA: Struct = Struct::new(
        "EntityData",
        &[
            field("entity_type", ALL, Ty::String),
            field("entity_name", ALL, Ty::String),
        ],
        &[],
    );
}

/// `DescribeUserScramCredentialsRequest`: versions 0–0, flexible from v0.
pub(crate) mod describe_user_scram_credentials_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message =
        Message::new(0, 0, 0, &DESCRIBE_USER_SCRAM_CREDENTIALS_REQUEST);

    static DESCRIBE_USER_SCRAM_CREDENTIALS_REQUEST: Struct = Struct::new(
        "DescribeUserScramCredentialsRequest",
        &[field("users", ALL, array(&USER_NAME))],
        &[],
    );

    static USER_NAME: Struct = Struct::new("UserName", &[field("name", ALL, Ty::String)], &[]);
}

/// `DescribeUserScramCredentialsResponse`: versions 0–0, flexible from v0.
pub(crate) mod describe_user_scram_credentials_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message =
        Message::new(0, 0, 0, &DESCRIBE_USER_SCRAM_CREDENTIALS_RESPONSE);

    static DESCRIBE_USER_SCRAM_CREDENTIALS_RESPONSE: Struct = Struct::new(
        "DescribeUserScramCredentialsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field(
                "results",
                ALL,
                array(&DESCRIBE_USER_SCRAM_CREDENTIALS_RESULT),
            ),
        ],
        &[],
    );

    static DESCRIBE_USER_SCRAM_CREDENTIALS_RESULT: Struct = Struct::new(
        "DescribeUserScramCredentialsResult",
        &[
            field("user", ALL, Ty::String),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
            field("credential_infos", ALL, array(&CREDENTIAL_INFO)),
        ],
        &[],
    );

    static CREDENTIAL_INFO: Struct = Struct::new(
        "CredentialInfo",
        &[
            field("mechanism", ALL, Ty::Int8),
            field("iterations", ALL, Ty::Int32),
        ],
        &[],
    );
}

/// `AlterUserScramCredentialsRequest`: versions 0–0, flexible from v0.
pub(crate) mod alter_user_scram_credentials_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 0, 0, &ALTER_USER_SCRAM_CREDENTIALS_REQUEST);

    static ALTER_USER_SCRAM_CREDENTIALS_REQUEST: Struct = Struct::new(
        "AlterUserScramCredentialsRequest",
        &[
            field("deletions", ALL, array(&SCRAM_CREDENTIAL_DELETION)),
            field("upsertions", ALL, array(&SCRAM_CREDENTIAL_UPSERTION)),
        ],
        &[],
    );

    static SCRAM_CREDENTIAL_DELETION: Struct = Struct::new(
        "ScramCredentialDeletion",
        &[
            field("name", ALL, Ty::String),
            field("mechanism", ALL, Ty::Int8),
        ],
        &[],
    );

    static SCRAM_CREDENTIAL_UPSERTION: Struct = Struct::new(
        "ScramCredentialUpsertion",
        &[
            field("name", ALL, Ty::String),
            field("mechanism", ALL, Ty::Int8),
            field("iterations", ALL, Ty::Int32),
            field("salt", ALL, Ty::Bytes),
            field("salted_password", ALL, Ty::Bytes),
        ],
        &[],
    );
}

/// `AlterUserScramCredentialsResponse`: versions 0–0, flexible from v0.
pub(crate) mod alter_user_scram_credentials_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message =
        Message::new(0, 0, 0, &ALTER_USER_SCRAM_CREDENTIALS_RESPONSE);

    static ALTER_USER_SCRAM_CREDENTIALS_RESPONSE: Struct = Struct::new(
        "AlterUserScramCredentialsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("results", ALL, array(&ALTER_USER_SCRAM_CREDENTIALS_RESULT)),
        ],
        &[],
    );

    static ALTER_USER_SCRAM_CREDENTIALS_RESULT: Struct = Struct::new(
        "AlterUserScramCredentialsResult",
        &[
            field("user", ALL, Ty::String),
            field("error_code", ALL, Ty::Int16),
            field("error_message", ALL, Ty::String),
        ],
        &[],
    );
}
