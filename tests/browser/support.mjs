// Shared by the browser tests: start the service binary on a free loopback port with a fresh
// SQLite file, seed it through the admin API, serve small pages and wallet documents on loopback,
// and launch Debian's Chromium through playwright-core. Everything started here stops by itself:
// each process and server has a bounded start and is stopped in the test's `after` hook, and a
// last-resort exit hook kills any service still running.

import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ARTIFACTS = path.join(ROOT, "target", "browser-artifacts");
export const SCREENSHOTS = path.join(ROOT, "docs", "screenshots");

// Absolute, because the service runs in its own temporary folder.
const BINARY = path.resolve(
  ROOT,
  process.env.BROWSER_TEST_BINARY ?? path.join("target", "debug", "revshare-oracle"),
);
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ADMIN_TOKEN = "browser-test-admin-token";
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

// Without the background-networking switches Chromium keeps trying to reach Google's services,
// which a closed network turns into a flood of failed connections.
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts `revshare-oracle serve` on a free loopback port with a temporary SQLite database.
 * `env` adds or overrides REVSHARE_* variables.
 */
export async function startService({ env = {} } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), "revshare-browser-"));
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = spawn(BINARY, ["serve"], {
    // Relative defaults (the oracle key generated in data/) land in the temporary folder.
    cwd: dir,
    env: {
      ...process.env,
      REVSHARE_ADMIN_TOKEN: ADMIN_TOKEN,
      REVSHARE_LISTEN: `127.0.0.1:${port}`,
      REVSHARE_DATABASE_URL: `sqlite://${path.join(dir, "revshare.db")}`,
      // Reports stay in the outbox: a developer's local chain on 127.0.0.1:8545 (run-local) must
      // not receive them, nor change what the page shows.
      REVSHARE_CHAIN__RELAYER: "false",
      RUST_LOG: "warn",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  running.add(child);
  let log = "";
  child.stderr.on("data", (chunk) => {
    log = (log + chunk).slice(-8_000);
  });
  let exited = null;
  const exit = new Promise((resolve) => {
    // A binary that cannot start (missing, not executable) emits `error`, not `exit`.
    child.on("error", (error) => {
      exited = { error: `${BINARY}: ${error.message}` };
      running.delete(child);
      resolve();
    });
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve();
    });
  });

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      throw new Error(`the service exited at start (${JSON.stringify(exited)}):\n${log}`);
    }
    try {
      const response = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the service did not answer /healthz within ${START_TIMEOUT_MS} ms:\n${log}`);
    }
    await sleep(100);
  }

  return {
    origin,
    /** Calls the admin API and returns the parsed JSON; throws on a non-2xx answer. */
    async admin(method, route, body) {
      const response = await fetch(`${origin}${route}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      if (!response.ok) {
        throw new Error(`${method} ${route} answered ${response.status}: ${text}`);
      }
      return text ? JSON.parse(text) : null;
    },
    /** The service's log so far (stderr, last 8 kB). */
    log: () => log,
    /** SIGTERM, then SIGKILL after a bounded wait; removes the database. */
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        const stopped = await Promise.race([exit.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
        if (!stopped) {
          child.kill("SIGKILL");
          await exit;
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A loopback HTTP server answering every request with `handler(request) → { status, headers,
 * body }`. Returns its origin, the requests it saw, and `close()`.
 */
export async function startServer(handler) {
  const seen = [];
  const server = http.createServer((request, response) => {
    seen.push(request.url);
    const { status = 200, headers = {}, body = "" } = handler(request);
    response.writeHead(status, headers);
    response.end(body);
  });
  await new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Wallet-address documents for the service's fetch-origin override: a request for
 * `/{host}/{path}` answers the document of `https://{host}/{path}`.
 */
export function startWalletServer() {
  return startServer((request) => {
    const [, host, ...rest] = request.url.split("/");
    const id = `https://${host}/${rest.join("/")}`;
    return {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id,
        publicName: rest.join("/"),
        assetCode: "USD",
        assetScale: 2,
        authServer: `https://auth.${host}`,
        resourceServer: `https://${host}/op`,
      }),
    };
  });
}

/** Debian's Chromium, headless, driven by playwright-core. */
export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** Makes sure the artifact folders exist. */
export async function artifactFolders() {
  await mkdir(ARTIFACTS, { recursive: true });
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    await mkdir(SCREENSHOTS, { recursive: true });
  }
}
