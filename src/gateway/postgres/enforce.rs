//! The policy at the wire: what each statement of one client connection is classified as, what
//! the session's rules decide for it, and, for `ask`, what the human answers (SPEC, "Classes and
//! default policy" and "Approvals").
//!
//! Classification costs tens of microseconds per statement, so verdicts are cached per
//! connection by exact SQL text: a small cache of recent texts, and the prepared statement itself for
//! the extended protocol (a Parse is decided once, its Executes reuse it). A text's class can
//! depend on the statements prepared on the connection (`EXECUTE name`), so that cache is emptied
//! whenever those change. Below it, texts that differ only in their constants share one
//! classification when no constant decided it (`policy::shape`); the rules and the masker still
//! see each text.

use std::sync::Arc;

use crate::approval::{self, Approver, Ask};
use crate::config::Action;
use crate::mask::Masker;
use crate::policy::recent::Recent;
use crate::policy::shape::{self, ShapeCache};
use crate::policy::sql::{Classification, SqlSession};
use crate::policy::{Class, Decision, Policy, action_name};

/// Texts remembered per connection (per generation); a miss costs a shape lookup or a
/// classification.
const RECENT_TEXTS: usize = 256;

/// What a connection needs from the session to enforce the policy.
#[derive(Clone)]
pub struct Guard {
    pub policy: Arc<Policy>,
    pub approver: Approver,
    pub masker: Masker,
}

/// One SQL text, classified and decided by the rules (before any human is asked).
pub struct Verdict {
    pub sql: Arc<str>,
    /// The text as the transcript and the approver see it: masked by the session's masker.
    pub masked: String,
    pub classification: Classification,
    pub decision: Decision,
}

impl Verdict {
    pub fn class(&self) -> Class {
        self.classification.class
    }

    /// The rule that decided, or `default: <class> <action>` (the `rule` of a `query` record).
    pub fn rule(&self) -> String {
        self.decision.rule.clone().unwrap_or_else(|| {
            format!(
                "default: {} {}",
                self.class(),
                action_name(self.decision.action)
            )
        })
    }
}

/// The final word on one statement: the `decision` of its `query` record, and for a refusal the
/// message the client gets.
pub struct Outcome {
    pub decision: &'static str,
    pub refusal: Option<String>,
}

/// The policy state of one client connection.
pub struct Enforcer {
    guard: Guard,
    target: Arc<str>,
    session: SqlSession,
    shapes: ShapeCache,
    texts: Recent<Arc<str>, Arc<Verdict>>,
}

impl Enforcer {
    pub fn new(guard: Guard, target: Arc<str>) -> Self {
        Enforcer {
            guard,
            target,
            session: SqlSession::new(),
            shapes: ShapeCache::default(),
            texts: Recent::new(RECENT_TEXTS),
        }
    }

    /// The verdict on a text, from the cache when the same text was seen before.
    pub fn verdict(&mut self, sql: &str) -> Arc<Verdict> {
        if let Some(verdict) = self.texts.get(sql) {
            return verdict;
        }
        let (classification, by_shape) = self.shapes.classify_noting_shape(&self.session, sql);
        let decision = self.guard.policy.decide_sql(&self.target, &classification);
        let masked = self.guard.masker.mask_text(sql).text.into_owned();
        let sql: Arc<str> = sql.into();
        let verdict = Arc::new(Verdict {
            sql: sql.clone(),
            masked,
            classification,
            decision,
        });
        // A text that prepares or deallocates changes the session when it runs: never reuse.
        // One answered by its shape is as cheap to answer again; remembering each (a client
        // that sends a new constant every time) would only churn the cache.
        if !by_shape && !verdict.classification.changes_prepared() && sql.len() <= shape::LONGEST {
            self.texts.insert(sql, verdict.clone());
        }
        verdict
    }

    /// The verdict on something guard cannot see the SQL of (an Execute of a portal it did not
    /// see bound, a fast-path FunctionCall): unknown, decided by the rules on `what`.
    pub fn unknown(&self, what: &str) -> Arc<Verdict> {
        let reason = format!("guard cannot see what {what} runs");
        let classification = Classification::unseen(what, reason);
        let decision = self.guard.policy.decide(&self.target, Class::Unknown, what);
        Arc::new(Verdict {
            sql: what.into(),
            masked: what.to_string(),
            classification,
            decision,
        })
    }

    /// A Parse: the statement `name` is now `verdict` (the unnamed one too, as the server has it).
    pub fn prepared(&mut self, name: &str, verdict: &Verdict) {
        self.session.remember(name, verdict.classification.clone());
        if !name.is_empty() {
            self.texts.clear();
        }
    }

    /// A Close of a statement.
    pub fn closed(&mut self, name: &str) {
        self.session.forget(name);
        if !name.is_empty() {
            self.texts.clear();
        }
    }

    /// A text went upstream: remember what it prepared or deallocated.
    pub fn ran(&mut self, verdict: &Verdict) {
        if verdict.classification.changes_prepared() {
            self.session.apply(&verdict.classification);
            self.texts.clear();
        }
    }

    /// Settles a verdict: allow and deny stand; `ask` waits for the approver. `id` is the
    /// statement's `query` id, which the `approval` record shares.
    pub async fn settle(&self, verdict: &Verdict, id: u64) -> Outcome {
        match verdict.decision.action {
            Action::Allow => Outcome {
                decision: "allow",
                refusal: None,
            },
            Action::Deny => {
                let rule = verdict.rule();
                self.guard.approver.mark(&format!(
                    "denied {} on {} ({id}): {rule}",
                    verdict.class(),
                    self.target
                ));
                Outcome {
                    decision: "deny",
                    refusal: Some(format!("guard: denied by rule {rule}")),
                }
            }
            Action::Ask => self.ask(verdict, id).await,
        }
    }

    async fn ask(&self, verdict: &Verdict, id: u64) -> Outcome {
        let ask = Ask {
            id: id.to_string(),
            target: self.target.to_string(),
            class: verdict.class().to_string(),
            text: verdict.masked.clone(),
            rule: verdict.rule(),
            shape: verdict.classification.shape(),
        };
        let reply = self.guard.approver.ask(ask).await;
        let refusal = match reply.decision {
            approval::Decision::Approved => None,
            approval::Decision::Rejected => Some("guard: rejected by reviewer".to_string()),
            approval::Decision::Timeout => Some("guard: approval timed out".to_string()),
        };
        Outcome {
            decision: reply.decision.as_str(),
            refusal,
        }
    }
}
