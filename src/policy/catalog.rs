//! What guard knows about PostgreSQL's built-in functions, operators, types and settings: which
//! are safe to run for a reader, which write, and which guard refuses. Anything not listed here is
//! `unknown`, because a user-defined function can do whatever its owner wrote.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::Class;

/// Functions that reach outside the database or take control of the server: server files,
/// other sessions, other servers, replication, or SQL handed over as a string (which guard cannot
/// see). Matched on the bare name in any schema, since an extension (dblink, adminpack) installs
/// them wherever it is told to.
const DENIED: &[(&str, &[&str])] = &[
    (
        "reads or writes files on the database server",
        &[
            "pg_read_file",
            "pg_read_file_old",
            "pg_read_binary_file",
            "pg_stat_file",
            "pg_ls_dir",
            "pg_ls_logdir",
            "pg_ls_waldir",
            "pg_ls_tmpdir",
            "pg_ls_archive_statusdir",
            "pg_ls_logicalmapdir",
            "pg_ls_logicalsnapdir",
            "pg_ls_replslotdir",
            "pg_ls_summariesdir",
            "pg_file_write",
            "pg_file_rename",
            "pg_file_unlink",
            "pg_file_sync",
            "pg_logdir_ls",
            "lo_import",
            "lo_export",
            "pg_show_all_file_settings",
            "pg_hba_file_rules",
            "pg_ident_file_mappings",
        ],
    ),
    (
        "changes large objects, which no statement names as a table",
        &[
            "lo_creat",
            "lo_create",
            "lo_unlink",
            "lo_put",
            "lo_from_bytea",
            "lowrite",
            "lo_truncate",
            "lo_truncate64",
        ],
    ),
    (
        "runs SQL handed over as a string, which guard cannot see",
        &[
            "query_to_xml",
            "query_to_xml_and_xmlschema",
            "query_to_xmlschema",
            "cursor_to_xml",
            "cursor_to_xmlschema",
            "table_to_xml",
            "table_to_xml_and_xmlschema",
            "table_to_xmlschema",
            "schema_to_xml",
            "schema_to_xml_and_xmlschema",
            "schema_to_xmlschema",
            "database_to_xml",
            "database_to_xml_and_xmlschema",
            "database_to_xmlschema",
            "ts_rewrite",
            "ts_stat",
        ],
    ),
    (
        "signals or controls other sessions or the server",
        &[
            "pg_terminate_backend",
            "pg_cancel_backend",
            "pg_reload_conf",
            "pg_rotate_logfile",
            "pg_rotate_logfile_old",
            "pg_promote",
            "pg_switch_wal",
            "pg_create_restore_point",
            "pg_backup_start",
            "pg_backup_stop",
            "pg_start_backup",
            "pg_stop_backup",
            "pg_wal_replay_pause",
            "pg_wal_replay_resume",
            "pg_log_backend_memory_contexts",
            "pg_stop_making_pinned_objects",
        ],
    ),
    (
        "changes replication state",
        &[
            "pg_create_physical_replication_slot",
            "pg_create_logical_replication_slot",
            "pg_drop_replication_slot",
            "pg_copy_physical_replication_slot",
            "pg_copy_logical_replication_slot",
            "pg_logical_slot_get_changes",
            "pg_logical_slot_get_binary_changes",
            "pg_logical_slot_peek_changes",
            "pg_logical_slot_peek_binary_changes",
            "pg_replication_slot_advance",
            "pg_sync_replication_slots",
            "pg_logical_emit_message",
        ],
    ),
];

/// Name prefixes of whole families guard refuses, with the reason.
const DENIED_PREFIXES: &[(&str, &str)] = &[
    ("dblink", "connects to another database server"),
    ("binary_upgrade_", "is meant for pg_upgrade only"),
    ("pg_replication_origin_", "changes replication state"),
    ("pg_stat_reset", "erases the server's statistics"),
    ("pg_ls_", "lists files on the database server"),
];

