// The brand console's ideas, moderation, insights and audit sections (helpers in console-lib.js).
(function () {
  "use strict";
  var C = window.CosourceConsole;
  if (!C) return;
  var gql = C.gql, say = C.say, el = C.el, fill = C.fill, button = C.button;

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

  function loadAudit() {
    return gql("{ auditLog(first: 20) { edges { node { actor { label } fields succeeded createdAt } } } }").then(function (data) {
      fill("audit", data.auditLog.edges.map(function (edge) {
        var e = edge.node;
        return el("p", { class: "row", text: e.createdAt.slice(0, 19).replace("T", " ") + " · " + e.actor.label + " · " + e.fields.join(", ") + (e.succeeded ? "" : " (refused)") });
      }), "Nothing yet.");
    });
  }

  [loadIdeas, loadModeration, loadInsights, loadAudit].forEach(C.register);
})();
