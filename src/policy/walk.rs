//! The walk over one statement's whole parse tree: every node counts, wherever it sits (a DELETE
//! inside a WITH, a function call inside a subquery inside a CASE), and the statement's class is
//! the worst thing found (SPEC, "Classes and default policy").
//!
//! The tree is pg_query's protobuf AST turned into a `serde_json::Value`, so one generic descent
//! reaches every field of every node kind without a hand-written visitor per kind; a node is an
//! object `{"node": {"Kind": {fields}}}`, and only the kinds that matter have a handler.

use std::cell::Cell;

use pg_query::protobuf;
use serde_json::{Map, Value};

use super::Class;
use super::catalog::{self, NewValue};

type Fields = Map<String, Value>;

/// Whether the statement being walked runs, or is only planned (EXPLAIN without ANALYZE).
/// Functions count either way: the planner evaluates immutable and stable functions while it
/// plans (`eval_const_expressions`, `estimate_expression_value`), and a user function may lie
/// about its volatility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Executes,
    PlansOnly,
}

/// The worst thing found in a statement and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub class: Class,
    pub reason: String,
}

/// What a statement does to the connection's prepared statements, for the session to apply
/// once the statement has been forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Prepare { name: String, finding: Finding },
    Deallocate(String),
    DeallocateAll,
}

/// How a statement looks up what a name was prepared as, for `EXECUTE name`.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<Finding>;

thread_local! {
    /// Whether the walk has read a literal's value since `literals_read` last asked. A finding
    /// made without reading any constant holds for every statement of the same shape (see
    /// `policy::shape`); one that read a constant (`WHERE 1 = 1`, `set_config('role', ...)`)
    /// holds only for its own text.
    static LITERALS_READ: Cell<bool> = const { Cell::new(false) };
}

/// Whether any literal was read since the last call, which also starts the count again.
pub fn literals_read() -> bool {
    LITERALS_READ.with(|read| read.replace(false))
}

/// Every read of a literal's value goes through here.
fn note_literal() {
    LITERALS_READ.with(|read| read.set(true));
}

/// The top-level statement kinds whose finding may be shared by shape: those whose handlers
/// read no constant except through `constant` and `Const::of` (which note it).
pub fn shareable_kind(stmt: &Value) -> bool {
    matches!(
        node_of(stmt).map(|(kind, _)| kind),
        Some("SelectStmt" | "InsertStmt" | "UpdateStmt" | "DeleteStmt")
    )
}

/// Classifies one statement (a `RawStmt`'s `stmt` as a JSON value).
pub fn statement(stmt: &Value, lookup: Lookup) -> (Finding, Option<Effect>) {
    let mut walk = Walk {
        lookup,
        worst: None,
        effect: None,
    };
    let kind = node_of(stmt).map(|(kind, _)| kind).unwrap_or("");
    if !known_statement(kind) {
        walk.found(
            Class::Unknown,
            format!("guard does not know {kind} statements"),
        );
    }
    walk.visit(stmt, Run::Executes);
    let finding = walk.worst.unwrap_or_else(|| Finding {
        class: Class::Read,
        reason: read_reason(kind).to_string(),
    });
    (finding, walk.effect)
}

struct Walk<'a> {
    lookup: Lookup<'a>,
    worst: Option<Finding>,
    effect: Option<Effect>,
}

