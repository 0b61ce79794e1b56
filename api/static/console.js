// The brand console: one script, talking to /graphql with the session cookie and its CSRF token.
// Everything a role may do is decided by the API; buttons a role cannot use are still refused there.
(function () {
  "use strict";
  var root = document.getElementById("console");
  if (!root) return;
  var csrf = root.getAttribute("data-csrf");
  var role = root.getAttribute("data-role");
  var status = document.getElementById("status");

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

  var STATUSES = ["UNDER_REVIEW", "ACCEPTED", "IN_PROGRESS", "SHIPPED", "DECLINED"];

  function loadIdeas() {
    return gql("{ ideas(first: 20, orderBy: NEW) { edges { node { id title status counts { netVotes } author { displayName } } } } }")
      .then(function (data) {
        fill("ideas", data.ideas.edges.map(function (edge) {
          var idea = edge.node;
          var select = el("select", { "aria-label": "New status for " + idea.title });
          STATUSES.forEach(function (s) { select.appendChild(el("option", { value: s, text: s.replace("_", " ").toLowerCase() })); });
          var note = el("input", { type: "text", "aria-label": "Official note for " + idea.title, placeholder: "Official note the member sees" });
          var answer = button("Answer", function () {
            return gql("mutation A($i: ID!, $s: IdeaStatus!, $n: String!) { setIdeaStatus(input: {ideaId: $i, status: $s, note: $n}) { userErrors { message } } }",
              { i: idea.id, s: select.value, n: note.value }).then(function (d) {
              var errors = d.setIdeaStatus.userErrors;
              say(errors.length ? errors[0].message : "Answered “" + idea.title + "”.");
              return loadIdeas();
            });
          });
          return el("article", { class: "row", "data-idea": idea.id }, [
            el("h3", { text: idea.title }),
            el("p", { text: idea.status.toLowerCase() + " · " + idea.counts.netVotes + " net votes · by " + idea.author.displayName }),
            select, note, answer,
          ]);
        }), "No ideas yet.");
      });
  }

  function loadModeration() {
    return gql("{ moderationQueue(first: 20) { edges { node { id reason note idea { title } } } } }").then(function (data) {
      fill("moderation", data.moderationQueue.edges.map(function (edge) {
        var flag = edge.node;
        function decide(decision) {
          return function () {
            return gql("mutation R($f: ID!, $d: FlagDecision!) { resolveFlag(input: {flagId: $f, decision: $d}) { userErrors { message } } }",
              { f: flag.id, d: decision }).then(function (d) {
              var errors = d.resolveFlag.userErrors;
              say(errors.length ? errors[0].message : "Flag resolved.");
              return loadModeration();
            });
          };
        }
        return el("article", { class: "row", "data-flag": flag.id }, [
          el("h3", { text: flag.idea.title }),
          el("p", { text: flag.reason + (flag.note ? ": " + flag.note : "") }),
          button("Uphold", decide("UPHOLD")), button("Dismiss", decide("DISMISS")),
        ]);
      }), "Nothing to review.");
    });
  }

  function loadCampaigns() {
    return gql("{ campaigns(first: 20) { edges { node { id title status mode } } } }").then(function (data) {
      fill("campaigns", data.campaigns.edges.map(function (edge) {
        var c = edge.node;
        var next = c.status === "OPEN" ? "CLOSED" : "OPEN";
        return el("article", { class: "row" }, [
          el("h3", { text: c.title }),
          el("p", { text: c.mode.toLowerCase() + " · " + c.status.toLowerCase() }),
          button(next === "OPEN" ? "Open" : "Close", function () {
            return gql("mutation S($c: ID!, $s: CampaignStatus!) { setCampaignStatus(input: {id: $c, status: $s}) { userErrors { message } } }",
              { c: c.id, s: next }).then(function (d) {
              var errors = d.setCampaignStatus.userErrors;
              say(errors.length ? errors[0].message : "Campaign " + next.toLowerCase() + ".");
              return loadCampaigns();
            });
          }),
        ]);
      }), "No campaigns yet.");
    });
  }

  // Participation per week of the first open idea campaign, drawn by uPlot (vendored from npm,
  // served by Cosource) with the same numbers in a table for screen readers and for copying.
  function loadInsights() {
    return gql("{ campaigns(first: 20) { edges { node { id title status } } } }").then(function (data) {
      var campaigns = data.campaigns.edges.map(function (e) { return e.node; });
      var chosen = campaigns.filter(function (c) { return c.status === "OPEN"; })[0] || campaigns[0];
      if (!chosen) { fill("insights", [], "No campaigns yet."); return null; }
      return gql("query I($c: ID!) { campaignInsights(campaignId: $c) { weekly { weekStart participants newParticipants } } }", { c: chosen.id })
        .then(function (d) { drawWeekly(chosen, d.campaignInsights.weekly); });
    });
  }

  function drawWeekly(campaign, weeks) {
    var chart = el("div", { class: "chart", role: "img", "aria-label": "Participants per week in " + campaign.title + ", last 8 weeks" });
    var table = el("table", { class: "weekly" }, [
      el("caption", { text: "Participants per week: " + campaign.title }),
      el("thead", {}, [el("tr", {}, [el("th", { scope: "col", text: "Week of" }), el("th", { scope: "col", text: "Participants" }), el("th", { scope: "col", text: "New" })])]),
      el("tbody", {}, weeks.map(function (w) {
        return el("tr", {}, [el("td", { text: w.weekStart }), el("td", { text: String(w.participants) }), el("td", { text: String(w.newParticipants) })]);
      })),
    ]);
    fill("insights", [chart, table], "");
    if (typeof uPlot === "undefined") return;
    var xs = weeks.map(function (w) { return Date.parse(w.weekStart + "T00:00:00Z") / 1000; });
    var width = Math.max(280, Math.min(chart.clientWidth || 640, 960));
    new uPlot({
      width: width,
      height: 240,
      series: [
        {},
        { label: "Participants", stroke: "#1f3a5f", width: 2, fill: "rgba(31, 58, 95, 0.12)" },
        { label: "New", stroke: "#b35c00", width: 2, dash: [6, 4] },
      ],
      axes: [{}, { label: "members" }],
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
    }, [xs, weeks.map(function (w) { return w.participants; }), weeks.map(function (w) { return w.newParticipants; })], chart);
  }

  function loadDeliveries() {
    return gql("{ webhookDeliveries(first: 10) { edges { node { id eventType status attemptCount lastStatusCode } } } }").then(function (data) {
      fill("webhooks", data.webhookDeliveries.edges.map(function (edge) {
        var d = edge.node;
        return el("article", { class: "row", "data-delivery": d.id }, [
          el("p", { text: d.eventType + " · " + d.status.toLowerCase() + " · " + d.attemptCount + " attempt(s)" + (d.lastStatusCode ? " · last " + d.lastStatusCode : "") }),
          button("Retry", function () {
            return gql("mutation T($d: ID!) { retryWebhookDelivery(input: {id: $d}) { userErrors { message } } }", { d: d.id }).then(function (r) {
              var errors = r.retryWebhookDelivery.userErrors;
              say(errors.length ? errors[0].message : "Delivery queued again.");
              return loadDeliveries();
            });
          }),
        ]);
      }), "No deliveries yet.");
    });
  }

  function loadAudit() {
    return gql("{ auditLog(first: 20) { edges { node { actor { label } fields succeeded createdAt } } } }").then(function (data) {
      fill("audit", data.auditLog.edges.map(function (edge) {
        var e = edge.node;
        return el("p", { class: "row", text: e.createdAt.slice(0, 19).replace("T", " ") + " · " + e.actor.label + " · " + e.fields.join(", ") + (e.succeeded ? "" : " (refused)") });
      }), "Nothing yet.");
    });
  }

  say(role.toLowerCase() === "analyst" ? "Read-only: you can look at everything and change nothing." : "");
  Promise.all([loadIdeas(), loadModeration(), loadCampaigns(), loadInsights(), loadDeliveries(), loadAudit()])
    .catch(function (e) { say(e.message); })
    .then(function () { root.setAttribute("data-state", "ready"); });
})();
