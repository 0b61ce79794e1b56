// The brand console's shared helpers: one GraphQL call with the session's CSRF token, DOM builders
// and a registry of section loaders. Each section script (console.js: ideas, moderation, insights,
// audit; console-manage.js: campaigns, webhooks, team) registers its loaders; once the page has
// parsed, every loader runs and the page is marked ready (data-state) for tests and assistive tech.
// Everything a role may do is decided by the API; buttons a role cannot use are still refused there.
(function () {
  "use strict";
  var root = document.getElementById("console");
  if (!root) return;
  var csrf = root.getAttribute("data-csrf");
  var role = root.getAttribute("data-role");
  var status = document.getElementById("status");
  var loaders = [];

  function gql(query, variables) {
    return fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ query: query, variables: variables || {} }),
    }).then(function (r) { return r.json(); }).then(function (body) {
      if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
      return body.data;
    });
  }

  function say(text) { status.textContent = text; }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function section(id) { return document.querySelector("#" + id + " .list"); }

  function fill(id, rows, empty) {
    var list = section(id);
    list.replaceChildren();
    if (!rows.length) list.appendChild(el("p", { text: empty }));
    rows.forEach(function (row) { list.appendChild(row); });
  }

  function button(label, onClick) {
    var b = el("button", { type: "button", text: label });
    b.addEventListener("click", function () {
      b.disabled = true;
      Promise.resolve(onClick()).catch(function (e) { say(e.message); }).then(function () { b.disabled = false; });
    });
    return b;
  }

  function register(loader) { loaders.push(loader); }

  // The tenant's campaigns (drafts included: the console is the brand's), fetched once per page
  // for the sections that filter or pick by campaign.
  var campaignList = null;
  function campaigns() {
    if (!campaignList) {
      campaignList = gql("{ campaigns(first: 100) { edges { node { id title status mode } } } }")
        .then(function (d) { return d.campaigns.edges.map(function (e) { return e.node; }); });
    }
    return campaignList;
  }

  document.addEventListener("DOMContentLoaded", function () {
    say(role.toLowerCase() === "analyst" ? "Read-only: you can look at everything and change nothing." : "");
    Promise.all(loaders.map(function (load) { return load(); }))
      .catch(function (e) { say(e.message); })
      .then(function () { root.setAttribute("data-state", "ready"); });
  });

  window.CosourceConsole = { gql: gql, say: say, el: el, section: section, fill: fill, button: button, register: register, role: role, campaigns: campaigns };
})();
