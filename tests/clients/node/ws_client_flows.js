// Client flows for npm @prestashop-core/ws-client 1.0.6 (PrestaShop's own TypeScript client), run
// by scripts/clients against a threadgate server on TG_URL with the demo shop (src/seed.rs).
//
// The package ships typed clients only for categories, orders and products; its BaseClient (the
// class they extend, not exported by name) serves any endpoint, so the flows build one for
// customer_threads and customer_messages the way the typed clients do.
//
// create() and update() first read `GET /api/languages` (to fill multilingual fields). threadgate
// serves customer_threads and customer_messages only; in a deployment, that request goes to the
// shop's PrestaShop like every other resource. Here `fetch` answers it with PrestaShop's JSON for a
// one-language shop, and passes everything else to threadgate untouched. Every request the client
// sends is recorded, so the flows also assert what went over the wire.
//
// Prints one line per flow and `ws-client 1.0.6: N passed, N failed`; exits 1 on any failure.
'use strict';

const assert = require('node:assert/strict');
const { WSClient } = require('@prestashop-core/ws-client');
const { version } = require('@prestashop-core/ws-client/package.json');

const URL_ = process.env.TG_URL;
const KEY = process.env.TG_KEY_FULL;
const KEY_READ = process.env.TG_KEY_READ;

const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const u = new URL(url);
  const headers = Object.fromEntries(new Headers(init.headers).entries());
  sent.push({ method: init.method || 'GET', path: u.pathname, query: u.searchParams, headers, body: init.body });
  if (u.pathname === '/api/languages') {
    // PrestaShop's answer to languages?display=full&output_format=JSON (one active language).
    return new Response(JSON.stringify({ languages: [{ id: 1, name: 'English (English)', iso_code: 'en' }] }), {
      status: 200,
      headers: { 'Content-Type': 'application/json' },
    });
  }
  return realFetch(url, init);
};

const ws = new WSClient(URL_, KEY);
const BaseClient = Object.getPrototypeOf(ws.orders.constructor);
const threads = () => new BaseClient('customer_threads');
const messages = () => new BaseClient('customer_messages');

const flows = [];
const flow = (name, fn) => flows.push([name, fn]);
const lastTo = (path) => [...sent].reverse().find((r) => r.path === path);

flow('package is the pinned version', async () => {
  assert.equal(version, '1.0.6');
});

flow('getAll returns the first entity of the full list', async () => {
  const first = await threads().getAll();
  assert.equal(first.id, 1);
  assert.equal(first.email, 'pub@prestashop.com');
  assert.equal(first.status, 'open');
  assert.deepEqual(first.associations.customer_messages, [{ id: '1' }, { id: '3' }]);
  const req = lastTo('/api/customer_threads');
  assert.equal(req.query.get('ws_key'), KEY);
  assert.equal(req.query.get('output_format'), 'JSON');
  assert.equal(req.query.get('display'), 'full');
  assert.equal(req.headers['accept'], 'application/json');
});

flow('get(id) reads [plural][0] (display switches a single object to the list shape)', async () => {
  const t = await threads().get('3');
  assert.equal(t.id, 3);
  assert.equal(t.email, 'marie@example.com');
  assert.equal(t.id_product, '1');
  assert.equal(t.token, 'Zx9Yw8Vu7Ts6');
  const m = await messages().get('1');
  assert.equal(m.message, 'Hello <b>world</b>\nline2');
  assert.equal(m.id_customer_thread, '1');
});

flow('getSynopsis is XML with required and readOnly markers', async () => {
  const c = threads();
  const xml = await c.getSynopsis();
  assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
  await c.initSpecificEntityFieldsIndicators();
  assert.deepEqual([...c.getRequiredFields()].sort(), ['id_contact', 'id_lang', 'token']);
  assert.deepEqual(c.getLanguageIds(), [1]);
});

// getBlank() reads json.customer_threads[0] from `schema=blank&output_format=JSON&display=full`:
// the `display` parameter switches the schema to the plural list shape with every member kept
// (WebserviceOutputJSON::renderNodeFooter), as PrestaShop 8 answers it.
flow('getBlank reads the blank schema in the plural shape', async () => {
  const blank = await threads().getBlank();
  assert.equal(blank.id_lang, '');
  assert.equal(blank.token, '');
  assert.deepEqual(blank.associations, { customer_messages: [{ id: null }] });
});

