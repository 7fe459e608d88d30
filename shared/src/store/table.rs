//! A thin layer over the DynamoDB client: typed reads, conditional writes, transactions, and
//! the retry of transaction conflicts.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::AuthError;
use crate::error::Step;
use crate::store::{CodeItem, keys};

/// How often a transaction that lost only to concurrent transactions is tried again.
const CONFLICT_RETRIES: u32 = 8;

/// A condition or update expression with its `:values`. Attribute names are written `#name`
/// and mapped to `name` automatically, so reserved words (`status`, `used`...) never bite.
#[derive(Debug, Clone, Default)]
pub struct Expr {
    text: String,
    values: HashMap<String, AttributeValue>,
    /// Names not spelled by their token (`#p_x` for a map key `x-y`).
    renamed: HashMap<String, String>,
}

impl Expr {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            values: HashMap::new(),
            renamed: HashMap::new(),
        }
    }

    /// The token `#token` names the attribute (or map key) `name`, whatever its spelling.
    pub fn name(mut self, token: &str, name: &str) -> Self {
        self.renamed.insert(token.to_owned(), name.to_owned());
        self
    }

    /// A map of one string entry.
    pub fn one_entry_map(mut self, name: &str, key: &str, value: &str) -> Self {
        let entry = HashMap::from([(key.to_owned(), AttributeValue::S(value.to_owned()))]);
        self.values
            .insert(name.to_owned(), AttributeValue::M(entry));
        self
    }

    pub fn s(mut self, name: &str, value: impl Into<String>) -> Self {
        self.values
            .insert(name.to_owned(), AttributeValue::S(value.into()));
        self
    }

    pub fn n(mut self, name: &str, value: impl ToString) -> Self {
        self.values
            .insert(name.to_owned(), AttributeValue::N(value.to_string()));
        self
    }

    /// A string set of one element (for `ADD` to a set).
    pub fn one_string_set(mut self, name: &str, value: impl Into<String>) -> Self {
        self.values
            .insert(name.to_owned(), AttributeValue::Ss(vec![value.into()]));
        self
    }

    pub fn string_set(mut self, name: &str, values: Vec<String>) -> Self {
        self.values
            .insert(name.to_owned(), AttributeValue::Ss(values));
        self
    }

    pub fn bool(mut self, name: &str, value: bool) -> Self {
        self.values
            .insert(name.to_owned(), AttributeValue::Bool(value));
        self
    }

    /// Both conditions; the two must not use the same `:value` name for different values.
    pub fn and(mut self, other: Expr) -> Self {
        self.text = format!("({}) AND ({})", self.text, other.text);
        self.values.extend(other.values);
        self.renamed.extend(other.renamed);
        self
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        let mut names = HashMap::new();
        let bytes = self.text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'#' {
                let start = i;
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let token = &self.text[start..i];
                let name = self.renamed.get(token).cloned();
                names.insert(
                    token.to_owned(),
                    name.unwrap_or_else(|| token[1..].to_owned()),
                );
            } else {
                i += 1;
            }
        }
        (!names.is_empty()).then_some(names)
    }

    fn merged_values(parts: &[&Expr]) -> Option<HashMap<String, AttributeValue>> {
        let values: HashMap<_, _> = parts
            .iter()
            .flat_map(|e| e.values.iter().map(|(k, v)| (k.clone(), v.clone())))
            .collect();
        (!values.is_empty()).then_some(values)
    }

    fn merged_names(parts: &[&Expr]) -> Option<HashMap<String, String>> {
        let names: HashMap<_, _> = parts.iter().filter_map(|e| e.names()).flatten().collect();
        (!names.is_empty()).then_some(names)
    }
}

/// What became of a transaction: committed, or cancelled with one reason code per item
/// (`None` for items that were fine, `Some("ConditionalCheckFailed")`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutcome {
    Committed,
    Cancelled(Vec<Option<String>>),
}