impl Walk<'_> {
    /// Keeps the first reason of the worst class; reads need no reason of their own.
    fn found(&mut self, class: Class, reason: impl Into<String>) {
        if class > self.worst.as_ref().map_or(Class::Read, |w| w.class) {
            self.worst = Some(Finding {
                class,
                reason: reason.into(),
            });
        }
    }

    /// What a statement does counts only when it runs.
    fn act(&mut self, run: Run, class: Class, reason: impl FnOnce() -> String) {
        if run == Run::Executes && class > Class::Read {
            self.found(class, reason());
        }
    }

    fn visit(&mut self, value: &Value, run: Run) {
        match value {
            Value::Object(map) => match node_of_map(map) {
                Some((kind, fields)) => self.node(kind, fields, run),
                None => map.values().for_each(|v| self.visit(v, run)),
            },
            Value::Array(items) => items.iter().for_each(|v| self.visit(v, run)),
            _ => {}
        }
    }

    /// Visits a node's fields. A few fields hold a node kind as a bare message rather than a
    /// wrapped node (a UNION's arms, ALTER ROLE's SET, CALL's function), so they are handled as
    /// that kind here.
    fn children(&mut self, kind: &str, fields: &Fields, run: Run) {
        for (key, value) in fields {
            match (bare_kind(kind, key), value) {
                (Some(inner), Value::Object(inner_fields)) => self.node(inner, inner_fields, run),
                _ => self.visit(value, run),
            }
        }
    }

    fn node(&mut self, kind: &str, f: &Fields, run: Run) {
        match kind {
            // Handlers that choose how (or whether) to descend.
            "ExplainStmt" => return self.explain(f, run),
            "PrepareStmt" => return self.prepare(f),
            "CreateFunctionStmt" => return self.create_function(f, run),
            // Expressions: count whether the statement runs or is only planned.
            "FuncCall" => self.function(f),
            "AExpr" => self.operator(f),
            "TypeCast" => self.cast(f),
            // Statements and clauses.
            "SelectStmt" => self.select(f, run),
            "InsertStmt" => self.act(run, Class::Write, || format!("INSERT into {}", relation(f))),
            "UpdateStmt" => self.update_or_delete("UPDATE", f, run),
            "DeleteStmt" => self.update_or_delete("DELETE", f, run),
            "MergeStmt" => self.merge(f, run),
            "CopyStmt" => self.copy(f, run),
            "ExecuteStmt" => self.execute(f, run),
            "DeallocateStmt" => self.deallocate(f),
            "DiscardStmt" => self.discard(f),
            "VariableSetStmt" => self.set(f, run),
            "TransactionStmt" => self.transaction_options(list(f, "options"), run),
            "AlterTableCmd" => self.alter_table_cmd(f, run),
            _ => self.statement_kind(kind, f, run),
        }
        self.children(kind, f, run);
    }

    /// Statements whose class is fixed by their kind alone.
    fn statement_kind(&mut self, kind: &str, f: &Fields, run: Run) {
        if let Some(class) = fixed_class(kind) {
            self.act(run, class, || describe(kind, f));
        }
    }

    /// `SELECT ... INTO t` creates a table (it is CREATE TABLE AS); `FOR UPDATE` and `FOR
    /// SHARE` take row locks that block writers, as a write would.
    fn select(&mut self, f: &Fields, run: Run) {
        if let Some(into) = object(f, "into_clause") {
            let table = object(into, "rel").map(range_var).unwrap_or_default();
            self.act(run, Class::Ddl, || {
                format!("SELECT INTO creates table {table}")
            });
        }
        if !list(f, "locking_clause").is_empty() {
            self.act(run, Class::Write, || {
                "SELECT ... FOR UPDATE/SHARE locks rows".to_string()
            });
        }
    }

    /// An UPDATE or DELETE without a WHERE, or with one that is always true, touches every row.
    fn update_or_delete(&mut self, verb: &str, f: &Fields, run: Run) {
        let table = relation(f);
        match f.get("where_clause").filter(|w| !w.is_null()) {
            None => self.act(run, Class::Dangerous, || {
                format!("{verb} without WHERE on {table}")
            }),
            Some(w) if const_truth(w) == Some(true) => self.act(run, Class::Dangerous, || {
                format!("{verb} on {table} with a WHERE that is always true")
            }),
            Some(_) => self.act(run, Class::Write, || {
                format!("{verb} with a WHERE on {table}")
            }),
        }
    }

    /// MERGE writes; one that joins on an always-true condition and updates or deletes when
    /// matched touches every row of its target.
    fn merge(&mut self, f: &Fields, run: Run) {
        let table = relation(f);
        let always = f.get("join_condition").and_then(const_truth) == Some(true);
        let changes_matched = list(f, "merge_when_clauses").iter().any(|c| {
            node_of(c).is_some_and(|(_, c)| {
                let command = int(c, "command_type");
                command == protobuf::CmdType::CmdUpdate as i64
                    || command == protobuf::CmdType::CmdDelete as i64
            })
        });
        if always && changes_matched {
            self.act(run, Class::Dangerous, || {
                format!("MERGE into {table} on a condition that is always true")
            });
        } else {
            self.act(run, Class::Write, || format!("MERGE into {table}"));
        }
    }

    /// COPY with PROGRAM runs a shell command as the server's OS user, and COPY with a file
    /// name reads or writes the server's files (both need pg_execute_server_program or
    /// pg_read/write_server_files); COPY FROM STDIN writes rows; COPY TO STDOUT reads.
    fn copy(&mut self, f: &Fields, run: Run) {
        let what = object(f, "relation")
            .map(range_var)
            .unwrap_or_else(|| "a query".to_string());
        let direction = if boolean(f, "is_from") { "FROM" } else { "TO" };
        // The file name is a literal (COPY is never shared by shape, but say so all the same).
        note_literal();
        let to_file = !string(f, "filename").is_empty();
        if boolean(f, "is_program") {
            self.act(run, Class::Dangerous, || {
                format!("COPY {what} {direction} PROGRAM runs a command on the database server")
            });
        } else if to_file {
            self.act(run, Class::Dangerous, || {
                format!("COPY {what} {direction} a file on the database server")
            });
        } else if boolean(f, "is_from") {
            self.act(run, Class::Write, || format!("COPY {what} FROM STDIN"));
        }
    }

    /// EXPLAIN ANALYZE runs its statement; plain EXPLAIN only plans it.
    fn explain(&mut self, f: &Fields, run: Run) {
        let inner = if explain_analyzes(f) {
            run
        } else {
            Run::PlansOnly
        };
        if let Some(query) = f.get("query") {
            self.visit(query, inner);
        }
    }

    /// PREPARE takes the class of the statement it prepares, which the session remembers for
    /// EXECUTE.
    fn prepare(&mut self, f: &Fields) {
        let name = string(f, "name").to_string();
        let query = f.get("query").unwrap_or(&Value::Null);
        let (finding, _) = statement(query, self.lookup);
        if finding.class > Class::Read {
            self.found(finding.class, format!("PREPARE {name}: {}", finding.reason));
        }
        self.effect = Some(Effect::Prepare { name, finding });
    }

    /// EXECUTE runs what was prepared under that name; a name guard did not see prepared is
    /// unknown. Under plain EXPLAIN only what the planner might run counts.
    fn execute(&mut self, f: &Fields, run: Run) {
        let name = string(f, "name");
        let prepared = (self.lookup)(name).unwrap_or_else(|| Finding {
            class: Class::Unknown,
            reason: "guard did not see it prepared".to_string(),
        });
        let planner_may_run = prepared.class >= Class::Unknown;
        if run == Run::Executes || planner_may_run {
            self.found(
                prepared.class,
                format!("EXECUTE {name}: {}", prepared.reason),
            );
        }
    }

    fn deallocate(&mut self, f: &Fields) {
        self.effect = Some(if boolean(f, "isall") {
            Effect::DeallocateAll
        } else {
            Effect::Deallocate(string(f, "name").to_string())
        });
    }

    /// DISCARD ALL includes DEALLOCATE ALL (PostgreSQL docs, DISCARD).
    fn discard(&mut self, f: &Fields) {
        if int(f, "target") == protobuf::DiscardMode::DiscardAll as i64 {
            self.effect = Some(Effect::DeallocateAll);
        }
    }

    /// SET, SET LOCAL, RESET and SET ... TO DEFAULT, by the setting they change.
    fn set(&mut self, f: &Fields, run: Run) {
        use protobuf::VariableSetKind as K;
        let kind = i32::try_from(int(f, "kind")).unwrap_or_default();
        let value = match K::try_from(kind) {
            // SET TRANSACTION and SET SESSION CHARACTERISTICS carry their options as DefElems.
            Ok(K::VarSetMulti) => return self.transaction_options(list(f, "args"), run),
            Ok(K::VarResetAll) => return,
            Ok(K::VarSetValue) => constant_text(list(f, "args"))
                .map(NewValue::Constant)
                .unwrap_or(NewValue::Computed),
            _ => NewValue::Default,
        };
        let name = string(f, "name");
        self.setting(name, &value, run, "SET");
    }

    fn setting(&mut self, name: &str, value: &NewValue, run: Run, how: &str) {
        let (class, why) = catalog::setting(name, value);
        if let Some(why) = why {
            self.act(run, class, || format!("{how} {name} {why}"));
        }
    }

    /// `BEGIN READ WRITE`, `SET TRANSACTION READ WRITE` and the session form turn read-only
    /// transactions off, like `SET transaction_read_only = off`.
    fn transaction_options(&mut self, options: &[Value], run: Run) {
        for option in options {
            let Some(("DefElem", d)) = node_of(option) else {
                continue;
            };
            let name = string(d, "defname");
            let value = d
                .get("arg")
                .and_then(constant)
                .map(|c| NewValue::Constant(c.text()))
                .unwrap_or(NewValue::Default);
            self.setting(name, &value, run, "SET");
        }
    }

    /// A function call: denied by name in any schema, known built-ins by their class, and
    /// anything else unknown, since a user function can do whatever its owner wrote.
    fn function(&mut self, f: &Fields) {
        let names = strings(list(f, "funcname"));
        let shown = names.join(".");
        let Some(&name) = names.last() else { return };
        if let Some(why) = catalog::denied_function(name) {
            return self.found(Class::Dangerous, format!("calls {shown}, which {why}"));
        }
        if !matches!(names.as_slice(), [_] | ["pg_catalog", _]) {
            return self.found(
                Class::Unknown,
                format!("calls {shown}, a function guard does not know"),
            );
        }
        if name == "set_config" {
            return self.set_config(list(f, "args"));
        }
        match catalog::builtin_function(name) {
            Some(Class::Read) => {}
            Some(class) => self.found(class, format!("calls {shown}, {}", function_why(class))),
            None => self.found(
                Class::Unknown,
                format!("calls {shown}, a function guard does not know"),
            ),
        }
    }

    /// `set_config(name, value, is_local)` is SET of that name; with a name guard cannot read
    /// it could be `role`, so it is refused.
    fn set_config(&mut self, args: &[Value]) {
        let Some(name) = args.first().and_then(constant) else {
            return self.found(
                Class::Dangerous,
                "calls set_config with a computed setting name",
            );
        };
        let name = name.text();
        let value = args
            .get(1)
            .and_then(constant)
            .map(|c| NewValue::Constant(c.text()))
            .unwrap_or(NewValue::Computed);
        let (class, why) = catalog::setting(&name, &value);
        if let Some(why) = why {
            self.found(class, format!("set_config of {name} {why}"));
        }
    }

    /// A user-defined operator runs a user function.
    fn operator(&mut self, f: &Fields) {
        use protobuf::AExprKind as K;
        let kind = i32::try_from(int(f, "kind")).unwrap_or_default();
        if matches!(
            K::try_from(kind),
            Ok(K::AexprBetween | K::AexprNotBetween | K::AexprBetweenSym | K::AexprNotBetweenSym)
        ) {
            return; // the name is the keyword; the comparisons are the built-in < and >
        }
        let names = strings(list(f, "name"));
        let builtin = match names.as_slice() {
            [op] | ["pg_catalog", op] => catalog::builtin_operator(op),
            _ => false,
        };
        if !builtin {
            self.found(
                Class::Unknown,
                format!("uses operator {}, which is not built in", names.join(".")),
            );
        }
    }

    /// A cast to a type guard does not know may run a user function (a domain's CHECK, a
    /// user-defined cast).
    fn cast(&mut self, f: &Fields) {
        let names = object(f, "type_name")
            .map(|t| strings(list(t, "names")))
            .unwrap_or_default();
        if !catalog::builtin_type(&names) {
            self.found(
                Class::Unknown,
                format!(
                    "casts to {}, which may run a user function",
                    names.join(".")
                ),
            );
        }
    }

    /// CREATE FUNCTION or PROCEDURE is DDL, or dangerous in an untrusted language (C, or the
    /// `u` languages such as plpython3u), which runs code as the server's OS user. The body is
    /// not walked: it runs only when called, and calling a user function is `unknown` then.
    fn create_function(&mut self, f: &Fields, run: Run) {
        let what = if boolean(f, "is_procedure") {
            "PROCEDURE"
        } else {
            "FUNCTION"
        };
        let name = strings(list(f, "funcname")).join(".");
        let language = list(f, "options")
            .iter()
            .filter_map(node_of)
            .find(|(kind, d)| *kind == "DefElem" && string(d, "defname") == "language")
            .and_then(|(_, d)| d.get("arg").and_then(constant))
            .map(|c| c.text().to_ascii_lowercase())
            .unwrap_or_else(|| "sql".to_string());
        if untrusted_language(&language) {
            self.act(run, Class::Dangerous, || {
                format!(
                    "CREATE {what} {name} in {language}, which runs code on the database server"
                )
            });
        } else {
            self.act(run, Class::Ddl, || format!("CREATE {what} {name}"));
        }
        for (key, value) in f {
            if key != "sql_body" {
                self.visit(value, run);
            }
        }
    }

    /// ALTER TABLE DROP COLUMN destroys data as DROP does; changing the owner or row-level
    /// security changes who may see and do what.
    fn alter_table_cmd(&mut self, f: &Fields, run: Run) {
        use protobuf::AlterTableType as T;
        let subtype = i32::try_from(int(f, "subtype")).unwrap_or_default();
        match T::try_from(subtype) {
            Ok(T::AtDropColumn) => self.act(run, Class::Dangerous, || {
                format!("ALTER TABLE drops column {}", string(f, "name"))
            }),
            Ok(T::AtChangeOwner) => self.act(run, Class::Admin, || {
                "ALTER ... OWNER TO changes an owner".to_string()
            }),
            Ok(
                T::AtEnableRowSecurity
                | T::AtDisableRowSecurity
                | T::AtForceRowSecurity
                | T::AtNoForceRowSecurity,
            ) => self.act(run, Class::Admin, || {
                "ALTER TABLE changes row-level security".to_string()
            }),
            _ => {}
        }
    }
}

