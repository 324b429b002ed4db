//! What the bridges keep between requests and how a request is answered through it: the UUID
//! index of the thread list and the read caches of both routes (`crate::cache`: threadgate's
//! writes are seen at once, other writers within `THREADGATE_BRIDGE_CACHE_MS`; authorisation
//! and the customer's view are decided per request, never cached).
//!
//! The values kept: [`M10Read`] (a thread's rows and the shop's rendered view) and [`ListRead`]
//! (existence checks and every thread's summary, with the last few pages rendered from them).
//! Uses `db` to read, never actix.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono_tz::Tz;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::ids::{self, IdIndex, Lookup};
use super::mirakl_m10::{self, M10Error, View};
use super::thread_list::{self, Failure, ListError, Summary};
use super::{attachment_size, parse_ref, reads, MessageRow, ReadFailure, RowKind, ThreadRow};
use crate::cache::{CacheStats, Clock, Generation, ReadCache, Weigh};
use crate::config::ServeSettings;
use crate::db::replica::Route;
use crate::db::shop::{NameFirst, ShopSnapshot};
use crate::db::{self, Pool, Tables};
use crate::error::DbError;

/// Where the bridges read from: the pool, the route of their reads (the replica when one
/// serves, waiting for this node's writes: `db::replica`), the table names, the settings and the
/// shop snapshot of the request.
pub struct Source<'a> {
    pub pool: &'a Pool,
    pub route: Route,
    pub tables: &'a Tables,
    pub settings: &'a ServeSettings,
    pub snapshot: Arc<ShopSnapshot>,
}

/// What the bridges keep between requests, shared by every worker.
#[derive(Debug)]
pub struct BridgeState {
    ids: Arc<IdIndex>,
    m10: ReadCache<u32, M10Read>,
    lists: ReadCache<ListKey, ListRead>,
}

impl BridgeState {
    pub fn new(
        settings: &ServeSettings,
        generation: Arc<Generation>,
        clock: Arc<Clock>,
    ) -> BridgeState {
        let ttl = std::time::Duration::from_millis(settings.bridge_cache_ms);
        let half = settings.bridge_cache_mib.saturating_mul(1 << 20) / 2;
        BridgeState {
            ids: Arc::new(IdIndex::default()),
            m10: ReadCache::new(ttl, half, generation.clone()).with_clock(clock.clone()),
            lists: ReadCache::new(ttl, half, generation).with_clock(clock),
        }
    }

    /// The read caches' hits and misses, for `/metrics`.
    pub fn cache_stats(&self) -> Vec<(&'static str, CacheStats)> {
        vec![
            ("m10", self.m10.stats()),
            ("thread_list", self.lists.stats()),
        ]
    }

    /// The M10 document of thread `id` for a key of `shops`: the shop's view, or the view of
    /// `customer_id` when one was given.
    pub async fn m10(
        &self,
        src: &Source<'_>,
        shops: &[u32],
        id: u32,
        customer_id: Option<&str>,
    ) -> Result<Bytes, M10Error> {
        let read = self.m10.get_or_load(id, || read_m10(src, id)).await?;
        let found = read.0.as_ref().ok_or_else(M10Error::not_found)?;
        // A thread of a shop the key is not associated with does not exist for this key.
        if !shops.contains(&found.thread.id_shop) {
            return Err(M10Error::not_found());
        }
        match customer_id {
            None => Ok(found.shop_view.clone()),
            Some(c) if !mirakl_m10::owned_by(&found.thread, c) => Err(M10Error::not_found()),
            Some(c) => found
                .render(View::Customer(c))
                .map_err(|_| M10Error::internal()),
        }
    }

    /// The page of the thread list that `req` asks for, for a key of `shops`, with the body's
    /// warnings. The failures come in myKaarma's order: department → customer → body →
    /// assignee.
    pub async fn thread_list(
        &self,
        src: &Source<'_>,
        shops: &[u32],
        req: ListRequest<'_>,
    ) -> Result<Listed, ListError> {
        let assignee_raw = req.body.as_ref().ok().and_then(|r| r.assignee.clone());
        let (key, employee) = self.list_key(src, &req, assignee_raw.as_deref()).await?;
        let read = self.lists.get_or_load(key, || read_list(src, key)).await?;
        read.check(&req)?;
        let body = req.body.map_err(ListError::from)?;
        if let Some(a) = assignee_raw {
            if employee == Some(None) || !read.employee_ok {
                return Err(ListError {
                    warnings: body.warnings,
                    ..Failure::InvalidUser(a).into()
                });
            }
        }
        let ns = src.settings.bridge_uuid_namespace;
        let page = read
            .page_for(shops, &body, employee.flatten(), &ns)
            .map_err(|_| ListError::from(Failure::Internal))?;
        Ok(Listed {
            page,
            warnings: body.warnings,
        })
    }

