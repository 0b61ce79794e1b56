// The brand console's ideas, moderation and audit sections (helpers in console-lib.js; insights
// in console-insights.js). Ideas: filters (campaign, status, awaiting a response, flagged, hidden,
// merged), an official response with a note, and merge / unmerge with the counts that will move
// shown before confirming (mergePreview). The API decides what a role may do.
(function () {
  "use strict";
  var C = window.CosourceConsole;
  if (!C) return;
  var gql = C.gql, say = C.say, el = C.el, fill = C.fill, button = C.button;

  var STATUSES = ["NEW", "UNDER_REVIEW", "ACCEPTED", "IN_PROGRESS", "SHIPPED", "DECLINED"];
  var CHECKS = [
    ["awaiting", "Awaiting a response"],
    ["flagged", "Flagged"],
    ["hidden", "Hidden"],
    ["merged", "Merged"],
  ];
  var LIST = "query L($c: ID, $s: [IdeaStatus!], $a: Boolean!, $f: Boolean, $h: Boolean, $m: Boolean!) {" +
    " ideas(first: 50, orderBy: NEW, campaignId: $c, status: $s, awaitingResponse: $a, flagged: $f, hidden: $h, merged: $m) {" +
    " totalCount edges { node { id title status hidden campaign { id title }" +
    " counts { netVotes pledgedQuantity comments } author { displayName } mergedInto { id title } } } } }";
  var PREVIEW = "query P($s: ID!, $t: ID!) { mergePreview(ideaId: $s, intoIdeaId: $t) {" +
    " movedUpvotes movedDownvotes movedScores movedPledges movedPledgedQuantity movedSupporters countedOnce sourceComments" +
    " source { upvotes downvotes netVotes scoreCount pledgers pledgedQuantity supporters comments }" +
    " target { upvotes downvotes netVotes scoreCount pledgers pledgedQuantity supporters comments }" +
    " targetAfter { upvotes downvotes netVotes scoreCount pledgers pledgedQuantity supporters comments } } }";
  var COUNT_ROWS = [
    ["upvotes", "Upvotes"], ["downvotes", "Downvotes"], ["netVotes", "Net votes"], ["scoreCount", "Scores"],
    ["pledgers", "Pledgers"], ["pledgedQuantity", "Pledged quantity"], ["supporters", "Supporters"], ["comments", "Comments"],
  ];

  function words(status) { return status.replace(/_/g, " ").toLowerCase(); }

  // The filter form sits above the list; every change reloads the list.
  var filters = null;
  function filterForm(campaigns) {
    if (filters) return filters;
    var campaign = el("select", { id: "ideas-campaign" }, [el("option", { value: "", text: "All campaigns" })]);
    campaigns.forEach(function (c) { campaign.appendChild(el("option", { value: c.id, text: c.title })); });
    var status = el("select", { id: "ideas-status" }, [el("option", { value: "", text: "Any status" })]);
    STATUSES.forEach(function (s) { status.appendChild(el("option", { value: s, text: words(s) })); });
    var form = el("form", { class: "filters", role: "search", "aria-label": "Filter ideas" }, [
      el("label", { for: "ideas-campaign", text: "Campaign" }), campaign,
      el("label", { for: "ideas-status", text: "Status" }), status,
    ].concat(CHECKS.map(function (c) {
      return el("label", { class: "check" }, [el("input", { type: "checkbox", name: c[0] }), document.createTextNode(" " + c[1])]);
    })));
    form.addEventListener("change", function () {
      C.section("ideas").setAttribute("aria-busy", "true"); // until the list is redrawn
      loadIdeas().catch(function (e) { say(e.message); });
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    var list = C.section("ideas");
    list.parentNode.insertBefore(form, list);
    filters = form;
    return form;
  }

  function chosen() {
    var form = filters;
    function on(name) { return form.querySelector('input[name="' + name + '"]').checked; }
    return {
      c: form.querySelector("#ideas-campaign").value || null,
      s: form.querySelector("#ideas-status").value ? [form.querySelector("#ideas-status").value] : null,
      a: on("awaiting"),
      f: on("flagged") ? true : null,
      h: on("hidden") ? true : null,
      m: on("merged"),
    };
  }

  // Filter changes can overlap: only the latest request draws the list (and ends aria-busy).
  var latest = 0;
  function loadIdeas() {
    var mine = ++latest;
    return C.campaigns().then(function (campaigns) {
      filterForm(campaigns);
      var list = C.section("ideas");
      list.setAttribute("aria-busy", "true");
      return gql(LIST, chosen()).then(function (data) {
        if (mine !== latest) return;
        var rows = data.ideas.edges.map(function (edge) { return ideaRow(edge.node); });
        rows.unshift(el("p", { class: "count", text: data.ideas.totalCount + " idea(s)" }));
        fill("ideas", rows, "");
        list.removeAttribute("aria-busy");
      });
    });
  }

  function ideaRow(idea) {
    var meta = words(idea.status) + " · " + idea.counts.netVotes + " net votes · " + idea.counts.pledgedQuantity +
      " pledged · " + idea.counts.comments + " comments · by " + idea.author.displayName + " · " + idea.campaign.title;
    if (idea.hidden) meta += " · hidden";
    var parts = [el("h3", { text: idea.title }), el("p", { text: meta })];
    if (idea.mergedInto) {
      parts.push(el("p", { class: "merged", text: "Merged into “" + idea.mergedInto.title + "”." }));
      parts.push(button("Unmerge", function () {
        return gql("mutation U($i: ID!) { unmergeIdea(input: {ideaId: $i}) { userErrors { message } } }", { i: idea.id })
          .then(function (d) {
            var errors = d.unmergeIdea.userErrors;
            say(errors.length ? errors[0].message : "Unmerged “" + idea.title + "”.");
            return loadIdeas();
          });
      }));
    } else {
      parts = parts.concat(answerControls(idea));
      parts.push(mergeControls(idea));
    }
    return el("article", { class: "row", "data-idea": idea.id }, parts);
  }

  function answerControls(idea) {
    var select = el("select", { "aria-label": "New status for " + idea.title });
    STATUSES.slice(1).forEach(function (s) { select.appendChild(el("option", { value: s, text: words(s) })); });
    var note = el("input", { type: "text", "aria-label": "Official note for " + idea.title, placeholder: "Official note the member sees" });
    var answer = button("Answer", function () {
      return gql("mutation A($i: ID!, $s: IdeaStatus!, $n: String!) { setIdeaStatus(input: {ideaId: $i, status: $s, note: $n}) { userErrors { message } } }",
        { i: idea.id, s: select.value, n: note.value }).then(function (d) {
        var errors = d.setIdeaStatus.userErrors;
        say(errors.length ? errors[0].message : "Answered “" + idea.title + "”.");
        return loadIdeas();
      });
    });
    return [select, note, answer];
  }

  // Merge: pick a target of the same campaign, see what moves, then confirm (or cancel).
  function mergeControls(idea) {
    var panel = el("div", { class: "merge" });
    var open = button("Merge…", function () {
      return gql("query T($c: ID!) { ideas(campaignId: $c, first: 100, orderBy: NEW) { edges { node { id title } } } }", { c: idea.campaign.id })
        .then(function (d) {
          var target = el("select", { "aria-label": "Merge “" + idea.title + "” into" });
          d.ideas.edges.forEach(function (e) {
            if (e.node.id !== idea.id) target.appendChild(el("option", { value: e.node.id, text: e.node.title }));
          });
          var result = el("div", { class: "preview", "aria-live": "polite" });
          panel.replaceChildren(target, button("Preview merge", function () {
            return preview(idea, target, result);
          }), result);
          target.focus();
        });
    });
    panel.appendChild(open);
    return panel;
  }

  function preview(idea, target, result) {
    var targetTitle = target.options[target.selectedIndex] ? target.options[target.selectedIndex].text : "";
    return gql(PREVIEW, { s: idea.id, t: target.value }).then(function (d) {
      var p = d.mergePreview;
      var table = el("table", { class: "merge-counts" }, [
        el("caption", { text: "Counts if “" + idea.title + "” is merged into “" + targetTitle + "”" }),
        el("thead", {}, [el("tr", {}, [
          el("th", { scope: "col", text: "Count" }), el("th", { scope: "col", text: "This idea" }),
          el("th", { scope: "col", text: "Target now" }), el("th", { scope: "col", text: "Target after" }),
        ])]),
        el("tbody", {}, COUNT_ROWS.map(function (r) {
          return el("tr", { "data-count": r[0] }, [
            el("th", { scope: "row", text: r[1] }), el("td", { text: String(p.source[r[0]]) }),
            el("td", { text: String(p.target[r[0]]) }), el("td", { text: String(p.targetAfter[r[0]]) }),
          ]);
        })),
      ]);
      var summary = el("p", { class: "moves", text: "Moves " + p.movedUpvotes + " upvote(s), " + p.movedDownvotes +
        " downvote(s), " + p.movedScores + " score(s) and " + p.movedPledges + " pledge(s) (" + p.movedPledgedQuantity +
        " units) from " + p.movedSupporters + " member(s); " + p.countedOnce + " already counted on the target. " +
        p.sourceComments + " comment(s) stay on this idea." });
      var confirm = button("Confirm merge", function () {
        return gql("mutation M($s: ID!, $t: ID!) { mergeIdea(input: {ideaId: $s, intoIdeaId: $t}) { userErrors { message } } }",
          { s: idea.id, t: target.value }).then(function (r) {
          var errors = r.mergeIdea.userErrors;
          say(errors.length ? errors[0].message : "Merged “" + idea.title + "” into “" + targetTitle + "”.");
          return loadIdeas();
        });
      });
      var cancel = button("Cancel", function () { result.replaceChildren(); });
      result.replaceChildren(summary, table, confirm, cancel);
    });
  }

  function loadModeration() {
    return gql("{ moderationQueue(first: 20) { edges { node { id reason note createdAt reporter { displayName } idea { title } } } } }").then(function (data) {
      fill("moderation", data.moderationQueue.edges.map(function (edge) {
        var flag = edge.node;
        function decide(decision, done) {
          return function () {
            return gql("mutation R($f: ID!, $d: FlagDecision!) { resolveFlag(input: {flagId: $f, decision: $d}) { userErrors { message } } }",
              { f: flag.id, d: decision }).then(function (d) {
              var errors = d.resolveFlag.userErrors;
              say(errors.length ? errors[0].message : "Flag on “" + flag.idea.title + "” " + done + ".");
              return Promise.all([loadModeration(), loadIdeas()]);
            });
          };
        }
        return el("article", { class: "row", "data-flag": flag.id }, [
          el("h3", { text: flag.idea.title }),
          el("p", { class: "reason", text: "Reason: " + words(flag.reason) + (flag.note ? " — " + flag.note : "") }),
          el("p", { text: "Reported by " + (flag.reporter ? flag.reporter.displayName : "a member") + " on " + flag.createdAt.slice(0, 10) }),
          button("Uphold", decide("UPHOLD", "upheld")), button("Dismiss", decide("DISMISS", "dismissed")),
        ]);
      }), "Nothing to review.");
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

  [loadIdeas, loadModeration, loadAudit].forEach(C.register);
})();