/// The kind of a field that holds a node as a bare message (pg_query's protobuf types it as
/// that message rather than as a `Node`).
fn bare_kind(parent: &str, field: &str) -> Option<&'static str> {
    Some(match (parent, field) {
        ("SelectStmt", "larg" | "rarg") | ("PlAssignStmt", "val") => "SelectStmt",
        ("AlterRoleSetStmt" | "AlterDatabaseSetStmt" | "AlterSystemStmt", "setstmt") => {
            "VariableSetStmt"
        }
        ("CallStmt", "funccall") => "FuncCall",
        ("AlterDefaultPrivilegesStmt", "action") => "GrantStmt",
        ("CreateForeignTableStmt", "base_stmt") => "CreateStmt",
        _ => return None,
    })
}

/// Statement kinds whose class their kind decides, by class. Reads are listed in
/// `READ_STATEMENTS`; kinds with a handler of their own are listed in `known_statement`.
#[rustfmt::skip]
const FIXED_CLASSES: &[(Class, &[&str])] = &[
    (Class::Dangerous, &[
        "DropStmt", "TruncateStmt", "DropdbStmt", "DropRoleStmt", "DropOwnedStmt",
        "DropTableSpaceStmt", "DropSubscriptionStmt", "DropUserMappingStmt", "DoStmt",
        "AlterSystemStmt", "LoadStmt",
    ]),
    (Class::Admin, &[
        "GrantStmt", "GrantRoleStmt", "CreateRoleStmt", "AlterRoleStmt", "AlterRoleSetStmt",
        "ReassignOwnedStmt", "CreateExtensionStmt", "AlterExtensionStmt",
        "AlterExtensionContentsStmt", "ListenStmt", "UnlistenStmt", "NotifyStmt",
        "AlterDefaultPrivilegesStmt", "CreatePolicyStmt", "AlterPolicyStmt", "SecLabelStmt",
        "CreatePlangStmt", "CreateEventTrigStmt", "AlterEventTrigStmt",
        "CreateForeignServerStmt", "AlterForeignServerStmt", "CreateFdwStmt", "AlterFdwStmt",
        "CreateUserMappingStmt", "AlterUserMappingStmt", "ImportForeignSchemaStmt",
        "CreateSubscriptionStmt", "AlterSubscriptionStmt", "CreatePublicationStmt",
        "AlterPublicationStmt", "CreateTableSpaceStmt", "AlterTableSpaceOptionsStmt",
        "CreateAmStmt", "AlterOwnerStmt", "CheckPointStmt",
    ]),
    (Class::Ddl, &[
        "CreateStmt", "CreateTableAsStmt", "ViewStmt", "IndexStmt", "AlterTableStmt",
        "CreateSeqStmt", "AlterSeqStmt", "CreateSchemaStmt", "CreateDomainStmt",
        "AlterDomainStmt", "CreateEnumStmt", "AlterEnumStmt", "CompositeTypeStmt",
        "CreateRangeStmt", "DefineStmt", "AlterFunctionStmt", "CreateTrigStmt", "RuleStmt",
        "CommentStmt", "VacuumStmt", "ReindexStmt", "ClusterStmt", "RefreshMatViewStmt",
        "RenameStmt", "AlterObjectSchemaStmt", "AlterObjectDependsStmt", "CreatedbStmt",
        "AlterDatabaseStmt", "AlterDatabaseSetStmt", "AlterDatabaseRefreshCollStmt",
        "AlterCollationStmt", "CreateCastStmt", "CreateConversionStmt", "CreateOpClassStmt",
        "CreateOpFamilyStmt", "AlterOpFamilyStmt", "AlterOperatorStmt", "AlterTypeStmt",
        "CreateStatsStmt", "AlterStatsStmt", "AlterTsdictionaryStmt",
        "AlterTsconfigurationStmt", "CreateForeignTableStmt", "CreateTransformStmt",
        "AlterTableMoveAllStmt",
    ]),
    // LOCK TABLE takes locks that block writers (and readers, in ACCESS EXCLUSIVE mode).
    (Class::Write, &["LockStmt"]),
    // A procedure can write, commit, and do anything its owner wrote.
    (Class::Unknown, &["CallStmt"]),
];