impl TxOutcome {
    /// Whether the condition of item `index` (in the order given) failed.
    pub fn condition_failed(&self, index: usize) -> bool {
        match self {
            Self::Committed => false,
            Self::Cancelled(reasons) => reasons
                .get(index)
                .and_then(|r| r.as_deref())
                .is_some_and(|code| code == "ConditionalCheckFailed"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A strongly consistent read: every decision taken on it is re-checked by a condition.
    pub async fn get<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<T>, AuthError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AuthError::internal(aws_sdk_dynamodb::Error::from(e)))
            .step(format!("reading a {sk} item"))?;
        match out.item {
            None => Ok(None),
            Some(item) => serde_dynamo::from_item(item)
                .map(Some)
                .map_err(AuthError::internal),
        }
    }

    /// Reads several items in one snapshot (`TransactGetItems`): either all of them as they
    /// were before a transaction that wrote some of them, or all as they are after it, never
    /// a mix. `None` for an item that does not exist.
    pub async fn get_together(&self, keys: &[(&str, &str)]) -> Result<Vec<Snapshot>, AuthError> {
        use aws_sdk_dynamodb::types::{Get, TransactGetItem};
        let mut request = self.client.transact_get_items();
        for (pk, sk) in keys {
            let get = Get::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S((*pk).to_owned()))
                .key("sk", AttributeValue::S((*sk).to_owned()))
                .build()
                .map_err(AuthError::internal)?;
            request = request.transact_items(TransactGetItem::builder().get(get).build());
        }
        let out = request
            .send()
            .await
            .map_err(|e| AuthError::internal(aws_sdk_dynamodb::Error::from(e)))
            .step(format!("reading {} items together", keys.len()))?;
        Ok(out
            .responses
            .unwrap_or_default()
            .into_iter()
            .map(|response| Snapshot(response.item.filter(|item| !item.is_empty())))
            .collect())
    }

