// The transparency page `/c/{community}` in headless Chromium: a seeded community's shares, split
// rules and history as the DOM shows them, no request to another origin, and screenshots at a
// phone's and a desktop's width.

import assert from "node:assert/strict";
import { copyFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";

import { ARTIFACTS, SCREENSHOTS, artifactFolders, launchChromium, startService } from "./support.mjs";

let service;
let browser;

before(async () => {
  await artifactFolders();
  service = await startService();
  const c = "/v1/admin/communities/garden";
  await service.admin("POST", "/v1/admin/communities", { slug: "garden", name: "Community Garden Forum" });
  await service.admin("PUT", `${c}/pools/default`, {
    entries: [
      { wallet: "$wallet.example/alice", weight: 2, label: "Alice (maintainer)", member: "alice" },
      { wallet: "$wallet.example/bob", weight: 1, label: "Bob" },
    ],
    note: "first pool",
  });
  await service.admin("PUT", `${c}/pools/dev`, {
    entries: [
      { wallet: "$wallet.example/dana", weight: 3, label: "Dana" },
      { wallet: "https://pay.example/eve", weight: 1 },
    ],
    note: "developers",
  });
  await service.admin("PUT", `${c}/splits`, {
    author_bps: 2000,
    participants_bps: 1000,
    tag_routes: [{ tag: "dev", pool: "dev" }],
    default_pool: "default",
    note: "authors first",
  });
  await service.admin("PUT", `${c}/pools/default`, {
    entries: [
      { wallet: "$wallet.example/alice", weight: 2, label: "Alice (maintainer)", member: "alice" },
      { wallet: "$wallet.example/bob", weight: 1, label: "Bob" },
      { wallet: "$wallet.example/carol", weight: 1, label: "Carol" },
    ],
    note: "Carol joins",
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await service?.stop();
});

/** Opens the page at a viewport size, recording every request the page makes. */
async function open(viewport) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const requests = [];
  page.on("request", (request) => requests.push(request.url()));
  const response = await page.goto(`${service.origin}/c/garden`, { waitUntil: "load" });
  return { context, page, requests, response };
}

/** A pool table's rows as `{ entry, share, exact }`. */
function shares(page, pool) {
  return page.$$eval(`article[data-pool="${pool}"] table.entries tbody tr`, (rows) =>
    rows.map((row) => ({
      wallet: row.dataset.wallet,
      share: row.querySelector("td.share").textContent.trim(),
      exact: row.querySelector('td[data-label="Exact"]').textContent.trim(),
    })),
  );
}

test("the page shows each pool's current shares, as a table and as an accessible chart", async () => {
  const { context, page, response } = await open({ width: 1280, height: 900 });
  try {
    assert.equal(response.status(), 200);
    assert.equal(await page.title(), "Community Garden Forum: revenue share");
    assert.deepEqual(await shares(page, "default"), [
      { wallet: "$wallet.example/alice", share: "50%", exact: "1/2" },
      { wallet: "$wallet.example/bob", share: "25%", exact: "1/4" },
      { wallet: "$wallet.example/carol", share: "25%", exact: "1/4" },
    ]);
    assert.deepEqual(await shares(page, "dev"), [
      { wallet: "$wallet.example/dana", share: "75%", exact: "3/4" },
      { wallet: "$pay.example/eve", share: "25%", exact: "1/4" },
    ]);

    const chart = page.locator('article[data-pool="default"] svg[role="img"]');
    const name = await chart.evaluate((svg) => document.getElementById(svg.getAttribute("aria-labelledby")).textContent);
    assert.equal(name, "Shares of pool default: Alice (maintainer) 50%, Bob 25%, Carol 25%.");
    const bars = await chart.locator('rect[fill="#1d4ed8"]').evaluateAll((rects) => rects.map((r) => r.getAttribute("width")));
    assert.deepEqual(bars, ["50.0000%", "25.0000%", "25.0000%"]);

    assert.equal(await page.locator("main").count(), 1);
    assert.equal(await page.locator("table caption").count(), 3, "two pool tables and the history, each with a caption");
    assert.equal(await page.locator('#splits dd.author').textContent(), "20%");
    assert.equal(await page.locator('#splits dd.participants').textContent(), "10%");
    assert.match(await page.locator('#splits dd.pool-share').textContent(), /^70%/);
    assert.match(await page.locator("#splits").textContent(), /dev\s*→\s*dev/);
  } finally {
    await context.close();
  }
});

test("the history lists every version, newest first, with its time and cause", async () => {
  const { context, page } = await open({ width: 1280, height: 900 });
  try {
    const rows = await page.$$eval("tr[data-history-row]", (trs) =>
      trs.map((tr) => ({
        subject: tr.dataset.subject,
        version: tr.dataset.version,
        time: tr.querySelector("time").getAttribute("datetime"),
        cause: tr.querySelector("td.cause").textContent.replace(/\s+/g, " ").trim(),
        content: tr.querySelector("details summary").textContent.trim(),
      })),
    );
    assert.deepEqual(
      rows.map(({ subject, version, cause, content }) => ({ subject, version, cause, content })),
      [
        { subject: "Pool default", version: "2", cause: "Admin bootstrap Carol joins", content: "3 entries" },
        { subject: "Split rules", version: "1", cause: "Admin bootstrap authors first", content: "Rules" },
        { subject: "Pool dev", version: "1", cause: "Admin bootstrap developers", content: "2 entries" },
        { subject: "Pool default", version: "1", cause: "Admin bootstrap first pool", content: "2 entries" },
      ],
    );
    for (const { time } of rows) {
      assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const times = rows.map((r) => Date.parse(r.time));
    assert.deepEqual([...times].sort((a, b) => b - a), times, "newest first");

    // The first version of `default` kept its own shares: 2/3 and 1/3.
    const oldest = page.locator("tr[data-history-row]").last();
    await oldest.locator("summary").click();
    assert.match(await oldest.locator("details li").first().textContent(), /Alice \(maintainer\).*66\.6667%, weight 2/);
  } finally {
    await context.close();
  }
});

test("the page makes no request beyond the service's own origin", async () => {
  const { context, page, requests } = await open({ width: 1280, height: 900 });
  try {
    await page.waitForLoadState("networkidle");
    assert.ok(requests.length >= 1);
    for (const url of requests) {
      assert.equal(new URL(url).origin, service.origin, `unexpected request to ${url}`);
    }
    assert.equal(await page.locator("script").count(), 0, "the page has no script");
    const csp = (await page.request.get(`${service.origin}/c/garden`)).headers()["content-security-policy"];
    assert.match(csp, /default-src 'none'/);
  } finally {
    await context.close();
  }
});

test("an unknown community is a 404 page", async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const response = await page.goto(`${service.origin}/c/no-such-community`);
    assert.equal(response.status(), 404);
    assert.equal(await page.locator("h1").textContent(), "Unknown community");
  } finally {
    await context.close();
  }
});

for (const [label, viewport] of [
  ["phone", { width: 390, height: 844 }],
  ["desktop", { width: 1280, height: 900 }],
]) {
  test(`a screenshot at ${label} width (${viewport.width}×${viewport.height})`, async () => {
    const { context, page } = await open(viewport);
    try {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= viewport.width, `no sideways scrolling at ${viewport.width}px (content is ${width}px wide)`);
      const file = path.join(ARTIFACTS, `community-page-${label}.png`);
      await page.screenshot({ path: file, fullPage: true });
      // The committed copies change only when asked for, so a test run leaves the tree clean.
      if (process.env.UPDATE_SCREENSHOTS === "1") {
        await copyFile(file, path.join(SCREENSHOTS, `community-page-${label}.png`));
      }
    } finally {
      await context.close();
    }
  });
}