fn fixed_class(kind: &str) -> Option<Class> {
    FIXED_CLASSES
        .iter()
        .find(|(_, kinds)| kinds.contains(&kind))
        .map(|(class, _)| *class)
}

/// Top-level statement kinds that only read, or that change nothing but the session.
const READ_STATEMENTS: &[&str] = &[
    "SelectStmt",
    "ExplainStmt",
    "VariableShowStmt",
    "VariableSetStmt",
    "TransactionStmt",
    "DeclareCursorStmt",
    "FetchStmt",
    "ClosePortalStmt",
    "ConstraintsSetStmt",
    "DiscardStmt",
    "DeallocateStmt",
    "PrepareStmt",
    "ExecuteStmt",
];

/// Whether guard knows this top-level statement kind; one it does not is `unknown`.
fn known_statement(kind: &str) -> bool {
    READ_STATEMENTS.contains(&kind)
        || fixed_class(kind).is_some()
        || matches!(
            kind,
            "InsertStmt"
                | "UpdateStmt"
                | "DeleteStmt"
                | "MergeStmt"
                | "CopyStmt"
                | "CreateFunctionStmt"
        )
}

fn read_reason(kind: &str) -> &'static str {
    match kind {
        "SelectStmt" => "SELECT without side effects",
        "ExplainStmt" => "EXPLAIN of a read, or without ANALYZE (only plans)",
        "VariableShowStmt" => "SHOW reads a setting",
        "VariableSetStmt" => "SET of an ordinary setting",
        "TransactionStmt" => "transaction control",
        "DeclareCursorStmt" => "a cursor over a read",
        "FetchStmt" => "FETCH or MOVE in a cursor",
        "ClosePortalStmt" => "CLOSE of a cursor",
        "CopyStmt" => "COPY TO STDOUT reads",
        "PrepareStmt" => "PREPARE of a read",
        "ExecuteStmt" => "EXECUTE of a prepared read",
        "DeallocateStmt" => "DEALLOCATE of a prepared statement",
        "DiscardStmt" => "DISCARD of session state",
        "ConstraintsSetStmt" => "SET CONSTRAINTS",
        _ => "reads only",
    }
}