/// Built-in functions that change data or take locks: nextval and setval advance sequences
/// outside any transaction; advisory locks block other sessions like `SELECT ... FOR UPDATE`.
const WRITES: &[&str] = &[
    "nextval",
    "setval",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
    "pg_advisory_unlock",
    "pg_advisory_unlock_shared",
    "pg_advisory_unlock_all",
];

/// Built-in maintenance functions, the function form of VACUUM-like commands.
const MAINTENANCE: &[&str] = &[
    "brin_summarize_new_values",
    "brin_summarize_range",
    "brin_desummarize_range",
    "gin_clean_pending_list",
    "pg_import_system_collations",
];

/// `pg_notify` is NOTIFY as a function; the others belong in extension scripts and catalogs.
const ADMIN: &[&str] = &["pg_notify", "pg_extension_config_dump", "pg_nextoid"];

/// Built-in functions that only compute or read: they change no data, take no lock beyond a
/// reader's, and touch nothing outside the database. Gathered from PostgreSQL 15 to 18's
/// `pg_proc` (immutable and stable functions, and the volatile ones that only read, such as
/// `random`, `clock_timestamp` and the size functions).
#[rustfmt::skip]
const READS: &[&[&str]] = &[
    // aggregates and window functions
    &[
        "count", "sum", "avg", "min", "max", "array_agg", "string_agg", "json_agg",
        "json_agg_strict", "jsonb_agg", "jsonb_agg_strict", "json_object_agg",
        "json_object_agg_strict", "json_object_agg_unique", "json_object_agg_unique_strict",
        "jsonb_object_agg", "jsonb_object_agg_strict", "jsonb_object_agg_unique",
        "jsonb_object_agg_unique_strict", "bool_and", "bool_or", "every", "bit_and", "bit_or",
        "bit_xor", "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp",
        "corr", "covar_pop", "covar_samp", "regr_avgx", "regr_avgy", "regr_count",
        "regr_intercept", "regr_r2", "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "mode",
        "percentile_cont", "percentile_disc", "rank", "dense_rank", "percent_rank", "cume_dist",
        "xmlagg", "range_agg", "range_intersect_agg", "any_value", "row_number", "ntile", "lag",
        "lead", "first_value", "last_value", "nth_value", "grouping", "merge_action",
    ],
    // mathematics
    &[
        "abs", "cbrt", "ceil", "ceiling", "degrees", "div", "exp", "factorial", "floor", "gcd",
        "lcm", "ln", "log", "log10", "min_scale", "mod", "pi", "power", "pow", "radians",
        "round", "scale", "sign", "sqrt", "trim_scale", "trunc", "width_bucket", "random",
        "random_normal", "setseed", "acos", "acosd", "acosh", "asin", "asind", "asinh", "atan",
        "atan2", "atan2d", "atand", "atanh", "cos", "cosd", "cosh", "cot", "cotd", "sin", "sind",
        "sinh", "tan", "tand", "tanh", "erf", "erfc", "gamma", "lgamma", "num_nulls",
        "num_nonnulls",
    ],
    // strings and binary strings
    &[
        "ascii", "bit_length", "btrim", "char_length", "character_length", "chr", "concat",
        "concat_ws", "convert", "convert_from", "convert_to", "decode", "encode", "format",
        "initcap", "left", "length", "lower", "lpad", "ltrim", "md5", "normalize",
        "is_normalized", "octet_length", "overlay", "parse_ident", "position", "quote_ident",
        "quote_literal", "quote_nullable", "regexp_count", "regexp_instr", "regexp_like",
        "regexp_match", "regexp_matches", "regexp_replace", "regexp_split_to_array",
        "regexp_split_to_table", "regexp_substr", "repeat", "replace", "reverse", "right",
        "rpad", "rtrim", "split_part", "starts_with", "string_to_array", "string_to_table",
        "strpos", "substr", "substring", "to_ascii", "to_hex", "to_bin", "to_oct", "translate",
        "trim", "unistr", "upper", "casefold", "sha224", "sha256", "sha384", "sha512", "crc32",
        "crc32c", "get_bit", "get_byte", "set_bit", "set_byte", "bit_count", "like_escape",
        "similar_escape", "similar_to_escape", "textlen", "unicode_assigned", "unicode_version",
        "icu_unicode_version",
    ],
    // date and time
    &[
        "age", "clock_timestamp", "date_bin", "date_part", "date_trunc", "date_add",
        "date_subtract", "extract", "isfinite", "justify_days", "justify_hours",
        "justify_interval", "make_date", "make_interval", "make_time", "make_timestamp",
        "make_timestamptz", "now", "statement_timestamp", "timeofday", "transaction_timestamp",
        "to_char", "to_date", "to_number", "to_timestamp", "timezone", "overlaps", "pg_sleep",
        "pg_sleep_for", "pg_sleep_until",
    ],
    // json and jsonb
    &[
        "array_to_json", "row_to_json", "to_json", "to_jsonb", "json_build_array",
        "json_build_object", "json_object", "jsonb_build_array", "jsonb_build_object",
        "jsonb_object", "json_array_elements", "json_array_elements_text", "json_array_length",
        "json_each", "json_each_text", "json_extract_path", "json_extract_path_text",
        "json_object_keys", "json_populate_record", "json_populate_recordset",
        "json_strip_nulls", "json_to_record", "json_to_recordset", "json_typeof",
        "jsonb_array_elements", "jsonb_array_elements_text", "jsonb_array_length", "jsonb_each",
        "jsonb_each_text", "jsonb_extract_path", "jsonb_extract_path_text", "jsonb_insert",
        "jsonb_object_keys", "jsonb_path_exists", "jsonb_path_exists_tz", "jsonb_path_match",
        "jsonb_path_match_tz", "jsonb_path_query", "jsonb_path_query_tz",
        "jsonb_path_query_array", "jsonb_path_query_array_tz", "jsonb_path_query_first",
        "jsonb_path_query_first_tz", "jsonb_populate_record", "jsonb_populate_record_valid",
        "jsonb_populate_recordset", "jsonb_pretty", "jsonb_set", "jsonb_set_lax",
        "jsonb_strip_nulls", "jsonb_to_record", "jsonb_to_recordset", "jsonb_typeof",
        "json_scalar",
    ],
    // arrays, ranges, enums, uuids, network addresses, geometry
    &[
        "array_append", "array_cat", "array_dims", "array_fill", "array_length", "array_lower",
        "array_ndims", "array_position", "array_positions", "array_prepend", "array_remove",
        "array_replace", "array_to_string", "array_upper", "array_sample", "array_shuffle",
        "array_reverse", "array_sort", "cardinality", "generate_series", "generate_subscripts",
        "trim_array", "unnest", "isempty", "lower_inc", "upper_inc", "lower_inf", "upper_inf",
        "range_merge", "multirange", "int4range", "int8range", "numrange", "tsrange",
        "tstzrange", "daterange", "int4multirange", "int8multirange", "nummultirange",
        "tsmultirange", "tstzmultirange", "datemultirange", "enum_first", "enum_last",
        "enum_range", "gen_random_uuid", "uuidv4", "uuidv7", "uuid_extract_timestamp",
        "uuid_extract_version", "abbrev", "broadcast", "family", "host", "hostmask",
        "inet_merge", "inet_same_family", "masklen", "netmask", "network", "set_masklen",
        "macaddr8_set7bit", "area", "center", "diameter", "height", "width", "isclosed",
        "isopen", "npoints", "pclose", "popen", "radius", "slope", "bound_box", "box", "circle",
        "line", "lseg", "path", "point", "polygon", "diagonal",
    ],
    // text search and xml
    &[
        "to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery",
        "websearch_to_tsquery", "ts_rank", "ts_rank_cd", "ts_headline", "ts_debug", "ts_lexize",
        "ts_parse", "ts_token_type", "setweight", "strip", "numnode", "querytree",
        "tsvector_to_array", "array_to_tsvector", "ts_delete", "ts_filter",
        "get_current_ts_config", "json_to_tsvector", "jsonb_to_tsvector", "tsquery_phrase",
        "xmlcomment", "xmltext", "xmlexists", "xpath", "xpath_exists", "xml_is_well_formed",
        "xml_is_well_formed_content", "xml_is_well_formed_document",
    ],
    // conversions and type input checks
    &[
        "bool", "int2", "int4", "int8", "float4", "float8", "numeric", "text", "varchar",
        "bpchar", "char", "name", "date", "time", "timetz", "timestamp", "timestamptz",
        "interval", "oid", "regclass", "bit", "varbit", "inet", "cidr", "macaddr", "macaddr8",
        "money", "xml", "to_regclass", "to_regcollation", "to_regnamespace", "to_regoper",
        "to_regoperator", "to_regproc", "to_regprocedure", "to_regrole", "to_regtype",
        "to_regtypemod", "pg_input_is_valid", "pg_input_error_info", "pg_size_bytes",
        "pg_size_pretty",
    ],
    // the session and the server, read only
    &[
        "current_database", "current_schema", "current_schemas", "current_user",
        "current_query", "current_setting", "session_user", "current_role", "user", "system_user",
        "inet_client_addr", "inet_client_port", "inet_server_addr", "inet_server_port",
        "pg_backend_pid", "pg_blocking_pids", "pg_safe_snapshot_blocking_pids",
        "pg_conf_load_time", "pg_current_logfile", "pg_is_other_temp_schema",
        "pg_jit_available", "pg_listening_channels", "pg_my_temp_schema",
        "pg_postmaster_start_time", "pg_trigger_depth", "version", "pg_typeof",
        "pg_collation_for", "pg_column_size", "pg_column_compression",
        "pg_column_toast_chunk_id", "pg_encoding_to_char", "pg_char_to_encoding",
        "pg_client_encoding", "getdatabaseencoding", "pg_notification_queue_usage",
        "pg_get_keywords", "pg_is_in_recovery", "pg_current_wal_lsn",
        "pg_current_wal_insert_lsn", "pg_current_wal_flush_lsn", "pg_last_wal_receive_lsn",
        "pg_last_wal_replay_lsn", "pg_last_xact_replay_timestamp", "pg_is_wal_replay_paused",
        "pg_get_wal_replay_pause_state", "pg_wal_lsn_diff", "pg_walfile_name",
        "pg_walfile_name_offset", "pg_control_checkpoint", "pg_control_system",
        "pg_control_init", "pg_control_recovery", "pg_lock_status", "pg_cursor",
        "pg_prepared_statement", "pg_prepared_xact", "pg_show_all_settings",
        "pg_settings_get_flags", "pg_timezone_abbrevs", "pg_timezone_names",
        "pg_get_backend_memory_contexts", "pg_get_shmem_allocations",
        "pg_get_replication_slots", "pg_stat_clear_snapshot", "pg_collation_actual_version",
        "pg_database_collation_actual_version", "pg_get_wal_resource_managers",
        "pg_get_loaded_modules", "pg_numa_available",
    ],
    // privileges and visibility
    &[
        "has_any_column_privilege", "has_column_privilege", "has_database_privilege",
        "has_foreign_data_wrapper_privilege", "has_function_privilege",
        "has_language_privilege", "has_largeobject_privilege", "has_parameter_privilege",
        "has_schema_privilege", "has_sequence_privilege", "has_server_privilege",
        "has_table_privilege", "has_tablespace_privilege", "has_type_privilege", "pg_has_role",
        "row_security_active", "acldefault", "aclexplode", "makeaclitem", "aclcontains",
        "pg_collation_is_visible", "pg_conversion_is_visible", "pg_function_is_visible",
        "pg_opclass_is_visible", "pg_operator_is_visible", "pg_opfamily_is_visible",
        "pg_statistics_obj_is_visible", "pg_table_is_visible", "pg_ts_config_is_visible",
        "pg_ts_dict_is_visible", "pg_ts_parser_is_visible", "pg_ts_template_is_visible",
        "pg_type_is_visible",
    ],
    // the catalog: definitions, descriptions, sizes
    &[
        "format_type", "pg_basetype", "pg_describe_object", "pg_get_acl",
        "pg_get_catalog_foreign_keys", "pg_get_constraintdef", "pg_get_expr",
        "pg_get_function_arg_default", "pg_get_function_arguments",
        "pg_get_function_identity_arguments", "pg_get_function_result",
        "pg_get_function_sqlbody", "pg_get_functiondef", "pg_get_indexdef",
        "pg_get_object_address", "pg_get_partition_constraintdef", "pg_get_partkeydef",
        "pg_get_ruledef", "pg_get_serial_sequence", "pg_get_statisticsobjdef",
        "pg_get_statisticsobjdef_columns", "pg_get_statisticsobjdef_expressions",
        "pg_get_triggerdef", "pg_get_userbyid", "pg_get_viewdef",
        "pg_get_replica_identity_index", "pg_get_publication_tables", "pg_identify_object",
        "pg_identify_object_as_address", "pg_index_column_has_property",
        "pg_index_has_property", "pg_indexam_has_property", "pg_options_to_table",
        "pg_tablespace_databases", "pg_tablespace_location", "col_description",
        "obj_description", "shobj_description", "pg_partition_ancestors", "pg_partition_root",
        "pg_partition_tree", "pg_relation_filenode", "pg_relation_filepath",
        "pg_filenode_relation", "pg_sequence_parameters", "pg_sequence_last_value",
        "pg_available_extensions", "pg_available_extension_versions",
        "pg_extension_update_paths", "pg_mcv_list_items", "pg_relation_is_updatable",
        "pg_column_is_updatable", "pg_relation_is_publishable", "pg_database_size",
        "pg_indexes_size", "pg_relation_size", "pg_table_size", "pg_tablespace_size",
        "pg_total_relation_size", "currval", "lastval",
    ],
    // transaction ids, snapshots, large objects read
    &[
        "txid_current", "txid_current_if_assigned", "txid_current_snapshot",
        "txid_snapshot_xip", "txid_snapshot_xmax", "txid_snapshot_xmin",
        "txid_visible_in_snapshot", "txid_status", "pg_current_xact_id",
        "pg_current_xact_id_if_assigned", "pg_current_snapshot", "pg_snapshot_xip",
        "pg_snapshot_xmax", "pg_snapshot_xmin", "pg_visible_in_snapshot", "pg_xact_status",
        "pg_xact_commit_timestamp", "pg_xact_commit_timestamp_origin",
        "pg_last_committed_xact", "mxid_age", "pg_export_snapshot", "lo_get", "loread",
        "lo_open", "lo_close", "lo_lseek", "lo_lseek64", "lo_tell", "lo_tell64",
    ],
];

