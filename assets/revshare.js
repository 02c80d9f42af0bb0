/*
 * revshare.js: keeps exactly one <link rel="monetization"> in the page's <head>, pointing at the
 * revshare-oracle Web Monetization endpoint for the page's context, and follows client-side
 * navigation. No dependencies, no build step.
 *
 *   <script src="https://revshare.example.org/revshare.js" data-community="my-forum" async></script>
 *
 * Configuration, on the script tag:
 *   data-community      required: the community's slug.
 *   data-service        the service's base URL; by default, where this script was loaded from.
 *   data-pool           monetize every page with this pool, instead of per topic.
 *   data-topic-pattern  a regular expression run on location.pathname whose first group is the
 *                       topic id; by default Discourse's /t/{slug}/{id} (also /t/{id}, with or
 *                       without a post number, and under a sub-folder).
 *
 * The link's href carries the context in its path, never in a query or fragment (Web
 * Monetization refuses those): {service}/wm/{community}/topics/{topic} on a topic's page,
 * {service}/wm/{community}/pools/{pool} with data-pool, else {service}/wm/{community}.
 *
 * Global API, window.revshare:
 *   setContext({ topic: "42" } | { pool: "dev" } | null)  fix the context (null: back to automatic)
 *   refresh()   re-read the location and update the link (the snippet does this by itself on
 *               history.pushState, history.replaceState and popstate)
 *   href()      the href of the link in place, or null
 *
 * Events, dispatched on window:
 *   revshare:link          detail { href, previous, context } when a link is put in place
 *   revshare:monetization  detail { wallet, paymentPointer, amountSent, incomingPayment, href,
 *                          context } for each `monetization` event on the link; `wallet` is the
 *                          wallet address the payment was sent to, as the browser reports it in
 *                          the event's paymentPointer.
 */