/// A short human description of a statement whose kind decides its class.
fn describe(kind: &str, f: &Fields) -> String {
    match kind {
        "DropStmt" => {
            let objects: Vec<String> = list(f, "objects").iter().map(object_name).collect();
            format!(
                "DROP {} {}",
                object_type(f, "remove_type"),
                objects.join(", ")
            )
        }
        "TruncateStmt" => {
            let tables: Vec<String> = list(f, "relations")
                .iter()
                .filter_map(node_of)
                .map(|(_, r)| range_var(r))
                .collect();
            format!("TRUNCATE {}", tables.join(", "))
        }
        "GrantStmt" | "GrantRoleStmt" if !boolean(f, "is_grant") => "REVOKE".to_string(),
        "GrantStmt" | "GrantRoleStmt" => "GRANT".to_string(),
        "VacuumStmt" if !boolean(f, "is_vacuumcmd") => "ANALYZE".to_string(),
        "AlterTableStmt" => format!("ALTER {} {}", object_type(f, "objtype"), relation(f)),
        "DoStmt" => "DO runs a code block guard cannot see".to_string(),
        "AlterSystemStmt" => "ALTER SYSTEM changes the server's configuration".to_string(),
        "LoadStmt" => "LOAD loads a library into the server".to_string(),
        "CallStmt" => "CALL runs a procedure, which can write".to_string(),
        _ => {
            let verb = statement_verb(kind);
            match object(f, "relation") {
                Some(r) => format!("{verb} {}", range_var(r)),
                None => verb,
            }
        }
    }
}