/// Statistics readers: `pg_stat_get_*` read counters only (the resets are denied above).
const READ_PREFIXES: &[&str] = &["pg_stat_get_"];

/// Built-in operators (`pg_operator` in `pg_catalog`). Any other symbol is a user-defined
/// operator, which runs a user function.
#[rustfmt::skip]
const OPERATORS: &[&str] = &[
    "!!", "!~", "!~*", "!~~", "!~~*", "#", "##", "#-", "#>", "#>>", "%", "&", "&&", "&<", "&<|",
    "&>", "*", "*<", "*<=", "*<>", "*=", "*>", "*>=", "+", "-", "->", "->>", "-|-", "/", "<",
    "<->", "<<", "<<=", "<<|", "<=", "<>", "<@", "<^", "=", ">", ">=", ">>", ">>=", ">^", "?",
    "?#", "?&", "?-", "?-|", "?|", "?||", "@", "@-@", "@>", "@?", "@@", "@@@", "^", "^@", "|",
    "|&>", "|/", "|>>", "||", "||/", "~", "~*", "~<=~", "~<~", "~=", "~>=~", "~>~", "~~", "~~*",
    "!=",
];

/// Built-in types, by the name the parser gives them (`integer` becomes `pg_catalog.int4`). A
/// cast to any other type may run a user function: a domain's CHECK or a user-defined cast.
#[rustfmt::skip]
const TYPES: &[&str] = &[
    "bit", "bool", "box", "bpchar", "bytea", "char", "cid", "cidr", "circle", "date",
    "datemultirange", "daterange", "float4", "float8", "inet", "int2", "int2vector", "int4",
    "int4multirange", "int4range", "int8", "int8multirange", "int8range", "interval", "json",
    "jsonb", "jsonpath", "line", "lseg", "macaddr", "macaddr8", "money", "name", "numeric",
    "nummultirange", "numrange", "oid", "oidvector", "path", "point", "polygon", "record",
    "refcursor", "regclass", "regcollation", "regconfig", "regdictionary", "regnamespace",
    "regoper", "regoperator", "regproc", "regprocedure", "regrole", "regtype", "text", "tid",
    "time", "timestamp", "timestamptz", "timetz", "tsmultirange", "tsquery", "tsrange",
    "tstzmultirange", "tstzrange", "tsvector", "txid_snapshot", "unknown", "uuid", "varbit",
    "varchar", "void", "xid", "xid8", "xml", "pg_lsn", "pg_snapshot", "aclitem", "cstring",
    "anyelement", "anyarray",
];

