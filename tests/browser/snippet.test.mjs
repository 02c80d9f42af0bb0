// The snippet `/revshare.js` in headless Chromium, on a forum-like page served from another
// loopback origin: one monetization link with a usable href, replaced on client-side navigation,
// stray links removed, and the `monetization` event re-exposed with the wallet.

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";

import { launchChromium, startServer, startService, startWalletServer } from "./support.mjs";

let wallets;
let service;
let forum;
let browser;
let context;
let page;

const LINKS = 'link[rel~="monetization" i]';

before(async () => {
  wallets = await startWalletServer();
  service = await startService({ env: { REVSHARE_MONETIZATION__FETCH_ORIGIN_OVERRIDE: wallets.origin } });
  await service.admin("POST", "/v1/admin/communities", { slug: "forum", name: "Forum" });
  await service.admin("PUT", "/v1/admin/communities/forum/pools/default", {
    entries: [
      { wallet: "$wallet.example/alice", weight: 1 },
      { wallet: "$wallet.example/bob", weight: 1 },
    ],
  });

  // A page like Discourse's: one HTML document for every path, a stray monetization link left
  // in the head by an earlier integration and one in the body, and the snippet.
  forum = await startServer((request) => ({
    headers: { "content-type": "text/html; charset=utf-8" },
    body: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Forum</title>
<link rel="monetization" href="http://127.0.0.1:9/stray-in-head">
<script src="${service.origin}/revshare.js" data-community="forum"></script>
</head><body><h1>Topic page</h1><p>${request.url === "/" ? "home" : "topic"}</p>
<link rel="Monetization" href="http://127.0.0.1:9/stray-in-body">
</body></html>`,
  }));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await forum?.close();
  await service?.stop();
  await wallets?.close();
});

beforeEach(async () => {
  await context?.close();
  context = await browser.newContext();
  page = await context.newPage();
  // Record the snippet's events from the start.
  await page.addInitScript(() => {
    window.__revshare = { links: [], payments: [] };
    window.addEventListener("revshare:link", (e) => window.__revshare.links.push(e.detail));
    window.addEventListener("revshare:monetization", (e) => window.__revshare.payments.push(e.detail));
  });
});

/** Every monetization link in the document, with where it sits. */
function links() {
  return page.$$eval(LINKS, (found) => found.map((l) => ({ href: l.getAttribute("href"), inHead: l.parentNode === document.head })));
}

/** The href a link must carry, for a context path on the service. */
const wm = (suffix) => `${service.origin}/wm/forum${suffix}`;

test("a topic page gets exactly one link, in the head, with the topic in its path", async () => {
  await page.goto(`${forum.origin}/t/welcome-to-the-forum/42`);
  assert.deepEqual(await links(), [{ href: wm("/topics/42"), inHead: true }], "the stray links are gone");
  const href = new URL((await links())[0].href);
  assert.equal(href.search, "");
  assert.equal(href.hash, "");
  assert.equal(href.username + href.password, "");
  assert.equal(href.origin, service.origin);
  assert.equal(href.pathname, "/wm/forum/topics/42");
  assert.deepEqual(await page.evaluate(() => window.__revshare.links.map((l) => l.href)), [wm("/topics/42")]);
});

test("client-side navigation replaces the link and never stacks a second one", async () => {
  await page.goto(`${forum.origin}/t/welcome-to-the-forum/42`);
  const first = await page.$(LINKS);

  await page.evaluate(() => history.pushState({}, "", "/t/another-topic/77"));
  assert.deepEqual(await links(), [{ href: wm("/topics/77"), inHead: true }]);
  assert.equal(await first.evaluate((l) => l.isConnected), false, "the old element was replaced");

  // Discourse rewrites the URL with the post number while one reads: same topic, same link.
  await page.evaluate(() => history.replaceState({}, "", "/t/another-topic/77/5"));
  assert.deepEqual(await links(), [{ href: wm("/topics/77"), inHead: true }]);

  // A page that is not a topic uses the community's default pool.
  await page.evaluate(() => history.pushState({}, "", "/latest"));
  assert.deepEqual(await links(), [{ href: wm(""), inHead: true }]);

  // Back, through popstate.
  await page.goBack();
  await page.waitForFunction((href) => document.querySelector('link[rel="monetization"]')?.getAttribute("href") === href, wm("/topics/77"));
  assert.deepEqual(await links(), [{ href: wm("/topics/77"), inHead: true }]);

  // Another script adding its own link does not leave two.
  await page.evaluate(() => {
    const stray = document.createElement("link");
    stray.rel = "monetization";
    stray.href = "http://127.0.0.1:9/late-stray";
    document.head.appendChild(stray);
  });
  await page.waitForFunction(() => document.querySelectorAll('link[rel~="monetization" i]').length === 1);
  assert.deepEqual(await links(), [{ href: wm("/topics/77"), inHead: true }]);

  // A link the page appends to the body goes too, though the head holds none but ours.
  await page.evaluate(() => {
    const stray = document.createElement("link");
    stray.rel = "monetization";
    stray.href = "http://127.0.0.1:9/body-stray";
    document.body.appendChild(stray);
  });
  await page.waitForFunction(() => document.querySelectorAll('link[rel~="monetization" i]').length === 1);
  assert.deepEqual(await links(), [{ href: wm("/topics/77"), inHead: true }]);

  // A page that rewrites the snippet's own link gets it back as it was.
  await page.evaluate(() => document.querySelector('link[rel="monetization"]').setAttribute("href", "http://127.0.0.1:9/hijacked"));
  await page.waitForFunction((href) => document.querySelector('link[rel="monetization"]')?.getAttribute("href") === href, wm("/topics/77"));
  assert.deepEqual(await links(), [{ href: wm("/topics/77"), inHead: true }]);

  // The page can also set the context itself.
  await page.evaluate(() => window.revshare.setContext({ pool: "default" }));
  assert.deepEqual(await links(), [{ href: wm("/pools/default"), inHead: true }]);

  const announced = await page.evaluate(() => window.__revshare.links.map((l) => [l.previous, l.href]));
  assert.deepEqual(announced, [
    [null, wm("/topics/42")],
    [wm("/topics/42"), wm("/topics/77")],
    [wm("/topics/77"), wm("")],
    [wm(""), wm("/topics/77")],
    [wm("/topics/77"), wm("/topics/77")],
    [wm("/topics/77"), wm("/pools/default")],
  ]);
});

test("the monetization event on the link is re-exposed with the wallet that was paid", async () => {
  await page.goto(`${forum.origin}/t/welcome-to-the-forum/42`);
  const detail = await page.evaluate(() => {
    // Chromium has no Web Monetization: dispatch the event a browser would, with its fields.
    const event = new Event("monetization", { bubbles: true });
    Object.assign(event, {
      paymentPointer: "https://wallet.example/alice",
      amountSent: { value: "0.05", currency: "USD" },
      incomingPayment: "https://wallet.example/op/incoming-payments/1b2c",
    });
    document.querySelector('link[rel="monetization"]').dispatchEvent(event);
    return window.__revshare.payments;
  });
  assert.deepEqual(detail, [
    {
      wallet: "https://wallet.example/alice",
      paymentPointer: "https://wallet.example/alice",
      amountSent: { value: "0.05", currency: "USD" },
      incomingPayment: "https://wallet.example/op/incoming-payments/1b2c",
      href: wm("/topics/42"),
      context: { topic: "42" },
    },
  ]);
});

test("the link's href answers with the chosen wallet's document", async () => {
  await page.goto(`${forum.origin}/t/welcome-to-the-forum/42`);
  const answer = await page.evaluate(async () => {
    const href = document.querySelector('link[rel="monetization"]').href;
    const response = await fetch(href, { headers: { accept: "application/json" } });
    return {
      status: response.status,
      type: response.headers.get("content-type"),
      wallet: response.headers.get("x-revshare-wallet"),
      document: await response.json(),
    };
  });
  assert.equal(answer.status, 200);
  assert.match(answer.type, /^application\/json/);
  assert.ok(
    ["https://wallet.example/alice", "https://wallet.example/bob"].includes(answer.wallet),
    `a wallet of the pool was chosen, got ${answer.wallet}`,
  );
  assert.equal(answer.document.id, answer.wallet, "the document is the chosen wallet's own");
  assert.equal(answer.document.assetCode, "USD");
  assert.ok(wallets.seen.some((url) => url.startsWith("/wallet.example/")), "the service fetched it from the wallet");
});