// create() fills the blank, posts it (XML body labelled application/json, ws_key,
// output_format=JSON&display=full) and answers the stored entity.
let created;
flow('create posts the filled blank and answers the stored entity', async () => {
  const before = sent.length;
  const res = await threads().create({
    id_lang: '1',
    id_contact: '2',
    token: 'WSCLIENT0001',
    email: 'ws-client@example.com',
    status: 'pending1',
    id_customer: '2',
  });
  const post = sent.slice(before).find((r) => r.method === 'POST');
  assert.ok(post, 'a POST was sent');
  assert.equal(post.path, '/api/customer_threads');
  assert.match(post.body, /<token>WSCLIENT0001<\/token>/);
  // create() answers the entity itself (it reads `[plural][0]` of the JSON answer, like get()).
  created = res;
  assert.ok(Number(created.id) > 3, `new id ${JSON.stringify(res)}`);
  assert.equal(created.email, 'ws-client@example.com');
  const back = await threads().get(String(created.id));
  assert.equal(back.status, 'pending1');
  assert.equal(back.token, 'WSCLIENT0001');
});

flow('update reads, merges and puts to the collection URL', async () => {
  // update() insists on every required field (synopsis) in its argument, like create()
  const res = await threads().update({
    id: created.id,
    id_lang: '1',
    id_contact: '2',
    token: 'WSCLIENT0001',
    status: 'closed',
    email: 'ws-updated@example.com',
  });
  const put = [...sent].reverse().find((r) => r.method === 'PUT');
  assert.equal(put.path, '/api/customer_threads');
  assert.equal(put.headers['content-type'], 'application/json');
  assert.match(put.body, new RegExp(`<id>${created.id}</id>`));
  const updated = res.customer_threads ? res.customer_threads[0] : res.customer_thread;
  assert.equal(updated.status, 'closed');
  assert.equal(updated.email, 'ws-updated@example.com');
  const back = await threads().get(String(created.id));
  assert.equal(back.status, 'closed');
  assert.equal(back.email, 'ws-updated@example.com');
  assert.equal(back.token, 'WSCLIENT0001', 'a required field the client re-sends keeps its value');
  // PUT semantics (docs/clients/README.md#complaints): the client dropped the non-required fields
  // it was not asked to change, so PrestaShop and threadgate reset them (id_customer was 2).
  assert.equal(back.id_customer, '0');
});

flow('update of a message', async () => {
  const res = await messages().update({ id: 3, message: 'Your order shipped today.' });
  const m = res.customer_messages ? res.customer_messages[0] : res.customer_message;
  assert.equal(m.message, 'Your order shipped today.');
  assert.equal((await messages().get('3')).message, 'Your order shipped today.');
});

flow('delete returns 200 and the entity is gone', async () => {
  assert.equal(await threads().delete(String(created.id)), 200);
  const del = [...sent].reverse().find((r) => r.method === 'DELETE');
  assert.equal(del.path, `/api/customer_threads/${created.id}`);
  const res = await realFetch(`${URL_}/api/customer_threads/${created.id}?ws_key=${KEY}`);
  assert.equal(res.status, 404);
  assert.equal(await threads().delete('999'), 404);
});

flow('a read-only key cannot delete (405) and the row stays', async () => {
  const ro = new WSClient(URL_, KEY_READ);
  const c = new (Object.getPrototypeOf(ro.orders.constructor))('customer_threads');
  assert.equal(await c.delete('1'), 405);
  new WSClient(URL_, KEY); // back to the full key (wsConfig is global in the package)
  assert.equal((await threads().get('1')).id, 1);
});

flow('an unknown key is a 401 with a JSON error document', async () => {
  const res = await realFetch(`${URL_}/api/customer_threads?ws_key=${'Z'.repeat(32)}&output_format=JSON`);
  assert.equal(res.status, 401);
  const json = await res.json();
  assert.equal(json.errors[0].code, 20);
});

(async () => {
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of flows) {
    try {
      await fn();
      passed += 1;
      console.log(`ok   ${name}`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${name}\n${e && e.stack ? e.stack : e}`);
    }
  }
  console.log(`ws-client ${version}: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
})();