/// The domains `information_schema` defines over built-in types, with no checks that call
/// functions.
const INFORMATION_SCHEMA_TYPES: &[&str] = &[
    "sql_identifier",
    "cardinal_number",
    "character_data",
    "yes_or_no",
    "time_stamp",
];

struct Known {
    denied: std::collections::HashMap<&'static str, &'static str>,
    reads: HashSet<&'static str>,
    writes: HashSet<&'static str>,
    maintenance: HashSet<&'static str>,
    admin: HashSet<&'static str>,
    operators: HashSet<&'static str>,
    types: HashSet<&'static str>,
}

static KNOWN: LazyLock<Known> = LazyLock::new(|| Known {
    denied: DENIED
        .iter()
        .flat_map(|(why, names)| names.iter().map(move |n| (*n, *why)))
        .collect(),
    reads: READS
        .iter()
        .flat_map(|group| group.iter().copied())
        .collect(),
    writes: WRITES.iter().copied().collect(),
    maintenance: MAINTENANCE.iter().copied().collect(),
    admin: ADMIN.iter().copied().collect(),
    operators: OPERATORS.iter().copied().collect(),
    types: TYPES.iter().copied().collect(),
});

/// Why guard refuses a function of this bare name, if it does.
pub fn denied_function(name: &str) -> Option<&'static str> {
    if let Some(why) = KNOWN.denied.get(name) {
        return Some(why);
    }
    DENIED_PREFIXES
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|(_, why)| *why)
}