(function () {
  "use strict";

  if (window.revshare && window.revshare.version) {
    window.revshare.refresh(); // loaded twice: one instance is enough
    return;
  }

  var SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;
  var TOKEN = /^[A-Za-z0-9_.-]{1,64}$/;
  var MARK = "data-revshare";

  var script = document.currentScript ||
    document.querySelector("script[data-community][src*='revshare.js']");
  if (!script) {
    return;
  }
  var community = script.getAttribute("data-community") || "";
  if (!SLUG.test(community)) {
    console.error("revshare: data-community must be a community slug, found " + JSON.stringify(community));
    return;
  }
  var service = serviceBase(script.getAttribute("data-service") || script.src);
  if (!service) {
    console.error("revshare: cannot tell the service's URL; set data-service");
    return;
  }
  if (/:\d+$/.test(service.split("/").slice(0, 3).join("/"))) {
    console.warn("revshare: the service URL has a port; browsers' Web Monetization refuses such a link");
  }
  var fixedPool = script.getAttribute("data-pool");
  var topicPattern = compile(script.getAttribute("data-topic-pattern"));
  var explicit = null;
  var current = null;
  var currentHref = null;

  function serviceBase(url) {
    try {
      var parsed = new URL(url, location.href);
      if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
        return null;
      }
      // The script's own URL names the service's root: drop the file name.
      var path = parsed.pathname.replace(/\/revshare\.js$/, "").replace(/\/+$/, "");
      return parsed.origin + path;
    } catch (e) {
      return null;
    }
  }

  function compile(pattern) {
    if (!pattern) {
      return null;
    }
    try {
      return new RegExp(pattern);
    } catch (e) {
      console.error("revshare: data-topic-pattern is not a regular expression");
      return null;
    }
  }

  function isToken(value) {
    return typeof value === "string" && TOKEN.test(value) && value !== "." && value !== "..";
  }

  // Discourse: /t/{slug}/{id}, /t/{id}, each optionally followed by /{post number}.
  function discourseTopic(path) {
    var parts = path.split("/");
    for (var i = 0; i + 1 < parts.length; i++) {
      if (parts[i] !== "t") {
        continue;
      }
      var first = parts[i + 1];
      var second = parts[i + 2];
      if (/^\d+$/.test(first)) {
        return first;
      }
      if (first && second && /^\d+$/.test(second)) {
        return second;
      }
      return null;
    }
    return null;
  }

  function topicFromLocation() {
    var path = location.pathname;
    if (topicPattern) {
      var match = topicPattern.exec(path);
      return match && match[1] !== undefined ? match[1] : null;
    }
    return discourseTopic(path);
  }

  function context() {
    if (explicit) {
      return explicit;
    }
    if (fixedPool) {
      return { pool: fixedPool };
    }
    var topic = topicFromLocation();
    return topic ? { topic: topic } : {};
  }

  // A context the service would refuse falls back to the community's default pool.
  function hrefFor(ctx) {
    var base = service + "/wm/" + community;
    if (ctx.topic !== undefined && isToken(ctx.topic)) {
      return base + "/topics/" + ctx.topic;
    }
    if (ctx.pool !== undefined && SLUG.test(ctx.pool)) {
      return base + "/pools/" + ctx.pool;
    }
    if (ctx.topic !== undefined || ctx.pool !== undefined) {
      console.warn("revshare: not a valid topic or pool, using the default pool: " + JSON.stringify(ctx));
    }
    return base;
  }

  function isMonetization(link) {
    return (" " + (link.getAttribute("rel") || "").toLowerCase() + " ").replace(/\s+/g, " ")
      .indexOf(" monetization ") >= 0;
  }

  function onMonetization(event) {
    var amount = event.amountSent;
    window.dispatchEvent(new CustomEvent("revshare:monetization", {
      detail: {
        wallet: event.paymentPointer || null,
        paymentPointer: event.paymentPointer || null,
        amountSent: amount ? { value: amount.value, currency: amount.currency } : null,
        incomingPayment: event.incomingPayment || null,
        href: event.currentTarget.getAttribute("href"),
        context: context()
      }
    }));
  }

  // Puts the one link in place: removes every other monetization link, and replaces ours
  // when the context's href changed (a new element starts a new payment session).
  function sync() {
    var ctx = context();
    var href = hrefFor(ctx);
    var kept = null;
    var links = document.querySelectorAll("link[rel]");
    for (var i = 0; i < links.length; i++) {
      var link = links[i];
      if (!isMonetization(link)) {
        continue;
      }
      var ours = link === current && link.parentNode === document.head;
      if (ours && !kept && link.getAttribute("href") === href) {
        kept = link;
      } else {
        link.parentNode.removeChild(link);
      }
    }
    if (kept) {
      return;
    }
    // What our link pointed at, as we set it: the page may have rewritten it since.
    var previous = current ? currentHref : null;
    var fresh = document.createElement("link");
    fresh.setAttribute("rel", "monetization");
    fresh.setAttribute("href", href);
    fresh.setAttribute(MARK, "");
    fresh.addEventListener("monetization", onMonetization);
    document.head.appendChild(fresh);
    current = fresh;
    currentHref = href;
    window.dispatchEvent(new CustomEvent("revshare:link", {
      detail: { href: href, previous: previous, context: ctx }
    }));
  }

  // Single-page apps (Discourse) change pages through the History API.
  ["pushState", "replaceState"].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      sync();
      return result;
    };
  });
  window.addEventListener("popstate", sync);

  // Another script adding a monetization link anywhere in the document, making a link one, or
  // rewriting our link's href must not leave a second link or a wrong one: each puts the one
  // link back. The observer sees the whole document, body included; a sync that changes nothing
  // changes no node, so it does not wake the observer again.
  if (window.MutationObserver) {
    new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        var record = records[i];
        if (record.type === "attributes") {
          if (record.target === current || isMonetization(record.target)) {
            sync();
            return;
          }
          continue;
        }
        var added = record.addedNodes;
        for (var j = 0; j < added.length; j++) {
          var node = added[j];
          var links = node.nodeName === "LINK" ? [node]
            : (node.querySelectorAll ? node.querySelectorAll("link[rel]") : []);
          for (var k = 0; k < links.length; k++) {
            if (links[k] !== current && isMonetization(links[k])) {
              sync();
              return;
            }
          }
        }
      }
    }).observe(document.documentElement, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ["href", "rel"]
    });
  }

  window.revshare = {
    version: "1",
    setContext: function (ctx) {
      explicit = ctx && (ctx.topic !== undefined || ctx.pool !== undefined)
        ? (ctx.topic !== undefined ? { topic: String(ctx.topic) } : { pool: String(ctx.pool) })
        : null;
      sync();
    },
    refresh: sync,
    href: function () {
      return current ? current.getAttribute("href") : null;
    }
  };

  sync();
  if (document.readyState === "loading") {
    // A script in the head runs before the body, which may still hold a stray link.
    document.addEventListener("DOMContentLoaded", sync);
  }
})();