/// The words a statement kind is written with, for reasons.
fn statement_verb(kind: &str) -> String {
    let verb = match kind {
        "CreateStmt" => "CREATE TABLE",
        "CreateTableAsStmt" => "CREATE TABLE AS",
        "ViewStmt" => "CREATE VIEW",
        "IndexStmt" => "CREATE INDEX on",
        "CreateSeqStmt" => "CREATE SEQUENCE",
        "AlterSeqStmt" => "ALTER SEQUENCE",
        "CreatedbStmt" => "CREATE DATABASE",
        "DropdbStmt" => "DROP DATABASE",
        "CreateRoleStmt" => "CREATE ROLE",
        "AlterRoleStmt" => "ALTER ROLE",
        "AlterRoleSetStmt" => "ALTER ROLE ... SET",
        "DropRoleStmt" => "DROP ROLE",
        "DropOwnedStmt" => "DROP OWNED",
        "ReassignOwnedStmt" => "REASSIGN OWNED",
        "CreatePlangStmt" => "CREATE LANGUAGE",
        "CreateTrigStmt" => "CREATE TRIGGER on",
        "CreateEventTrigStmt" => "CREATE EVENT TRIGGER",
        "RuleStmt" => "CREATE RULE on",
        "DefineStmt" => "CREATE AGGREGATE, OPERATOR or TYPE",
        "CommentStmt" => "COMMENT ON",
        "VacuumStmt" => "VACUUM",
        "ReindexStmt" => "REINDEX",
        "ClusterStmt" => "CLUSTER",
        "RefreshMatViewStmt" => "REFRESH MATERIALIZED VIEW",
        "CreateFdwStmt" => "CREATE FOREIGN DATA WRAPPER",
        "CreateForeignServerStmt" => "CREATE SERVER",
        "ImportForeignSchemaStmt" => "IMPORT FOREIGN SCHEMA",
        "SecLabelStmt" => "SECURITY LABEL",
        "AlterOwnerStmt" => "ALTER ... OWNER TO",
        "RenameStmt" => "ALTER ... RENAME",
        "LockStmt" => "LOCK TABLE",
        _ => return split_words(kind),
    };
    verb.to_string()
}

/// `CreateExtensionStmt` → `CREATE EXTENSION`, near enough for the rarer kinds.
fn split_words(kind: &str) -> String {
    let stem = kind.strip_suffix("Stmt").unwrap_or(kind);
    let mut out = String::new();
    for (i, c) in stem.char_indices() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn function_why(class: Class) -> &'static str {
    match class {
        Class::Write => "which changes data or takes a lock",
        Class::Ddl => "a maintenance function",
        Class::Admin => "an administrative function",
        _ => "a function guard does not know",
    }
}

/// C, internal, and the untrusted procedural languages (PostgreSQL marks them `lanpltrusted =
/// false`; by convention their names end in `u`).
fn untrusted_language(language: &str) -> bool {
    matches!(language, "c" | "internal") || (language.starts_with("pl") && language.ends_with('u'))
}