/// The class of calling a built-in function (`schema` is `None` or `pg_catalog`), or `None`
/// when guard does not know it. Denied functions are checked first, by `denied_function`.
pub fn builtin_function(name: &str) -> Option<Class> {
    let known = &*KNOWN;
    if known.reads.contains(name) || READ_PREFIXES.iter().any(|p| name.starts_with(p)) {
        Some(Class::Read)
    } else if known.writes.contains(name) {
        Some(Class::Write)
    } else if known.maintenance.contains(name) {
        Some(Class::Ddl)
    } else if known.admin.contains(name) {
        Some(Class::Admin)
    } else {
        None
    }
}

/// Whether an operator symbol is one of PostgreSQL's own.
pub fn builtin_operator(symbol: &str) -> bool {
    KNOWN.operators.contains(symbol)
}

/// Whether a type (as the parser names it, schema first) is built in.
pub fn builtin_type(names: &[&str]) -> bool {
    match names {
        [name] | ["pg_catalog", name] => KNOWN.types.contains(name),
        ["information_schema", name] => INFORMATION_SCHEMA_TYPES.contains(name),
        _ => false,
    }
}

/// The new value a SET, RESET or `set_config` gives a setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewValue {
    /// A literal value.
    Constant(String),
    /// RESET, `SET ... TO DEFAULT`: the connection's own default.
    Default,
    /// A value guard cannot read (an expression).
    Computed,
}

