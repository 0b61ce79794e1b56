// The brand console's insights section (helpers in console-lib.js): for the campaign picked,
// charts of participation per week, activity per day, vote concentration, response time and
// demand, all from campaignInsights and drawn by uPlot (vendored from npm, served by Cosource),
// each with a table of the same numbers for screen readers and copying; then the campaign's
// raised alerts (campaignAlerts) and today's signals.
(function () {
  "use strict";
  var C = window.CosourceConsole;
  if (!C) return;
  var gql = C.gql, el = C.el, fill = C.fill, say = C.say;

  var QUERY = "query I($c: ID!) { campaignInsights(campaignId: $c) {" +
    " ideas participantsThisWeek participantsLastWeek" +
    " daily { day ideas votes comments } weekly { weekStart participants newParticipants }" +
    " topTenthUpvoteShare topTenUpvoteShare upvoteGini exposureGini lowExposureShare" +
    " responseRate medianHoursToFirstResponse ideasAwaitingResponse" +
    " demand { pledgedQuantity pledgers customers verifiedCustomers customerValueCents } alerts }" +
    " campaignAlerts(campaignId: $c) { kind period raisedAt figures { name value } } }";
  var DUE_HOURS = 7 * 24; // ideas wait for a response after 7 days (engine/insights.py)
  var INK = ["#1f3a5f", "#b35c00", "#2e7d32"];

  var picker = null;
  function campaignPicker(campaigns) {
    if (picker) return picker;
    picker = el("select", { id: "insights-campaign" });
    campaigns.forEach(function (c) { picker.appendChild(el("option", { value: c.id, text: c.title })); });
    // The first open idea campaign (where votes, pledges and alerts are), else any open one.
    var open = campaigns.filter(function (c) { return c.status === "OPEN"; });
    var first = open.filter(function (c) { return c.mode === "IDEAS"; })[0] || open[0] || campaigns[0];
    if (first) picker.value = first.id;
    picker.addEventListener("change", function () { loadInsights().catch(function (e) { say(e.message); }); });
    var list = C.section("insights");
    list.parentNode.insertBefore(el("div", { class: "picker" }, [
      el("label", { for: "insights-campaign", text: "Campaign" }), picker,
    ]), list);
    return picker;
  }

  function loadInsights() {
    return C.campaigns().then(function (campaigns) {
      if (!campaigns.length) { fill("insights", [], "No campaigns yet."); return null; }
      var select = campaignPicker(campaigns);
      var campaign = campaigns.filter(function (c) { return c.id === select.value; })[0];
      return gql(QUERY, { c: campaign.id }).then(function (d) { draw(campaign, d.campaignInsights, d.campaignAlerts); });
    });
  }

  function cell(value) { return value === null || value === undefined ? "—" : String(value); }
  function share(value) { return value === null || value === undefined ? "—" : Math.round(value * 1000) / 10 + " %"; }

  // One chart: a heading, the canvas holder (an image to assistive tech) and the same numbers as a table.
  function block(name, title, label, head, rows) {
    var chart = el("div", { class: "chart", role: "img", "aria-label": label });
    var table = el("table", { class: name }, [
      el("caption", { text: title }),
      el("thead", {}, [el("tr", {}, head.map(function (h) { return el("th", { scope: "col", text: h }); }))]),
      el("tbody", {}, rows.map(function (r) {
        return el("tr", {}, r.map(function (v, i) { return el(i ? "td" : "th", i ? {} : { scope: "row" }, [document.createTextNode(v)]); }));
      })),
    ]);
    return { node: el("div", { class: "insight", "data-chart": name }, [el("h3", { text: title }), chart, table]), chart: chart };
  }

  function width(node) { return Math.max(260, Math.min(node.clientWidth || 640, 900)); }

  function lines(node, xs, series) {
    if (typeof uPlot === "undefined") return;
    new uPlot({
      width: width(node),
      height: 220,
      series: [{}].concat(series.map(function (s, i) {
        return { label: s.label, stroke: INK[i], width: 2, dash: i ? [6, 4] : undefined, fill: i ? undefined : "rgba(31, 58, 95, 0.12)" };
      })),
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
    }, [xs].concat(series.map(function (s) { return s.values; })), node);
  }

  function bars(node, labels, values, label, max) {
    if (typeof uPlot === "undefined") return;
    var xs = labels.map(function (_, i) { return i; });
    new uPlot({
      width: width(node),
      height: 220,
      series: [{}, { label: label, stroke: INK[0], fill: "rgba(31, 58, 95, 0.6)", paths: uPlot.paths.bars({ size: [0.6, 90] }), points: { show: false } }],
      scales: {
        x: { time: false, range: [-0.5, labels.length - 0.5] },
        y: { range: function (u, min, mx) { return [0, Math.max(max || 1, mx)]; } },
      },
      axes: [
        { splits: function () { return xs; }, values: function (u, splits) { return splits.map(function (i) { return labels[i] || ""; }); }, size: 40 },
        {},
      ],
      legend: { show: true },
    }, [xs, values.map(function (v) { return v === null || v === undefined ? 0 : v; })], node);
  }

  function draw(campaign, ins, raised) {
    var weekly = block("weekly", "Participants per week: " + campaign.title, "Participants per week in " + campaign.title + ", last 8 weeks",
      ["Week of", "Participants", "New"],
      ins.weekly.map(function (w) { return [w.weekStart, String(w.participants), String(w.newParticipants)]; }));
    var daily = block("daily", "Ideas, votes and comments per day", "Ideas, votes and comments per day in " + campaign.title + ", last 14 days",
      ["Day", "Ideas", "Votes", "Comments"],
      ins.daily.map(function (d) { return [d.day, String(d.ideas), String(d.votes), String(d.comments)]; }));
    var conc = [
      ["Upvote Gini", ins.upvoteGini], ["Top tenth's share", ins.topTenthUpvoteShare], ["Top 10's share", ins.topTenUpvoteShare],
      ["Exposure Gini", ins.exposureGini], ["Rarely shown", ins.lowExposureShare],
    ];
    var concentration = block("concentration", "Vote concentration and exposure", "Vote concentration (Gini, share of upvotes on the top ideas) and exposure in " + campaign.title,
      ["Measure", "Value"], conc.map(function (c) { return [c[0], c[0].indexOf("Gini") >= 0 ? cell(c[1]) : share(c[1])]; }));
    var median = ins.medianHoursToFirstResponse === null ? null : Math.round(ins.medianHoursToFirstResponse * 10) / 10;
    var responses = block("responses", "Time to the first official response", "Median hours to the first official response in " + campaign.title + " against the 7-day due time",
      ["Measure", "Value"], [
        ["Median hours to first response", cell(median)], ["Due after (hours)", String(DUE_HOURS)],
        ["Ideas answered", share(ins.responseRate)], ["Ideas awaiting a response", String(ins.ideasAwaitingResponse)],
      ]);
    var dm = ins.demand;
    var demand = block("demand", "Demand", "Demand in " + campaign.title + ": pledged quantity, pledgers and distinct customers",
      ["Measure", "Value"], [
        ["Pledged quantity", String(dm.pledgedQuantity)], ["Pledgers", String(dm.pledgers)], ["Customers", String(dm.customers)],
        ["Verified customers", String(dm.verifiedCustomers)], ["Customer value", (dm.customerValueCents / 100).toFixed(2)],
      ]);
    var blocks = [weekly, daily, concentration, responses, demand];
    fill("insights", blocks.map(function (b) { return b.node; }).concat([alertList(raised, ins.alerts)]), "");
    lines(weekly.chart, ins.weekly.map(function (w) { return Date.parse(w.weekStart + "T00:00:00Z") / 1000; }), [
      { label: "Participants", values: ins.weekly.map(function (w) { return w.participants; }) },
      { label: "New", values: ins.weekly.map(function (w) { return w.newParticipants; }) },
    ]);
    lines(daily.chart, ins.daily.map(function (d) { return Date.parse(d.day + "T00:00:00Z") / 1000; }), [
      { label: "Votes", values: ins.daily.map(function (d) { return d.votes; }) },
      { label: "Ideas", values: ins.daily.map(function (d) { return d.ideas; }) },
      { label: "Comments", values: ins.daily.map(function (d) { return d.comments; }) },
    ]);
    bars(concentration.chart, conc.map(function (c) { return c[0]; }), conc.map(function (c) { return c[1]; }), "0 to 1", 1);
    bars(responses.chart, ["Median", "Due after"], [median, DUE_HOURS], "hours");
    bars(demand.chart, ["Pledged", "Pledgers", "Customers", "Verified"], [dm.pledgedQuantity, dm.pledgers, dm.customers, dm.verifiedCustomers], "count");
  }

  var KINDS = { "campaign.participation_dropped": "Participation dropped", "campaign.herding_detected": "Herding detected" };

  function alertList(raised, signals) {
    var items = raised.map(function (a) {
      return el("li", { "data-kind": a.kind }, [
        el("strong", { text: (KINDS[a.kind] || a.kind) + " · week " + a.period }),
        document.createTextNode(" (raised " + a.raisedAt.slice(0, 10) + ", sent as " + a.kind + "): "),
        document.createTextNode(a.figures.map(function (f) { return f.name + " " + (Math.round(f.value * 1000) / 1000); }).join(", ")),
      ]);
    });
    return el("div", { class: "alerts" }, [
      el("h3", { text: "Alerts" }),
      items.length ? el("ul", { class: "raised" }, items) : el("p", { text: "No alert raised for this campaign." }),
      el("h3", { text: "Signals now" }),
      signals.length ? el("ul", { class: "signals" }, signals.map(function (s) { return el("li", { text: s }); })) : el("p", { text: "Nothing stands out." }),
    ]);
  }

  C.register(loadInsights);
})();
