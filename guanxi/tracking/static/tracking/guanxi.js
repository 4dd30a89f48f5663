/*! Guanxi web snippet 1.0.0: page views, track and identify for your own Guanxi server.
 * No dependencies and no third party: it only ever posts to the Guanxi host it was loaded from
 * (or the `host` given to load). The anonymous id lives in a first-party cookie on your site's
 * domain (one year, SameSite=Lax, Secure on https) with a localStorage copy as fallback.
 */
(function (window, document) {
  "use strict";

  var VERSION = "1.0.0";
  var LIBRARY = "guanxi.js";
  var ANONYMOUS_KEY = "gx_aid";
  var USER_KEY = "gx_uid";
  var YEAR_SECONDS = 365 * 24 * 60 * 60;
  var METHODS = ["load", "page", "track", "identify", "reset"];

  var existing = window.guanxi;
  if (existing && existing.initialized) {
    return;
  }
  // Calls made before this file arrived: the stub pushes [method, ...args] arrays.
  var queued = existing && typeof existing.length === "number" ? Array.prototype.slice.call(existing) : [];
  var scriptHost = "";
  try {
    var current = document.currentScript;
    if (current && current.src) {
      scriptHost = new URL(current.src, window.location.href).origin;
    }
  } catch (error) {
    scriptHost = "";
  }

  var state = { writeKey: "", host: scriptHost, anonymousId: "", userId: "", unloading: false, pending: [] };

  function uuid() {
    var cryptoObject = window.crypto || window.msCrypto;
    if (cryptoObject && typeof cryptoObject.randomUUID === "function") {
      return cryptoObject.randomUUID();
    }
    var bytes = new Uint8Array(16);
    if (cryptoObject && cryptoObject.getRandomValues) {
      cryptoObject.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = [];
    for (var j = 0; j < 16; j++) {
      hex.push((bytes[j] + 0x100).toString(16).slice(1));
    }
    return (
      hex.slice(0, 4).join("") + "-" + hex.slice(4, 6).join("") + "-" + hex.slice(6, 8).join("") + "-" +
      hex.slice(8, 10).join("") + "-" + hex.slice(10, 16).join("")
    );
  }

  // ---- first-party storage: a cookie on the site's broadest own domain, localStorage as fallback

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var index = parts[i].indexOf("=");
      if (parts[i].slice(0, index) === name) {
        try {
          return decodeURIComponent(parts[i].slice(index + 1));
        } catch (error) {
          return "";
        }
      }
    }
    return "";
  }

  function cookieAttributes(maxAge, domain) {
    var attributes = "; path=/; max-age=" + maxAge + "; SameSite=Lax";
    if (domain) {
      attributes += "; domain=" + domain;
    }
    if (window.location.protocol === "https:") {
      attributes += "; Secure";
    }
    return attributes;
  }

  function candidateDomains() {
    // shop.example.com → example.com, then shop.example.com: the browser refuses a public
    // suffix (com, com.cn), so the first domain that keeps the cookie is the site's own.
    var host = window.location.hostname;
    if (!host || host === "localhost" || /^[0-9.]+$/.test(host) || host.indexOf(":") !== -1) {
      return [""];
    }
    var labels = host.split(".");
    var domains = [];
    for (var i = labels.length - 2; i >= 0; i--) {
      domains.push(labels.slice(i).join("."));
    }
    return domains;
  }

  function writeCookie(name, value, maxAge) {
    var domains = candidateDomains();
    for (var i = 0; i < domains.length; i++) {
      document.cookie = name + "=" + encodeURIComponent(value) + cookieAttributes(maxAge, domains[i]);
      if (maxAge > 0 && readCookie(name) === value) {
        return; // kept: this is the broadest domain the site owns
      }
    }
  }

  function readStored(name) {
    var value = readCookie(name);
    if (!value) {
      try {
        value = window.localStorage.getItem(name) || "";
      } catch (error) {
        value = "";
      }
    }
    return value;
  }

  function store(name, value) {
    writeCookie(name, value, value ? YEAR_SECONDS : 0);
    try {
      if (value) {
        window.localStorage.setItem(name, value);
      } else {
        window.localStorage.removeItem(name);
      }
    } catch (error) {
      // Storage may be disabled (private mode): the cookie alone keeps the id.
    }
  }

  function anonymousId() {
    if (!state.anonymousId) {
      state.anonymousId = readStored(ANONYMOUS_KEY) || uuid();
    }
    store(ANONYMOUS_KEY, state.anonymousId); // renews the year on every visit
    return state.anonymousId;
  }

  // ---- messages

  function pageProperties() {
    var location = window.location;
    return {
      url: location.href,
      path: location.pathname,
      referrer: document.referrer || "",
      title: document.title || "",
      search: location.search || ""
    };
  }

  function context() {
    return {
      page: pageProperties(),
      userAgent: window.navigator.userAgent,
      locale: window.navigator.language || "",
      library: { name: LIBRARY, version: VERSION }
    };
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  // A server error or a lost connection is retried after these delays (ms), with the same
  // messageId, so the server stores the message once however many attempts reach it.
  var RETRY_DELAYS = [250, 1000, 4000];

  function post(type, message, attempt) {
    attempt = attempt || 0;
    var url = state.host + "/v1/" + type;
    if (attempt) {
      message.sentAt = new Date().toISOString(); // the server corrects clock skew from it
    }
    var body = JSON.stringify(message);
    function retry() {
      if (attempt < RETRY_DELAYS.length && !state.unloading) {
        window.setTimeout(function () {
          post(type, message, attempt + 1);
        }, RETRY_DELAYS[attempt]);
      }
    }
    // text/plain keeps this a "simple" cross-origin request: no preflight, the key is in the body.
    if (state.unloading && window.navigator.sendBeacon) {
      if (window.navigator.sendBeacon(url, new Blob([body], { type: "text/plain;charset=UTF-8" }))) {
        return;
      }
    }
    if (window.fetch) {
      window
        .fetch(url, {
          method: "POST",
          body: body,
          headers: { "Content-Type": "text/plain;charset=UTF-8" },
          credentials: "omit",
          keepalive: true,
          mode: "cors"
        })
        .then(function (response) {
          if (response.status >= 500) {
            retry();
          }
        })
        .catch(retry);
      return;
    }
    var request = new XMLHttpRequest();
    request.open("POST", url, true);
    request.setRequestHeader("Content-Type", "text/plain;charset=UTF-8");
    request.onload = function () {
      if (request.status >= 500) {
        retry();
      }
    };
    request.onerror = retry;
    request.send(body);
  }

  function send(type, fields) {
    if (!state.writeKey) {
      state.pending.push([type, fields, new Date().toISOString()]); // sent once load() gives the key
      return;
    }
    deliver(type, fields, new Date().toISOString());
  }

  function deliver(type, fields, timestamp) {
    var now = new Date().toISOString();
    var message = {
      type: type,
      messageId: uuid(),
      anonymousId: anonymousId(),
      timestamp: timestamp,
      sentAt: now,
      context: context(),
      writeKey: state.writeKey
    };
    if (state.userId) {
      message.userId = state.userId;
    }
    for (var key in fields) {
      if (Object.prototype.hasOwnProperty.call(fields, key)) {
        message[key] = fields[key];
      }
    }
    post(type, message);
  }

  var api = {
    initialized: true,
    VERSION: VERSION,

    load: function (writeKey, options) {
      state.writeKey = String(writeKey || "");
      if (options && typeof options.host === "string" && options.host) {
        state.host = options.host.replace(/\/+$/, "");
      }
      state.userId = state.userId || readStored(USER_KEY);
      anonymousId();
      var pending = state.pending;
      state.pending = [];
      for (var i = 0; i < pending.length; i++) {
        deliver(pending[i][0], pending[i][1], pending[i][2]);
      }
      return api;
    },

    page: function (name, properties) {
      if (isObject(name)) {
        properties = name;
        name = undefined;
      }
      var merged = pageProperties();
      if (isObject(properties)) {
        for (var key in properties) {
          if (Object.prototype.hasOwnProperty.call(properties, key)) {
            merged[key] = properties[key];
          }
        }
      }
      var fields = { properties: merged };
      if (typeof name === "string" && name) {
        fields.name = name;
      }
      send("page", fields);
      return api;
    },

    track: function (event, properties) {
      if (typeof event !== "string" || !event) {
        return api;
      }
      send("track", { event: event, properties: isObject(properties) ? properties : {} });
      return api;
    },

    identify: function (userId, traits) {
      if (isObject(userId)) {
        traits = userId;
        userId = undefined;
      }
      if (userId !== undefined && userId !== null && String(userId)) {
        state.userId = String(userId);
        store(USER_KEY, state.userId);
      }
      send("identify", { traits: isObject(traits) ? traits : {} });
      return api;
    },

    reset: function () {
      // Logging out: forget the user and start a new anonymous visitor on this device.
      state.userId = "";
      store(USER_KEY, "");
      state.anonymousId = uuid();
      store(ANONYMOUS_KEY, state.anonymousId);
      return api;
    },

    anonymousId: function () {
      return anonymousId();
    },

    user: function () {
      return { anonymousId: anonymousId(), userId: state.userId || null };
    }
  };

  function markUnloading() {
    state.unloading = true;
  }
  window.addEventListener("pagehide", markUnloading);
  document.addEventListener("visibilitychange", function () {
    state.unloading = document.visibilityState === "hidden";
  });

  window.guanxi = api;

  // Replay the stub's queue: load first, so calls made before it are sent with the key.
  var loads = [];
  var others = [];
  for (var i = 0; i < queued.length; i++) {
    var call = queued[i];
    if (call && typeof call.length === "number" && METHODS.indexOf(call[0]) !== -1) {
      (call[0] === "load" ? loads : others).push(call);
    }
  }
  var replay = loads.concat(others);
  for (var k = 0; k < replay.length; k++) {
    api[replay[k][0]].apply(api, Array.prototype.slice.call(replay[k], 1));
  }
})(window, document);