    /// Every item of `index` whose partition key `key` is `value`, in descending sort-key
    /// order, across as many pages as the query takes. Index reads are eventually
    /// consistent: a write of the last moment may be missing.
    pub async fn query_index<T: DeserializeOwned>(
        &self,
        index: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<T>, AuthError> {
        self.query(index, key, value, None, false, usize::MAX).await
    }

    /// Up to `limit` items of `index` whose partition key `key` is `value` and whose sort key
    /// `range` is at most `max`, oldest first (eventually consistent, as index reads are).
    pub async fn query_index_up_to<T: DeserializeOwned>(
        &self,
        index: &str,
        key: &str,
        value: &str,
        range: &str,
        max: i64,
        limit: usize,
    ) -> Result<Vec<T>, AuthError> {
        self.query(index, key, value, Some((range, max)), true, limit)
            .await
    }

    async fn query<T: DeserializeOwned>(
        &self,
        index: &str,
        key: &str,
        value: &str,
        at_most: Option<(&str, i64)>,
        ascending: bool,
        limit: usize,
    ) -> Result<Vec<T>, AuthError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .expression_attribute_names("#key", key)
                .expression_attribute_values(":value", AttributeValue::S(value.to_owned()))
                .scan_index_forward(ascending)
                .set_exclusive_start_key(start);
            query = match at_most {
                None => query.key_condition_expression("#key = :value"),
                Some((range, max)) => query
                    .key_condition_expression("#key = :value AND #range <= :max")
                    .expression_attribute_names("#range", range)
                    .expression_attribute_values(":max", AttributeValue::N(max.to_string())),
            };
            let out = query
                .send()
                .await
                .map_err(|e| AuthError::internal(aws_sdk_dynamodb::Error::from(e)))
                .step(format!("querying the {index} index"))?;
            for item in out.items.unwrap_or_default() {
                items.push(serde_dynamo::from_item(item).map_err(AuthError::internal)?);
                if items.len() >= limit {
                    return Ok(items);
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// A new item: the write fails if one with its key exists.
    pub fn put_new(&self, item: &impl Serialize) -> Result<TransactWriteItem, AuthError> {
        self.put(item, Some(absent()))
    }

    /// An item written over the version read (`seen`; `None`: read as absent), so a writer
    /// that lost a race to another fails instead of overwriting it.
    pub fn put_replacing(
        &self,
        item: &impl Serialize,
        seen: Option<u64>,
    ) -> Result<TransactWriteItem, AuthError> {
        match seen {
            None => self.put_new(item),
            Some(version) => self.put(
                item,
                Some(Expr::new("#version = :seen").n(":seen", version)),
            ),
        }
    }

    pub fn put(
        &self,
        item: &impl Serialize,
        condition: Option<Expr>,
    ) -> Result<TransactWriteItem, AuthError> {
        let item = serde_dynamo::to_item(item).map_err(AuthError::internal)?;
        let cond = condition.unwrap_or_default();
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression((!cond.text.is_empty()).then(|| cond.text.clone()))
            .set_expression_attribute_names(Expr::merged_names(&[&cond]))
            .set_expression_attribute_values(Expr::merged_values(&[&cond]))
            .build()
            .map_err(AuthError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Expr,
        condition: Option<Expr>,
    ) -> Result<TransactWriteItem, AuthError> {
        let cond = condition.unwrap_or_default();
        let parts = [&update, &cond];
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .update_expression(update.text.clone())
            .set_condition_expression((!cond.text.is_empty()).then(|| cond.text.clone()))
            .set_expression_attribute_names(Expr::merged_names(&parts))
            .set_expression_attribute_values(Expr::merged_values(&parts))
            .build()
            .map_err(AuthError::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub fn delete(
        &self,
        pk: &str,
        sk: &str,
        condition: Option<Expr>,
    ) -> Result<TransactWriteItem, AuthError> {
        let cond = condition.unwrap_or_default();
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .set_condition_expression((!cond.text.is_empty()).then(|| cond.text.clone()))
            .set_expression_attribute_names(Expr::merged_names(&[&cond]))
            .set_expression_attribute_values(Expr::merged_values(&[&cond]))
            .build()
            .map_err(AuthError::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// A condition on an item the transaction does not write.
    pub fn check(
        &self,
        pk: &str,
        sk: &str,
        condition: Expr,
    ) -> Result<TransactWriteItem, AuthError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .condition_expression(condition.text.clone())
            .set_expression_attribute_names(Expr::merged_names(&[&condition]))
            .set_expression_attribute_values(Expr::merged_values(&[&condition]))
            .build()
            .map_err(AuthError::internal)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Runs one transaction. A cancellation caused only by concurrent transactions
    /// (`TransactionConflict`) is retried with jittered backoff; a failed condition is
    /// returned for the caller to interpret.
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<TxOutcome, AuthError> {
        let mut attempt = 0;
        // An idempotency token per logical attempt: resending after
        // TransactionInProgress (a slow first try still running) must not apply it twice.
        let mut token = uuid::Uuid::new_v4().to_string();
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(&token)
                .send()
                .await;
            let retryable = match result {
                Ok(_) => return Ok(TxOutcome::Committed),
                Err(SdkError::ServiceError(ref service)) => match service.err() {
                    TransactWriteItemsError::TransactionCanceledException(cancel) => {
                        let reasons: Vec<Option<String>> = cancel
                            .cancellation_reasons()
                            .iter()
                            .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                            .collect();
                        let only_conflicts =
                            reasons.iter().flatten().all(|c| c == "TransactionConflict")
                                && reasons.iter().flatten().next().is_some();
                        if !only_conflicts || attempt >= CONFLICT_RETRIES {
                            return Ok(TxOutcome::Cancelled(reasons));
                        }
                        // Lost to another transaction: a fresh attempt, a fresh token.
                        token = uuid::Uuid::new_v4().to_string();
                        true
                    }
                    TransactWriteItemsError::TransactionInProgressException(_) => true,
                    _ => false,
                },
                Err(_) => false,
            };
            if !retryable || attempt >= CONFLICT_RETRIES {
                let err = result.err().map(aws_sdk_dynamodb::Error::from);
                let failed: Result<TxOutcome, AuthError> = Err(AuthError::internal(match err {
                    // With the service's message (which names the rule a request broke).
                    Some(e) => aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
                    None => "transaction failed".to_owned(),
                }));
                return failed.step(format!("a transaction of {} writes", items.len()));
            }
            attempt += 1;
            backoff(attempt).await;
        }
    }

    /// A single `UpdateItem` of `pk`/`sk` on `condition`, ready to send or to refine.
    pub(super) fn conditional_update(
        &self,
        pk: &str,
        sk: &str,
        update: &Expr,
        condition: &Expr,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let parts = [update, condition];
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .update_expression(update.text.clone())
            .condition_expression(condition.text.clone())
            .set_expression_attribute_names(Expr::merged_names(&parts))
            .set_expression_attribute_values(Expr::merged_values(&parts))
    }

    /// A single conditional put (no transaction: one item needs none); `Ok(false)` when the
    /// condition failed.
    pub async fn put_if(&self, item: &impl Serialize, condition: Expr) -> Result<bool, AuthError> {
        let item = serde_dynamo::to_item(item).map_err(AuthError::internal)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition.text.clone())
            .set_expression_attribute_names(Expr::merged_names(&[&condition]))
            .set_expression_attribute_values(Expr::merged_values(&[&condition]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    PutItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(false)
            }
            Err(e) => {
                Err(AuthError::internal(aws_sdk_dynamodb::Error::from(e))).step("putting an item")
            }
        }
    }

    /// A new item, alone; `Ok(false)` when one with its key exists.
    pub async fn insert(&self, item: &impl Serialize) -> Result<bool, AuthError> {
        self.put_if(item, absent()).await
    }

    /// [`Store::update_if`] in one transaction with `also` (writes without a condition: an
    /// audit record); `Ok(false)` when the update's condition failed.
    pub async fn update_if_with(
        &self,
        pk: &str,
        sk: &str,
        update: Expr,
        condition: Expr,
        also: Vec<TransactWriteItem>,
    ) -> Result<bool, AuthError> {
        let mut items = vec![self.update(pk, sk, update, Some(condition))?];
        items.extend(also);
        match self.transact(items).await? {
            TxOutcome::Committed => Ok(true),
            outcome if outcome.condition_failed(0) => Ok(false),
            TxOutcome::Cancelled(reasons) => Err(AuthError::internal(format!(
                "an update of a {sk} item collided: {reasons:?}"
            ))),
        }
    }

    /// A single conditional update; `Ok(false)` when the condition failed.
    pub async fn update_if(
        &self,
        pk: &str,
        sk: &str,
        update: Expr,
        condition: Expr,
    ) -> Result<bool, AuthError> {
        let result = self
            .conditional_update(pk, sk, &update, &condition)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(AuthError::internal(aws_sdk_dynamodb::Error::from(e)))
                .step(format!("updating a {sk} item")),
        }
    }
}

impl Store {
    /// Takes a single-use item (a WebAuthn ceremony, a provider sign-in's state, a one-time
    /// sign-in code), once: it is marked used on the condition that it was not and has not
    /// expired, and answered as it is then. `None`: unknown, used or expired.
    pub async fn take_single_use<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
        now: i64,
    ) -> Result<Option<T>, AuthError> {
        let update = Expr::new("SET #used = :yes").bool(":yes", true);
        let condition = Expr::new("#used = :no AND #expires_at > :now")
            .bool(":no", false)
            .n(":now", now);
        self.update_returning(pk, sk, update, condition).await
    }

    /// A single conditional update that answers the item as it is after it; `None` when the
    /// condition failed.
    pub async fn update_returning<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
        update: Expr,
        condition: Expr,
    ) -> Result<Option<T>, AuthError> {
        let result = self
            .conditional_update(pk, sk, &update, &condition)
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => updated_item(out).map(Some),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(AuthError::internal(aws_sdk_dynamodb::Error::from(e)))
                .step(format!("updating a {sk} item")),
        }
    }
}

/// The condition of a new item: none has its key yet.
fn absent() -> Expr {
    Expr::new("attribute_not_exists(pk)")
}

/// The item an `UpdateItem` with `ReturnValues: ALL_NEW` answered, decoded.
pub(super) fn updated_item<T: DeserializeOwned>(
    out: aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
) -> Result<T, AuthError> {
    let item = out
        .attributes
        .ok_or_else(|| AuthError::internal("UpdateItem returned no attributes for ALL_NEW"))?;
    serde_dynamo::from_item(item).map_err(AuthError::internal)
}

/// One item of a [`Store::get_together`] read, to be decoded as the type it is.
#[derive(Debug, Clone, Default)]
pub struct Snapshot(Option<HashMap<String, AttributeValue>>);

impl Snapshot {
    pub fn decode<T: DeserializeOwned>(self) -> Result<Option<T>, AuthError> {
        self.0
            .map(serde_dynamo::from_item)
            .transpose()
            .map_err(AuthError::internal)
    }
}

/// The outcome of taking one try at a code.
#[derive(Debug)]
pub enum CodeTry {
    /// The try was counted; the item is as it is now (its `attempts` include this try).
    Taken(Box<CodeItem>),
    /// Every try was spent: the code is burned.
    Burned,
    /// No such code, or it is used or expired.
    Gone,
}

impl Store {
    /// Counts one try at the code `pk`/`sk` before anything is compared: a single
    /// conditional increment that succeeds only while the code is unused, unexpired and has
    /// tries left, so however many guesses arrive at once, at most `max` are ever compared.
    ///
    /// Each try names itself (`try_id`, added to the item's `tries` set), so that an attempt
    /// the SDK retried after a lost response, whose first send did count, is recognised as
    /// this try rather than answered as a failed condition.
    pub async fn take_code_try(
        &self,
        pk: &str,
        sk: &str,
        max: u32,
        now: i64,
    ) -> Result<CodeTry, AuthError> {
        let try_id = crate::crypto::base64url(&crate::crypto::random_array::<16>()?);
        let update = Expr::new("SET #attempts = #attempts + :one ADD #tries :mine")
            .n(":one", 1)
            .one_string_set(":mine", try_id.as_str());
        let condition = Expr::new(
            "attribute_exists(pk) AND #attempts < :max AND #used = :no AND #expires_at > :now",
        )
        .n(":max", max)
        .bool(":no", false)
        .n(":now", now);
        let result = self
            .conditional_update(pk, sk, &update, &condition)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => updated_item(out).map(|code| CodeTry::Taken(Box::new(code))),
            Err(SdkError::ServiceError(service)) => match service.into_err() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    // Which condition failed decides the answer: burned only when the code
                    // is otherwise still good.
                    let old: Option<CodeItem> = match failed.item {
                        Some(item) => {
                            Some(serde_dynamo::from_item(item).map_err(AuthError::internal)?)
                        }
                        None => self.get(pk, sk).await?,
                    };
                    Ok(match old {
                        // This try did count: its first send succeeded, the answer was lost.
                        Some(code) if code.tries.contains(&try_id) => {
                            CodeTry::Taken(Box::new(code))
                        }
                        Some(code)
                            if !code.used && code.expires_at > now && code.attempts >= max =>
                        {
                            CodeTry::Burned
                        }
                        _ => CodeTry::Gone,
                    })
                }
                other => Err(AuthError::internal(aws_sdk_dynamodb::Error::from(other))),
            },
            Err(e) => Err(AuthError::internal(aws_sdk_dynamodb::Error::from(e))),
        }
    }
}