/// The class of changing a run-time setting (`SET`, `RESET`, `set_config`), with why when it
/// is more than a read.
pub fn setting(name: &str, value: &NewValue) -> (Class, Option<&'static str>) {
    match name.to_ascii_lowercase().as_str() {
        // SET ROLE and SET SESSION AUTHORIZATION change whose privileges the connection uses.
        "role" | "session_authorization" => (
            Class::Dangerous,
            Some("changes the role the connection acts as"),
        ),
        // `replica` disables triggers and foreign-key checks (superuser only).
        "session_replication_role" => (
            Class::Dangerous,
            Some("can disable triggers and foreign-key checks"),
        ),
        "default_transaction_read_only" | "transaction_read_only" => read_only(value),
        "search_path" => search_path(value),
        _ => (Class::Read, None),
    }
}

/// Turning read-only transactions on, or back to the connection's default, is harmless; turning
/// them off undoes a safeguard the gateway may have set at connect, so a human decides.
fn read_only(value: &NewValue) -> (Class, Option<&'static str>) {
    let harmless = match value {
        NewValue::Default => true,
        NewValue::Constant(v) => matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "on" | "true" | "yes" | "1" | "t" | "y"
        ),
        NewValue::Computed => false,
    };
    if harmless {
        (Class::Read, None)
    } else {
        (Class::Admin, Some("turns off read-only transactions"))
    }
}

