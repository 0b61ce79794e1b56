// The brand console's campaigns and webhooks sections (helpers in console-lib.js).
(function () {
  "use strict";
  var C = window.CosourceConsole;
  if (!C) return;
  var gql = C.gql, say = C.say, el = C.el, fill = C.fill, button = C.button;

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

  [loadCampaigns, loadDeliveries].forEach(C.register);
})();