    /// The read's key: department, customer and assignee resolved to ids. The assignee is
    /// `None` without a filter and `Some(None)` when it names no employee.
    async fn list_key(
        &self,
        src: &Source<'_>,
        req: &ListRequest<'_>,
        assignee_raw: Option<&str>,
    ) -> Result<(ListKey, Option<Option<u32>>), ListError> {
        let ns = src.settings.bridge_uuid_namespace;
        let ids = &self.ids;
        let refs = [
            ids::lookup(ids, &ns, RowKind::Contact, parse_ref(req.department)),
            ids::lookup(ids, &ns, RowKind::Customer, parse_ref(req.customer)),
            match assignee_raw {
                None => Lookup::Absent,
                Some(a) => match ids::lookup(ids, &ns, RowKind::Employee, parse_ref(a)) {
                    // An assignee that is not a UUID or a decimal names nobody.
                    Lookup::Absent => Lookup::Id(0),
                    l => l,
                },
            },
        ];
        let [contact, customer, employee] = ids::learn(src.pool, src.tables, ids, ns, refs)
            .await
            .map_err(|e| ReadFailure::of(&e))?;
        let Some(contact) = contact else {
            return Err(ListError::after(Failure::NotAuthorized, &req.body));
        };
        let Some(customer) = customer.filter(|&c| c > 0) else {
            return Err(req.invalid_customer());
        };
        let employee = assignee_raw.map(|_| employee.filter(|&e| e > 0));
        let key = ListKey {
            contact,
            customer,
            employee: employee.flatten(),
        };
        Ok((key, employee))
    }
}

// --- Mirakl M10 ---

/// What M10 keeps of a thread id: nothing when the thread does not exist, else its rows, the
/// shop's name and time zone as they were read, and the shop's view already rendered (the
/// answer without `customer_id`, the same bytes for every key that may see the thread).
#[derive(Debug)]
pub struct M10Read(Option<M10Thread>);

#[derive(Debug)]
struct M10Thread {
    thread: ThreadRow,
    messages: Vec<MessageRow>,
    shop_name: String,
    tz: Tz,
    shop_view: Bytes,
}

impl M10Thread {
    fn render(&self, view: View<'_>) -> serde_json::Result<Bytes> {
        let doc = mirakl_m10::build(&self.thread, &self.messages, &self.shop_name, self.tz, view);
        serde_json::to_vec(&doc).map(Bytes::from)
    }
}

impl Weigh for M10Read {
    fn weight(&self) -> usize {
        self.0.as_ref().map_or(0, |t| {
            let rows: usize = t
                .messages
                .iter()
                .map(|m| std::mem::size_of::<MessageRow>() + m.message.len() + m.date_add.len())
                .sum();
            t.shop_view.len() + rows + std::mem::size_of::<M10Thread>()
        })
    }
}

/// Reads a thread and its messages (two statements, `db::bridge`), with the attachments' sizes.
async fn read_m10(src: &Source<'_>, id: u32) -> Result<M10Read, ReadFailure> {
    let tables = src.tables.clone();
    let upload_dir = src.settings.upload_dir.clone();
    let found = src
        .route
        .run(move |conn| {
            let found =
                reads::thread_with_messages(conn, &tables, id.into()).map_err(DbError::from)?;
            Ok::<_, DbError>(found.map(|(t, mut messages)| {
                for m in &mut messages {
                    if let Some(name) = m.attachment() {
                        m.file_size = attachment_size(upload_dir.as_deref(), name);
                    }
                }
                (t, messages)
            }))
        })
        .await
        .map_err(|e| ReadFailure::of(&e))?;
    let Some((thread, messages)) = found else {
        return Ok(M10Read(None));
    };
    let snapshot = &src.snapshot;
    let shop_name = snapshot
        .shop_name(thread.id_shop, NameFirst::ShopRow)
        .unwrap_or(&src.settings.shop_name)
        .to_owned();
    let tz = snapshot.timezone(thread.id_shop, src.settings.timezone);
    let mut t = M10Thread {
        thread,
        messages,
        shop_name,
        tz,
        shop_view: Bytes::new(),
    };
    t.shop_view = t.render(View::All).map_err(|e| {
        tracing::error!(error = %e, "M10 rendering failed");
        ReadFailure::Internal
    })?;
    Ok(M10Read(Some(t)))
}

// --- myKaarma thread list ---

/// A thread list request as the handler parsed it: the path's references as sent and the body.
pub struct ListRequest<'a> {
    pub department: &'a str,
    pub customer: &'a str,
    pub body: Result<thread_list::Request, Failure>,
}

impl ListRequest<'_> {
    fn invalid_customer(&self) -> ListError {
        ListError::after(
            Failure::InvalidCustomer(self.customer.to_owned()),
            &self.body,
        )
    }
}

/// A successful list: the page (the `customerThreads` array, rendered) and the warnings.
pub struct Listed {
    pub page: Arc<RawValue>,
    pub warnings: Vec<thread_list::Warning>,
}

/// A thread list read: the department (contact), the customer and the assignee filter's
/// employee, resolved to ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ListKey {
    contact: u32,
    customer: u32,
    employee: Option<u32>,
}