/// PostgreSQL searches `pg_catalog` first unless the path names it later (docs, "The Schema
/// Search Path"); a path that puts another schema first lets a user function shadow a built-in
/// name that guard would otherwise trust.
fn search_path(value: &NewValue) -> (Class, Option<&'static str>) {
    let value = match value {
        NewValue::Default => return (Class::Read, None),
        NewValue::Computed => {
            return (
                Class::Unknown,
                Some("to a value guard cannot read, which may shadow built-in functions"),
            );
        }
        NewValue::Constant(v) => v,
    };
    let schemas: Vec<&str> = value
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .filter(|s| !s.is_empty())
        .collect();
    match schemas.iter().position(|s| *s == "pg_catalog") {
        Some(0) | None => (Class::Read, None),
        Some(_) => (
            Class::Unknown,
            Some("puts a schema before pg_catalog, so built-in names may call user functions"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_function_is_both_allowed_and_denied() {
        for name in KNOWN.reads.iter().chain(&KNOWN.writes) {
            assert!(denied_function(name).is_none(), "{name} is in two lists");
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(builtin_function("lower"), Some(Class::Read));
        assert_eq!(builtin_function("pg_stat_get_numscans"), Some(Class::Read));
        assert_eq!(builtin_function("nextval"), Some(Class::Write));
        assert_eq!(builtin_function("my_function"), None);
        assert!(denied_function("dblink_exec").is_some());
        assert!(denied_function("pg_read_file").is_some());
        assert!(builtin_type(&["pg_catalog", "int4"]));
        assert!(!builtin_type(&["public", "int4"]));
        assert!(builtin_operator("->>"));
        assert!(!builtin_operator("+++"));
    }

    #[test]
    fn settings() {
        let value = |v: &str| NewValue::Constant(v.to_string());
        assert_eq!(setting("ROLE", &value("admin")).0, Class::Dangerous);
        assert_eq!(setting("role", &NewValue::Default).0, Class::Dangerous);
        assert_eq!(setting("search_path", &value("public")).0, Class::Read);
        assert_eq!(
            setting("search_path", &value("public, pg_catalog")).0,
            Class::Unknown
        );
        assert_eq!(
            setting("default_transaction_read_only", &value("off")).0,
            Class::Admin
        );
        assert_eq!(setting("transaction_read_only", &value("1")).0, Class::Read);
        assert_eq!(setting("statement_timeout", &value("5s")).0, Class::Read);
    }
}