/// Whether an EXPLAIN's options include ANALYZE (`EXPLAIN ANALYZE`, `EXPLAIN (ANALYZE)`,
/// `EXPLAIN (ANALYZE true)`); an option guard cannot read counts as on.
fn explain_analyzes(f: &Fields) -> bool {
    list(f, "options").iter().filter_map(node_of).any(|(_, d)| {
        string(d, "defname") == "analyze"
            && match d.get("arg").filter(|a| !a.is_null()) {
                None => true,
                Some(arg) => constant(arg).is_none_or(|c| c.truth() != Some(false)),
            }
    })
}

/// Whether a WHERE (or join) condition is a constant, and which. Catches the usual ways to say
/// "every row": `true`, `1=1`, `'a'='a'`, `x = x`, `NOT false`, `... OR true`, `'t'::bool`.
fn const_truth(expr: &Value) -> Option<bool> {
    let (kind, f) = node_of(expr)?;
    match kind {
        "AConst" => Const::of(f).truth(),
        "BoolExpr" => bool_expr_truth(f),
        "AExpr" => comparison_truth(f),
        "TypeCast" => const_truth(f.get("arg")?),
        "BooleanTest" => boolean_test_truth(f),
        "NullTest" => {
            let arg = f.get("arg").and_then(constant)?;
            let is_null = matches!(arg, Const::Null);
            let wants_null = int(f, "nulltesttype") == protobuf::NullTestType::IsNull as i64;
            Some(is_null == wants_null)
        }
        _ => None,
    }
}

fn bool_expr_truth(f: &Fields) -> Option<bool> {
    use protobuf::BoolExprType as B;
    let args: Vec<Option<bool>> = list(f, "args").iter().map(const_truth).collect();
    let op = i32::try_from(int(f, "boolop")).unwrap_or_default();
    match B::try_from(op).ok()? {
        B::AndExpr if args.contains(&Some(false)) => Some(false),
        B::AndExpr => args.iter().all(|a| *a == Some(true)).then_some(true),
        B::OrExpr if args.contains(&Some(true)) => Some(true),
        B::OrExpr => args.iter().all(|a| *a == Some(false)).then_some(false),
        B::NotExpr => args.first().copied().flatten().map(|b| !b),
        B::Undefined => None,
    }
}

fn boolean_test_truth(f: &Fields) -> Option<bool> {
    use protobuf::BoolTestType as T;
    let value = const_truth(f.get("arg")?)?;
    let test = i32::try_from(int(f, "booltesttype")).unwrap_or_default();
    match T::try_from(test).ok()? {
        T::IsTrue | T::IsNotFalse => Some(value),
        T::IsFalse | T::IsNotTrue => Some(!value),
        T::IsNotUnknown => Some(true),
        T::IsUnknown | T::Undefined => None,
    }
}

/// `1 = 1`, `'a' <> 'b'`, `2 > 1`, and a column compared with itself (`id = id`, true for
/// every row where it is not NULL).
fn comparison_truth(f: &Fields) -> Option<bool> {
    if int(f, "kind") != protobuf::AExprKind::AexprOp as i64 {
        return None;
    }
    let names = strings(list(f, "name"));
    let op = *names.last()?;
    let (left, right) = (f.get("lexpr")?, f.get("rexpr")?);
    if let (Some(("ColumnRef", l)), Some(("ColumnRef", r))) = (node_of(left), node_of(right)) {
        let same = l.get("fields") == r.get("fields");
        return (same && matches!(op, "=" | "<=" | ">=")).then_some(true);
    }
    let ordering = constant(left)?.compare(&constant(right)?)?;
    use std::cmp::Ordering::*;
    Some(match op {
        "=" => ordering == Equal,
        "<>" | "!=" => ordering != Equal,
        "<" => ordering == Less,
        ">" => ordering == Greater,
        "<=" => ordering != Greater,
        ">=" => ordering != Less,
        _ => return None,
    })
}

/// A literal from an `AConst` node.
#[derive(Debug, Clone, PartialEq)]
enum Const {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
}

impl Const {
    fn of(f: &Fields) -> Const {
        note_literal();
        if boolean(f, "isnull") {
            return Const::Null;
        }
        let Some(Value::Object(val)) = f.get("val") else {
            return Const::Null;
        };
        match val.iter().next() {
            Some((k, Value::Object(v))) if k == "Ival" => Const::Number(int(v, "ival") as f64),
            Some((k, Value::Object(v))) if k == "Fval" => {
                string(v, "fval").parse().map_or(Const::Null, Const::Number)
            }
            Some((k, Value::Object(v))) if k == "Boolval" => Const::Bool(boolean(v, "boolval")),
            Some((k, Value::Object(v))) if k == "Sval" => Const::Text(string(v, "sval").into()),
            Some((k, Value::Object(v))) if k == "Bsval" => Const::Text(string(v, "bsval").into()),
            _ => Const::Null,
        }
    }

    fn text(&self) -> String {
        match self {
            Const::Null => String::new(),
            Const::Bool(b) => b.to_string(),
            Const::Number(n) => n.to_string(),
            Const::Text(t) => t.clone(),
        }
    }

