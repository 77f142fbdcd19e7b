//! The options the printer writes: the fields of the `prost_types` option messages, as
//! `(name, value text)` pairs. Each type is destructured without `..`, so a field added
//! to it fails to compile here instead of being dropped silently. Uninterpreted options
//! make the printer give up (`None`).

use prost_types::{
    field_options, file_options, method_options, EnumOptions, EnumValueOptions, FieldOptions,
    FileOptions, MessageOptions, MethodOptions, ServiceOptions,
};

use super::{quote, Lines};

/// Option `(name, value text)` pairs.
pub(super) type Opts = Vec<(String, String)>;

/// `option name = value;` lines, sorted by name.
pub(super) fn statements(mut opts: Opts) -> Lines {
    opts.sort();
    opts.into_iter()
        .map(|(k, v)| format!("option {k} = {v};"))
        .collect()
}

fn push_str(o: &mut Opts, name: &str, v: &Option<String>) {
    if let Some(v) = v {
        o.push((name.to_string(), quote(v)));
    }
}

fn push_bool(o: &mut Opts, name: &str, v: Option<bool>) {
    if let Some(v) = v {
        o.push((name.to_string(), v.to_string()));
    }
}

#[allow(deprecated)] // `java_generate_equals_and_hash` is deprecated, still printed
pub(super) fn file_options(o: Option<&FileOptions>) -> Option<Opts> {
    let mut out = Opts::new();
    let Some(o) = o else { return Some(out) };
    // Destructured without `..`: a field added to the type fails to compile here.
    let FileOptions {
        java_package,
        java_outer_classname,
        java_multiple_files,
        java_generate_equals_and_hash,
        java_string_check_utf8,
        optimize_for,
        go_package,
        cc_generic_services,
        java_generic_services,
        py_generic_services,
        php_generic_services,
        deprecated,
        cc_enable_arenas,
        objc_class_prefix,
        csharp_namespace,
        swift_prefix,
        php_class_prefix,
        php_namespace,
        php_metadata_namespace,
        ruby_package,
        uninterpreted_option,
    } = o;
    if !uninterpreted_option.is_empty() {
        return None;
    }
    push_str(&mut out, "java_package", java_package);
    push_str(&mut out, "java_outer_classname", java_outer_classname);
    push_bool(&mut out, "java_multiple_files", *java_multiple_files);
    push_bool(
        &mut out,
        "java_generate_equals_and_hash",
        *java_generate_equals_and_hash,
    );
    push_bool(&mut out, "java_string_check_utf8", *java_string_check_utf8);
    if let Some(v) = optimize_for {
        let v = file_options::OptimizeMode::try_from(*v).ok()?;
        out.push(("optimize_for".to_string(), v.as_str_name().to_string()));
    }
    push_str(&mut out, "go_package", go_package);
    push_bool(&mut out, "cc_generic_services", *cc_generic_services);
    push_bool(&mut out, "java_generic_services", *java_generic_services);
    push_bool(&mut out, "py_generic_services", *py_generic_services);
    push_bool(&mut out, "php_generic_services", *php_generic_services);
    push_bool(&mut out, "deprecated", *deprecated);
    push_bool(&mut out, "cc_enable_arenas", *cc_enable_arenas);
    push_str(&mut out, "objc_class_prefix", objc_class_prefix);
    push_str(&mut out, "csharp_namespace", csharp_namespace);
    push_str(&mut out, "swift_prefix", swift_prefix);
    push_str(&mut out, "php_class_prefix", php_class_prefix);
    push_str(&mut out, "php_namespace", php_namespace);
    push_str(&mut out, "php_metadata_namespace", php_metadata_namespace);
    push_str(&mut out, "ruby_package", ruby_package);
    Some(out)
}

/// The printable options and whether the message is a map entry.
pub(super) fn message_options(o: Option<&MessageOptions>) -> Option<(Opts, bool)> {
    let mut out = Opts::new();
    let Some(o) = o else {
        return Some((out, false));
    };
    let MessageOptions {
        message_set_wire_format,
        no_standard_descriptor_accessor,
        deprecated,
        map_entry,
        uninterpreted_option,
    } = o;
    if !uninterpreted_option.is_empty() {
        return None;
    }
    push_bool(
        &mut out,
        "message_set_wire_format",
        *message_set_wire_format,
    );
    push_bool(
        &mut out,
        "no_standard_descriptor_accessor",
        *no_standard_descriptor_accessor,
    );
    push_bool(&mut out, "deprecated", *deprecated);
    Some((out, map_entry.unwrap_or(false)))
}

pub(super) fn field_options(o: Option<&FieldOptions>) -> Option<Opts> {
    let mut out = Opts::new();
    let Some(o) = o else { return Some(out) };
    let FieldOptions {
        ctype,
        packed,
        jstype,
        lazy,
        deprecated,
        weak,
        uninterpreted_option,
    } = o;
    if !uninterpreted_option.is_empty() {
        return None;
    }
    if let Some(v) = ctype {
        let v = field_options::CType::try_from(*v).ok()?;
        out.push(("ctype".to_string(), v.as_str_name().to_string()));
    }
    push_bool(&mut out, "packed", *packed);
    if let Some(v) = jstype {
        let v = field_options::JsType::try_from(*v).ok()?;
        out.push(("jstype".to_string(), v.as_str_name().to_string()));
    }
    push_bool(&mut out, "lazy", *lazy);
    push_bool(&mut out, "deprecated", *deprecated);
    push_bool(&mut out, "weak", *weak);
    Some(out)
}

pub(super) fn enum_options(o: Option<&EnumOptions>) -> Option<Opts> {
    let mut out = Opts::new();
    let Some(o) = o else { return Some(out) };
    let EnumOptions {
        allow_alias,
        deprecated,
        uninterpreted_option,
    } = o;
    if !uninterpreted_option.is_empty() {
        return None;
    }
    push_bool(&mut out, "allow_alias", *allow_alias);
    push_bool(&mut out, "deprecated", *deprecated);
    Some(out)
}

pub(super) fn enum_value_options(o: Option<&EnumValueOptions>) -> Option<Opts> {
    let mut out = Opts::new();
    let Some(o) = o else { return Some(out) };
    let EnumValueOptions {
        deprecated,
        uninterpreted_option,
    } = o;
    if !uninterpreted_option.is_empty() {
        return None;
    }
    push_bool(&mut out, "deprecated", *deprecated);
    Some(out)
}

pub(super) fn service_options(o: Option<&ServiceOptions>) -> Option<Opts> {
    let mut out = Opts::new();
    let Some(o) = o else { return Some(out) };
    let ServiceOptions {
        deprecated,
        uninterpreted_option,
    } = o;
    if !uninterpreted_option.is_empty() {
        return None;
    }
    push_bool(&mut out, "deprecated", *deprecated);
    Some(out)
}

pub(super) fn method_options(o: Option<&MethodOptions>) -> Option<Opts> {
    let mut out = Opts::new();
    let Some(o) = o else { return Some(out) };
    let MethodOptions {
        deprecated,
        idempotency_level,
        uninterpreted_option,
    } = o;
    if !uninterpreted_option.is_empty() {
        return None;
    }
    push_bool(&mut out, "deprecated", *deprecated);
    if let Some(v) = idempotency_level {
        let v = method_options::IdempotencyLevel::try_from(*v).ok()?;
        out.push(("idempotency_level".to_string(), v.as_str_name().to_string()));
    }
    Some(out)
}