/// What the thread list keeps of a `ListKey`: which of its rows exist and, when all do, the
/// summary of every thread of the customer in the department. Filters, sorting and the page
/// depend on the request; the last few pages rendered from these summaries are kept with them.
#[derive(Debug)]
pub struct ListRead {
    contact_ok: bool,
    customer_ok: bool,
    employee_ok: bool,
    threads: Vec<Summary>,
    pages: Mutex<Vec<(PageShape, Arc<RawValue>)>>,
}

/// Everything a page depends on besides the summaries: the key's shops and the body's
/// filters, sort and size (the namespace is a setting; warnings are per request).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PageShape {
    shops: Vec<u32>,
    is_closed: Option<bool>,
    is_archived: Option<bool>,
    assignee: Option<u32>,
    max_results: usize,
    sort_key: thread_list::SortKey,
    sort_order: thread_list::SortOrder,
}

/// Rendered pages kept per read, the oldest replaced first.
const PAGES_PER_READ: usize = 4;
/// An upper bound of one rendered thread (its UUIDs, dates and names), in bytes.
const PAGE_ENTRY_BYTES: usize = 360;

impl ListRead {
    /// The department and the customer exist.
    fn check(&self, req: &ListRequest<'_>) -> Result<(), ListError> {
        if !self.contact_ok {
            return Err(ListError::after(Failure::NotAuthorized, &req.body));
        }
        if !self.customer_ok {
            return Err(req.invalid_customer());
        }
        Ok(())
    }

    /// The page `body` asks for, of the threads of `shops` (threads of shops the key is not
    /// associated with are not listed).
    fn page_for(
        &self,
        shops: &[u32],
        body: &thread_list::Request,
        assignee: Option<u32>,
        ns: &Uuid,
    ) -> serde_json::Result<Arc<RawValue>> {
        let shape = PageShape {
            shops: shops.to_vec(),
            is_closed: body.is_closed,
            is_archived: body.is_archived,
            assignee,
            max_results: body.max_results,
            sort_key: body.sort_key,
            sort_order: body.sort_order,
        };
        self.page(shape, || {
            let visible = self.threads.iter().filter(|s| shops.contains(&s.shop));
            let threads = thread_list::select(visible, body, assignee, ns);
            serde_json::value::to_raw_value(&threads)
        })
    }

    /// The page of `shape`, rendered by `render` the first time it is asked for.
    fn page(
        &self,
        shape: PageShape,
        render: impl FnOnce() -> serde_json::Result<Box<RawValue>>,
    ) -> serde_json::Result<Arc<RawValue>> {
        let lock = || self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, page)) = lock().iter().find(|(s, _)| *s == shape) {
            return Ok(page.clone());
        }
        let page: Arc<RawValue> = Arc::from(render()?);
        let mut pages = lock();
        if pages.len() >= PAGES_PER_READ {
            pages.remove(0);
        }
        pages.push((shape, page.clone()));
        Ok(page)
    }
}

impl Weigh for ListRead {
    /// The summaries, plus the most the kept pages can hold (counted up front: they are added
    /// after the read is cached).
    fn weight(&self) -> usize {
        let page = self
            .threads
            .len()
            .min(thread_list::MAX_MAX_RESULTS as usize)
            * PAGE_ENTRY_BYTES;
        std::mem::size_of::<ListRead>()
            + self.threads.len() * std::mem::size_of::<Summary>()
            + PAGES_PER_READ * page
    }
}

/// Existence of the three rows in one statement, then the threads and their messages in two
/// (`db::bridge`), summarised in each thread's shop time zone.
async fn read_list(src: &Source<'_>, key: ListKey) -> Result<ListRead, ReadFailure> {
    let tables = src.tables.clone();
    let rows = src
        .route
        .run(move |conn| {
            let contact = (key.contact > 0).then_some(key.contact);
            let (customer_ok, contact_ok, employee_ok) =
                db::bridge::exist(conn, &tables, key.customer, contact, key.employee)?;
            let threads = if customer_ok && contact_ok && employee_ok {
                reads::customer_threads(conn, &tables, key.customer, key.contact)?
            } else {
                Vec::new()
            };
            Ok::<_, DbError>((contact_ok, customer_ok, employee_ok, threads))
        })
        .await
        .map_err(|e| ReadFailure::of(&e))?;
    let (contact_ok, customer_ok, employee_ok, threads) = rows;
    let mut zones: HashMap<u32, Tz> = HashMap::new();
    let threads = threads
        .iter()
        .map(|(t, messages)| {
            let tz = *zones
                .entry(t.id_shop)
                .or_insert_with(|| src.snapshot.timezone(t.id_shop, src.settings.timezone));
            thread_list::summarize(t, messages, tz)
        })
        .collect();
    Ok(ListRead {
        contact_ok,
        customer_ok,
        employee_ok,
        threads,
        pages: Mutex::new(Vec::new()),
    })
}