    /// The boolean PostgreSQL reads from this literal (`boolin` accepts t, true, yes, on, 1
    /// and their opposites, any case, any unambiguous prefix of the words).
    fn truth(&self) -> Option<bool> {
        match self {
            Const::Bool(b) => Some(*b),
            Const::Text(t) => {
                let t = t.trim().to_ascii_lowercase();
                let is = |word: &str, min: usize| t.len() >= min && word.starts_with(&t);
                if is("true", 1) || is("yes", 1) || is("on", 2) || t == "1" {
                    Some(true)
                } else if is("false", 1) || is("no", 1) || is("off", 2) || t == "0" {
                    Some(false)
                } else {
                    None
                }
            }
            Const::Number(_) | Const::Null => None,
        }
    }

    fn compare(&self, other: &Const) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Const::Number(a), Const::Number(b)) => a.partial_cmp(b),
            (Const::Text(a), Const::Text(b)) => Some(a.cmp(b)),
            (Const::Bool(a), Const::Bool(b)) => Some(a.cmp(b)),
            (Const::Number(a), Const::Text(b)) => b
                .trim()
                .parse::<f64>()
                .ok()?
                .partial_cmp(a)
                .map(std::cmp::Ordering::reverse),
            (Const::Text(a), Const::Number(b)) => a.trim().parse::<f64>().ok()?.partial_cmp(b),
            _ => None,
        }
    }
}

/// The literal a node holds: an `AConst`, a `String` node, or a cast of either.
fn constant(value: &Value) -> Option<Const> {
    let (kind, f) = node_of(value)?;
    let literal = match kind {
        "AConst" => Const::of(f),
        "String" => Const::Text(string(f, "sval").to_string()),
        "Integer" => Const::Number(int(f, "ival") as f64),
        "Boolean" => Const::Bool(boolean(f, "boolval")),
        "TypeCast" => return constant(f.get("arg")?),
        _ => return None,
    };
    note_literal();
    Some(literal)
}

/// The text of a SET's value list when every item is a literal (`SET search_path = a, b`).
fn constant_text(args: &[Value]) -> Option<String> {
    let parts: Option<Vec<String>> = args.iter().map(|a| constant(a).map(|c| c.text())).collect();
    parts.map(|p| p.join(", "))
}

// Reading the JSON form of the tree.

fn node_of(value: &Value) -> Option<(&str, &Fields)> {
    match value {
        Value::Object(map) => node_of_map(map),
        _ => None,
    }
}

/// A node is `{"node": {"Kind": {fields}}}`; anything else is a plain message or a list.
fn node_of_map(map: &Fields) -> Option<(&str, &Fields)> {
    if map.len() != 1 {
        return None;
    }
    let Some(Value::Object(inner)) = map.get("node") else {
        return None;
    };
    let (kind, fields) = inner.iter().next()?;
    match fields {
        Value::Object(fields) if inner.len() == 1 && kind.starts_with(char::is_uppercase) => {
            Some((kind.as_str(), fields))
        }
        _ => None,
    }
}

fn object<'f>(f: &'f Fields, key: &str) -> Option<&'f Fields> {
    f.get(key).and_then(Value::as_object)
}

fn list<'f>(f: &'f Fields, key: &str) -> &'f [Value] {
    f.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn string<'f>(f: &'f Fields, key: &str) -> &'f str {
    f.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn int(f: &Fields, key: &str) -> i64 {
    f.get(key).and_then(Value::as_i64).unwrap_or_default()
}

fn boolean(f: &Fields, key: &str) -> bool {
    f.get(key).and_then(Value::as_bool).unwrap_or_default()
}

/// The text of a list of `String` nodes (a qualified name).
fn strings(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .filter_map(node_of)
        .filter(|(kind, _)| *kind == "String")
        .map(|(_, f)| string(f, "sval"))
        .collect()
}

fn range_var(r: &Fields) -> String {
    match string(r, "schemaname") {
        "" => string(r, "relname").to_string(),
        schema => format!("{schema}.{}", string(r, "relname")),
    }
}

fn relation(f: &Fields) -> String {
    object(f, "relation").map(range_var).unwrap_or_default()
}

/// A DROP's object: a qualified name (a `List` of `String`s), a bare `String`, or a type.
fn object_name(item: &Value) -> String {
    match node_of(item) {
        Some(("List", l)) => strings(list(l, "items")).join("."),
        Some(("String", s)) => string(s, "sval").to_string(),
        Some(("TypeName", t)) => strings(list(t, "names")).join("."),
        Some(("ObjectWithArgs", o)) => strings(list(o, "objname")).join("."),
        _ => String::new(),
    }
}

fn object_type(f: &Fields, key: &str) -> String {
    i32::try_from(int(f, key))
        .ok()
        .and_then(|t| protobuf::ObjectType::try_from(t).ok())
        .map(|t| {
            t.as_str_name()
                .trim_start_matches("OBJECT_")
                .replace('_', " ")
        })
        .unwrap_or_default()
}