impl Store {
    /// Takes one unit of the counter `pk` if fewer than `max` were taken: one conditional
    /// increment, so concurrent requests can never take more than `max` between them.
    /// `Ok(false)` when the counter is full. The item expires at `expires_at`.
    pub async fn take_budget(
        &self,
        pk: &str,
        max: u64,
        expires_at: i64,
    ) -> Result<bool, AuthError> {
        self.update_if(
            pk,
            keys::BUDGET,
            Expr::new("SET #taken = if_not_exists(#taken, :zero) + :one, #expires_at = :exp")
                .n(":zero", 0)
                .n(":one", 1)
                .n(":exp", expires_at),
            Expr::new("attribute_not_exists(#taken) OR #taken < :max").n(":max", max),
        )
        .await
    }
}

async fn backoff(attempt: u32) {
    let base = 10u64 << attempt.min(5);
    let jitter = crate::crypto::random_array::<2>()
        .map(|b| u64::from(u16::from_le_bytes(b)) % base)
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(base / 2 + jitter)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_are_derived_from_the_expression() {
        let expr = Expr::new("#used = :f AND #attempts < :max AND attribute_not_exists(pk)")
            .bool(":f", false)
            .n(":max", 5);
        let names = expr.names().unwrap();
        assert_eq!(names.get("#used").map(String::as_str), Some("used"));
        assert_eq!(names.get("#attempts").map(String::as_str), Some("attempts"));
        assert_eq!(names.len(), 2);
        assert!(Expr::new("attribute_not_exists(pk)").names().is_none());
    }

    #[test]
    fn only_failed_conditions_count() {
        let outcome = TxOutcome::Cancelled(vec![
            None,
            Some("ConditionalCheckFailed".into()),
            Some("TransactionConflict".into()),
        ]);
        assert!(!outcome.condition_failed(0));
        assert!(outcome.condition_failed(1));
        assert!(!outcome.condition_failed(2));
        assert!(!outcome.condition_failed(7));
        assert!(!TxOutcome::Committed.condition_failed(0));
    }
}
