// The brand console's campaigns, webhooks and team sections (helpers in console-lib.js).
// Owners get the forms and buttons; other roles see the same lists read-only (the API refuses
// their changes anyway: api/permissions.py). Secrets and invite links live only in this page's
// memory: shown once, gone on reload. See docs/architecture.md ("Console").
(function () {
  "use strict";
  var C = window.CosourceConsole;
  if (!C) return;
  var gql = C.gql, say = C.say, el = C.el, fill = C.fill, button = C.button;
  var owner = C.role === "OWNER";
  var MODES = ["IDEAS", "CONTEST"];
  var METRICS = ["NET_VOTES", "UPVOTES", "PLEDGERS", "PLEDGED_QUANTITY", "AVERAGE_SCORE", "SUPPORTER_VALUE"];
  var ROLES = ["OWNER", "MODERATOR", "ANALYST"];
  var serial = 0;
  // Forms being filled in survive the re-render of their section (after another row's action):
  // they are kept here by key until they succeed or are folded away.
  var keptForms = {};
  function kept(key, build) { if (!keptForms[key]) keptForms[key] = build(); return keptForms[key]; }
  function forget(key) { delete keptForms[key]; }

  function words(value) { return value.replace(/_/g, " ").toLowerCase(); }

  // ---- accessible forms: every control has a label, a hint and an error slot it points at ----

  function Form(onSubmit, submitLabel) {
    var form = el("form", { novalidate: "" });
    var prefix = "f" + (++serial) + "-";
    var controls = {};
    var summary = el("p", { class: "error", role: "alert", hidden: "" });
    form.appendChild(summary);
    function add(name, label, control, hint) {
      var id = prefix + name;
      control.id = id;
      control.name = name;
      var error = el("p", { class: "field-error", id: id + "-err", hidden: "" });
      var described = [id + "-err"];
      var parts = [];
      if (control.type === "checkbox") {
        parts.push(el("div", { class: "check" }, [control, el("label", { for: id, text: label })]));
      } else {
        parts.push(el("label", { for: id, text: label }));
        parts.push(control);
      }
      if (hint) { parts.push(el("p", { class: "hint", id: id + "-hint", text: hint })); described.unshift(id + "-hint"); }
      parts.push(error);
      control.setAttribute("aria-describedby", described.join(" "));
      var wrap = el("div", { class: "field", "data-field": name }, parts);
      controls[name] = { control: control, error: error };
      form.appendChild(wrap);
      return control;
    }
    function group(name, legend, body, hint) {
      var id = prefix + name;
      var error = el("p", { class: "field-error", id: id + "-err", hidden: "" });
      var set = el("fieldset", { id: id, "aria-describedby": id + "-err" }, [el("legend", { text: legend })]);
      if (hint) set.appendChild(el("p", { class: "hint", text: hint }));
      set.appendChild(body);
      set.appendChild(error);
      controls[name] = { control: set, error: error };
      form.appendChild(set);
    }
    function clear() {
      summary.hidden = true;
      summary.textContent = "";
      Object.keys(controls).forEach(function (k) {
        controls[k].error.hidden = true;
        controls[k].error.textContent = "";
        controls[k].control.removeAttribute("aria-invalid");
      });
    }
    // userErrors next to their fields ("thresholds.2" goes to the thresholds group); the rest on top.
    function show(errors) {
      clear();
      var first = null;
      errors.forEach(function (e) {
        var key = (e.field || "").split(".")[0];
        var slot = controls[key];
        if (slot) {
          slot.error.textContent = (slot.error.textContent ? slot.error.textContent + " " : "") + e.message;
          slot.error.hidden = false;
          slot.control.setAttribute("aria-invalid", "true");
          first = first || slot.control;
        } else {
          summary.textContent = (summary.textContent ? summary.textContent + " " : "") + e.message;
          summary.hidden = false;
        }
      });
      if (first && first.focus) {
        if (first.tagName === "FIELDSET") { var inner = first.querySelector("input, select"); if (inner) inner.focus(); }
        else first.focus();
      }
    }
    var submit = el("button", { type: "submit", text: submitLabel });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit.disabled = true;
      Promise.resolve(onSubmit())
        .then(function (errors) { if (errors && errors.length) show(errors); else clear(); })
        .catch(function (e) { show([{ field: null, message: e.message }]); })
        .then(function () { submit.disabled = false; });
    });
    return { node: form, add: add, group: group, show: show, finish: function () { form.appendChild(submit); return form; } };
  }

  function input(type, value, extra) {
    var attrs = { type: type };
    Object.keys(extra || {}).forEach(function (k) { attrs[k] = extra[k]; });
    var node = el("input", attrs);
    if (type === "checkbox") node.checked = !!value; else node.value = value == null ? "" : String(value);
    return node;
  }

  function textarea(value) { var t = el("textarea", { rows: "3" }); t.value = value || ""; return t; }

  function select(options, value, label) {
    var s = el("select", {});
    options.forEach(function (o) { s.appendChild(el("option", { value: o, text: label ? label(o) : words(o) })); });
    if (value) s.value = value;
    return s;
  }

  // <input type="datetime-local"> speaks the browser's local time; the API speaks ISO 8601 UTC.
  function toLocal(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function fromLocal(value) { return value ? new Date(value).toISOString() : null; }
  function shown(iso) { return iso ? new Date(iso).toLocaleString() : ""; }

  // ---- campaigns ----

  var CAMPAIGN_FIELDS = "id slug title description status mode opensAt closesAt voteBudget rewards winnerCount hotHalfLifeHours" +
    " terms { text version } eligibility { verifiedOnly allowedTiers minLevel } thresholds { metric value minCount name }";

  function thresholdRows(initial) {
    var list = el("div", { class: "thresholds" });
    var n = 0;
    function row(t) {
      var i = ++n;
      var metric = select(METRICS, t.metric);
      var value = input("number", t.value, { step: "any", min: "0" });
      var min = input("number", t.minCount || 0, { min: "0", step: "1" });
      var name = input("text", t.name || "", { maxlength: "100" });
      var node = el("div", { class: "threshold" });
      [["Metric", metric], ["Value", value], ["Minimum count", min], ["Name", name]].forEach(function (pair) {
        pair[1].setAttribute("aria-label", pair[0] + " of threshold " + i);
        node.appendChild(el("label", { class: "inline" }, [el("span", { text: pair[0] }), pair[1]]));
      });
      node.appendChild(button("Remove threshold " + i, function () { node.remove(); }));
      node.read = function () {
        return { metric: metric.value, value: parseFloat(value.value), minCount: parseInt(min.value || "0", 10), name: name.value };
      };
      list.appendChild(node);
    }
    (initial || []).forEach(row);
    var wrap = el("div", {}, [list, button("Add threshold", function () { row({ metric: "NET_VOTES", value: 100 }); })]);
    wrap.read = function () { return Array.prototype.map.call(list.children, function (r) { return r.read(); }); };
    return wrap;
  }

  // One form for both: a new campaign (no `campaign`) or an edit, which sends only what changed.
  function campaignForm(campaign, done) {
    var c = campaign || { mode: "IDEAS", eligibility: { verifiedOnly: false, allowedTiers: [], minLevel: 0 }, thresholds: [], winnerCount: 3 };
    var f = Form(submit, campaign ? "Save changes" : "Create campaign");
    var title = f.add("title", "Title", input("text", c.title, { required: "", maxlength: "140" }));
    var slug = f.add("slug", "Slug", input("text", c.slug, { maxlength: "60" }), "Lower-case words and dashes; left empty, it follows the title.");
    var description = f.add("description", "Description", textarea(c.description));
    var mode = f.add("mode", "Mode", select(MODES, c.mode), "Ideas: members vote up or down. Contest: members score 1-5 and pledge.");
    var opens = f.add("opensAt", "Opens at", input("datetime-local", toLocal(c.opensAt)), "Your local time; empty: opens when you open it.");
    var closes = f.add("closesAt", "Closes at", input("datetime-local", toLocal(c.closesAt)), "Empty: stays open until you close it.");
    var verified = f.add("verifiedOnly", "Verified customers only", input("checkbox", c.eligibility.verifiedOnly));
    var tiers = f.add("allowedTiers", "Allowed tiers", input("text", c.eligibility.allowedTiers.join(", ")), "Comma-separated; empty: every tier.");
    var level = f.add("minLevel", "Minimum level", input("number", c.eligibility.minLevel, { min: "0", max: "1000", step: "1" }));
    var terms = f.add("termsText", "Contribution terms", textarea(c.terms ? c.terms.text : ""),
      c.terms ? "Version " + c.terms.version + " now; changing the text makes version " + (c.terms.version + 1) + " (ideas keep the version their author accepted)." : "Members accept these when they submit; the first text is version 1.");
    var budget = f.add("voteBudget", "Vote budget", input("number", c.voteBudget, { min: "1", max: "10000", step: "1" }), "Active votes per member; empty: no limit.");
    var rewards = f.add("rewards", "Rewards", textarea(c.rewards));
    var winners = f.add("winnerCount", "Winners", input("number", c.winnerCount, { min: "0", step: "1" }));
    var halfLife = f.add("hotHalfLifeHours", "HOT half-life (hours)", input("number", c.hotHalfLifeHours, { min: "0.25", max: "8760", step: "any" }),
      "How fast the HOT order forgets: after this many hours an idea needs twice the net votes to rank the same. Empty: the default.");
    var thresholds = thresholdRows(c.thresholds.map(function (t) { return { metric: t.metric, value: t.value, minCount: t.minCount, name: t.name }; }));
    f.group("thresholds", "Thresholds", thresholds, "An idea crossing one is announced once (idea.threshold_reached).");

    function number(node) { return node.value === "" ? null : Number(node.value); }
    function values() {
      return {
        title: title.value, slug: slug.value || null, description: description.value, mode: mode.value,
        opensAt: fromLocal(opens.value), closesAt: fromLocal(closes.value), verifiedOnly: verified.checked,
        allowedTiers: tiers.value.split(",").map(function (t) { return t.trim(); }).filter(Boolean),
        minLevel: number(level) || 0, termsText: terms.value, voteBudget: number(budget), rewards: rewards.value,
        winnerCount: number(winners) || 0, hotHalfLifeHours: number(halfLife), thresholds: thresholds.read(),
      };
    }
    function before() {
      return {
        title: c.title, slug: c.slug, description: c.description, mode: c.mode, opensAt: c.opensAt || null,
        closesAt: c.closesAt || null, verifiedOnly: c.eligibility.verifiedOnly, allowedTiers: c.eligibility.allowedTiers,
        minLevel: c.eligibility.minLevel, termsText: c.terms ? c.terms.text : "", voteBudget: c.voteBudget,
        rewards: c.rewards, winnerCount: c.winnerCount, hotHalfLifeHours: c.hotHalfLifeHours === undefined ? null : c.hotHalfLifeHours,
        thresholds: c.thresholds.map(function (t) { return { metric: t.metric, value: t.value, minCount: t.minCount, name: t.name }; }),
      };
    }
    function sameInstant(a, b) { return (a ? Date.parse(a) : null) === (b ? Date.parse(b) : null); }
    function submit() {
      var now = values();
      if (!campaign) {
        if (now.hotHalfLifeHours === null) delete now.hotHalfLifeHours;  // the schema's default
        return gql("mutation N($i: CreateCampaignInput!) { createCampaign(input: $i) { campaign { id title } userErrors { field code message } } }", { i: now })
          .then(function (d) {
            var r = d.createCampaign;
            if (r.userErrors.length) return r.userErrors;
            return done().then(function () { say("Campaign “" + r.campaign.title + "” created as a draft."); });
          });
      }
      var was = before(), patch = { id: campaign.id }, changed = 0;
      Object.keys(now).forEach(function (k) {
        var same = k === "opensAt" || k === "closesAt" ? sameInstant(now[k], was[k]) : JSON.stringify(now[k]) === JSON.stringify(was[k]);
        if (!same) { patch[k] = now[k]; changed++; }
      });
      if (!changed) { say("Nothing changed."); return []; }
      return gql("mutation U($i: UpdateCampaignInput!) { updateCampaign(input: $i) { campaign { id title terms { version } } userErrors { field code message } } }", { i: patch })
        .then(function (d) {
          var r = d.updateCampaign;
          if (r.userErrors.length) return r.userErrors;
          var version = r.campaign.terms ? " Terms are at version " + r.campaign.terms.version + "." : "";
          return done().then(function () { say("Campaign “" + r.campaign.title + "” saved." + version); });
        });
    }
    return f.finish();
  }

  function campaignRow(c) {
    var span = [c.opensAt ? "opens " + shown(c.opensAt) : "", c.closesAt ? "closes " + shown(c.closesAt) : ""].filter(Boolean).join(", ");
    var facts = [words(c.mode), words(c.status), span,
      c.voteBudget ? c.voteBudget + " votes each" : "", c.terms ? "terms v" + c.terms.version : "",
      c.thresholds.length ? c.thresholds.length + " threshold(s)" : ""].filter(Boolean).join(" · ");
    var article = el("article", { class: "row", "data-campaign": c.id }, [el("h3", { text: c.title }), el("p", { text: facts })]);
    if (!owner) return article;
    var next = c.status === "OPEN" ? "CLOSED" : "OPEN";
    article.appendChild(button(next === "OPEN" ? "Open" : "Close", function () {
      return gql("mutation S($c: ID!, $s: CampaignStatus!) { setCampaignStatus(input: {id: $c, status: $s}) { userErrors { message } } }",
        { c: c.id, s: next }).then(function (d) {
        var errors = d.setCampaignStatus.userErrors;
        return loadCampaigns().then(function () { say(errors.length ? errors[0].message : "Campaign " + next.toLowerCase() + "."); });
      });
    }));
    var key = "campaign:" + c.id;
    var edit = keptForms[key];
    if (!edit) {
      edit = el("details", { class: "edit" }, [el("summary", { text: "Edit “" + c.title + "”" })]);
      edit.addEventListener("toggle", function () {
        if (!edit.open) { forget(key); return; }
        keptForms[key] = edit;
        if (edit.children.length === 1) edit.appendChild(campaignForm(c, function () { forget(key); return loadCampaigns(); }));
      });
    }
    article.appendChild(edit);
    return article;
  }

  function loadCampaigns() {
    return gql("{ campaigns(first: 50) { edges { node { " + CAMPAIGN_FIELDS + " } } } }").then(function (data) {
      var rows = data.campaigns.edges.map(function (edge) { return campaignRow(edge.node); });
      fill("campaigns", rows, "No campaigns yet.");
      if (owner) {
        C.section("campaigns").prepend(kept("campaign:new", function () {
          return el("details", { class: "create" }, [el("summary", { text: "New campaign" }),
            campaignForm(null, function () { forget("campaign:new"); return loadCampaigns(); })]);
        }));
      }
    });
  }

  // ---- webhooks: endpoints, the secret shown once, the delivery log ----

  var fresh = null; // {endpointId, url, secret}: in memory only, so a reload never shows it again
  var eventTypes = [];
  var deliveryStatus = "";

  function secretBox() {
    if (!fresh) return null;
    var code = el("code", { class: "secret", text: fresh.secret });
    var copy = button("Copy secret", function () {
      if (navigator.clipboard) return navigator.clipboard.writeText(fresh.secret).then(function () { say("Secret copied."); });
      say("Select the secret and copy it.");
      return null;
    });
    return el("div", { class: "secret-box", role: "region", "aria-label": "New signing secret", "data-endpoint": fresh.endpointId }, [
      el("p", { text: "Signing secret for " + fresh.url + ": copy it now into the receiver's configuration. It is shown only this once; Cosource keeps it sealed and cannot show it again (rotate to get a new one)." }),
      code, copy,
      button("I stored it", function () { fresh = null; return loadWebhooks(); }),
    ]);
  }

  function endpointForm() {
    var f = Form(submit, "Create endpoint");
    var url = f.add("url", "Receiver URL", input("url", "", { required: "", placeholder: "https://" }), "Where signed events are POSTed (Standard Webhooks).");
    var description = f.add("description", "Description", input("text", ""));
    var boxes = el("div", { class: "checks" });
    eventTypes.forEach(function (t) {
      var id = "evt-" + (++serial);
      boxes.appendChild(el("div", { class: "check" }, [el("input", { type: "checkbox", id: id, value: t }), el("label", { for: id, text: t })]));
    });
    f.group("eventTypes", "Event types", boxes, "None ticked: every type.");
    var preset = f.add("preset", "Payload preset", select(["STANDARD", "COMMERCE_PREORDER", "CRM_CONTACTS"], "STANDARD"));
    var emails = f.add("includeEmails", "Include member emails (e.g. for a CRM)", input("checkbox", false));
    function submit() {
      var types = Array.prototype.filter.call(boxes.querySelectorAll("input"), function (b) { return b.checked; }).map(function (b) { return b.value; });
      return gql("mutation W($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id url } secret userErrors { field code message } } }",
        { i: { url: url.value, description: description.value, eventTypes: types, preset: preset.value, includeEmails: emails.checked } })
        .then(function (d) {
          var r = d.createWebhookEndpoint;
          if (r.userErrors.length) return r.userErrors;
          fresh = { endpointId: r.endpoint.id, url: r.endpoint.url, secret: r.secret };
          forget("endpoint:new");
          return loadWebhooks().then(function () {
            say("Endpoint created. Copy its signing secret now: it is shown only once.");
            var box = document.querySelector("#webhooks .secret-box code");
            if (box) box.scrollIntoView();
          });
        });
    }
    return f.finish();
  }

  function endpointRow(e) {
    var state = e.enabled ? "enabled" : "disabled" + (e.disabledReason ? " (" + words(e.disabledReason) + ")" : "");
    var facts = [state, e.eventTypes.length ? e.eventTypes.join(", ") : "every event type", words(e.preset),
      e.failingSince ? "failing since " + shown(e.failingSince) : "",
      e.lastSuccessAt ? "last success " + shown(e.lastSuccessAt) : "",
      e.previousSecretExpiresAt ? "previous secret signs until " + shown(e.previousSecretExpiresAt) : ""].filter(Boolean).join(" · ");
    var article = el("article", { class: "row", "data-endpoint": e.id }, [
      el("h4", { class: "url", text: e.url }),
      e.description ? el("p", { text: e.description }) : null,
      el("p", { text: facts }),
    ]);
    if (!owner) return article;
    function run(query, name, done) {
      return gql(query, { e: e.id }).then(function (d) {
        var r = d[name];
        if (r.userErrors.length) { say(r.userErrors[0].message); return null; }
        return done(r);
      });
    }
    var actions = el("div", { class: "actions" }, [
      button("Rotate secret", function () {
        return run("mutation R($e: ID!) { rotateWebhookSecret(input: {id: $e}) { endpoint { id url } secret userErrors { code message } } }", "rotateWebhookSecret", function (r) {
          fresh = { endpointId: r.endpoint.id, url: r.endpoint.url, secret: r.secret };
          return loadWebhooks().then(function () { say("Secret rotated: the previous one also signs for a while. Copy the new one now."); });
        });
      }),
      button(e.enabled ? "Disable" : "Enable", function () {
        return gql("mutation E($e: ID!, $on: Boolean!) { updateWebhookEndpoint(input: {id: $e, enabled: $on}) { userErrors { code message } } }", { e: e.id, on: !e.enabled })
          .then(function (d) {
            var errors = d.updateWebhookEndpoint.userErrors;
            return loadWebhooks().then(function () { say(errors.length ? errors[0].message : "Endpoint " + (e.enabled ? "disabled." : "enabled.")); });
          });
      }),
      button("Send test event", function () {
        return run("mutation T($e: ID!) { sendTestWebhook(input: {id: $e}) { delivery { id } userErrors { code message } } }", "sendTestWebhook", function () {
          return loadWebhooks().then(function () { say("Test event queued."); });
        });
      }),
    ]);
    var since = input("datetime-local", toLocal(e.failingSince || new Date(Date.now() - 86400000).toISOString()));
    var sinceId = "since-" + (++serial);
    since.id = sinceId;
    var recover = el("div", { class: "recover" }, [
      el("label", { for: sinceId, text: "Resend failed deliveries created since" }), since,
      button("Recover", function () {
        return gql("mutation V($e: ID!, $s: DateTime!) { recoverWebhookEndpoint(input: {id: $e, since: $s}) { recoveredCount userErrors { code message } } }",
          { e: e.id, s: fromLocal(since.value) }).then(function (d) {
          var r = d.recoverWebhookEndpoint;
          return loadWebhooks().then(function () { say(r.userErrors.length ? r.userErrors[0].message : r.recoveredCount + " deliveries queued again."); });
        });
      }),
    ]);
    var confirm = el("div", { class: "confirm", hidden: "" }, [
      el("p", { text: "Delete " + e.url + "? Its pending deliveries stop." }),
      button("Yes, delete", function () {
        return run("mutation D($e: ID!) { deleteWebhookEndpoint(input: {id: $e}) { deletedEndpointId userErrors { code message } } }", "deleteWebhookEndpoint", function () {
          if (fresh && fresh.endpointId === e.id) fresh = null;
          return loadWebhooks().then(function () { say("Endpoint deleted."); });
        });
      }),
      button("Cancel", function () { confirm.hidden = true; }),
    ]);
    actions.appendChild(button("Delete", function () { confirm.hidden = false; confirm.querySelector("button").focus(); }));
    [actions, recover, confirm].forEach(function (n) { article.appendChild(n); });
    return article;
  }

  function attemptList(d) {
    if (!d.attempts.length) return null;
    var items = d.attempts.map(function (a) {
      var line = "#" + a.attemptNumber + " · " + shown(a.startedAt) + " · " + (a.statusCode ? "HTTP " + a.statusCode : a.error || "no response") +
        " · " + Math.round(a.durationMs) + " ms · " + words(a.outcome);
      return el("li", {}, [el("span", { text: line }), a.responseExcerpt ? el("pre", { class: "excerpt", text: a.responseExcerpt }) : null]);
    });
    return el("details", { class: "attempts" }, [el("summary", { text: "Attempts and responses (" + d.attempts.length + ")" }), el("ol", {}, items)]);
  }

  function deliveryRow(d) {
    var text = d.eventType + " · " + d.status.toLowerCase() + " · " + d.attemptCount + " attempt(s)" + (d.lastStatusCode ? " · last " + d.lastStatusCode : "") +
      (d.nextAttemptAt && d.status === "PENDING" ? " · next " + shown(d.nextAttemptAt) : "") + " · " + d.endpoint.url;
    var row = el("article", { class: "row", "data-delivery": d.id }, [el("p", { text: text }), attemptList(d)]);
    if (owner) {
      row.appendChild(button("Retry", function () {
        return gql("mutation T($d: ID!) { retryWebhookDelivery(input: {id: $d}) { userErrors { message } } }", { d: d.id }).then(function (r) {
          var errors = r.retryWebhookDelivery.userErrors;
          return loadWebhooks().then(function () { say(errors.length ? errors[0].message : "Delivery queued again."); });
        });
      }));
    }
    return row;
  }

  function statusFilter() {
    var id = "delivery-status";
    var s = select(["", "FAILED", "PENDING", "HELD", "SUCCEEDED"], deliveryStatus, function (o) { return o ? words(o) : "every status"; });
    s.id = id;
    s.addEventListener("change", function () { deliveryStatus = s.value; loadWebhooks().then(function () { document.getElementById(id).focus(); }); });
    return el("div", { class: "filter" }, [el("label", { for: id, text: "Show deliveries" }), s]);
  }

  function loadWebhooks() {
    var query = "query H($s: WebhookDeliveryStatus) { webhookEventTypes" +
      " webhookEndpoints(first: 50) { edges { node { id url description eventTypes enabled preset disabledReason failingSince lastSuccessAt previousSecretExpiresAt } } }" +
      " webhookDeliveries(first: 20, status: $s) { edges { node { id eventType status attemptCount lastStatusCode nextAttemptAt endpoint { url }" +
      " attempts { attemptNumber startedAt durationMs outcome statusCode responseExcerpt error } } } } }";
    return gql(query, { s: deliveryStatus || null }).then(function (data) {
      eventTypes = data.webhookEventTypes;
      var endpoints = data.webhookEndpoints.edges.map(function (edge) { return endpointRow(edge.node); });
      var deliveries = data.webhookDeliveries.edges.map(function (edge) { return deliveryRow(edge.node); });
      var parts = [el("h3", { text: "Endpoints" }), secretBox()];
      if (owner) {
        parts.push(kept("endpoint:new", function () {
          return el("details", { class: "create" }, [el("summary", { text: "New endpoint" }), endpointForm()]);
        }));
      }
      parts = parts.concat(endpoints.length ? endpoints : [el("p", { text: "No endpoints yet." })]);
      parts.push(el("h3", { text: "Deliveries" }), statusFilter());
      parts = parts.concat(deliveries.length ? deliveries : [el("p", { text: "No deliveries yet." })]);
      fill("webhooks", parts.filter(Boolean), "");
    });
  }

  // ---- team: owners invite, change roles, remove (never the last owner) ----

  var inviteLink = null; // {email, url}: in memory only, like a new secret

  function inviteForm() {
    var f = Form(submit, "Invite");
    var email = f.add("email", "Email", input("email", "", { required: "", autocomplete: "off" }));
    var role = f.add("role", "Role", select(ROLES, "MODERATOR"), "Owner: everything. Moderator: ideas, flags, members' content. Analyst: reads only.");
    function submit() {
      return gql("mutation I($e: String!, $r: ConsoleRole!) { inviteConsoleUser(input: {email: $e, role: $r}) { invite { email } inviteUrl userErrors { field code message } } }",
        { e: email.value, r: role.value }).then(function (d) {
        var r = d.inviteConsoleUser;
        if (r.userErrors.length) return r.userErrors;
        inviteLink = { email: r.invite.email, url: r.inviteUrl };
        forget("invite:new");
        return loadTeam().then(function () { say("Invitation ready for " + r.invite.email + ": send them the link."); });
      });
    }
    return f.finish();
  }

  function inviteBox() {
    if (!inviteLink) return null;
    var link = inviteLink;
    return el("div", { class: "secret-box", role: "region", "aria-label": "New invitation link" }, [
      el("p", { text: "One-time link for " + link.email + " (valid 72 hours; shown only now): send it to them privately. Whoever opens it chooses the password." }),
      el("code", { class: "secret invite-link", text: link.url }),
      button("Copy link", function () {
        if (navigator.clipboard) return navigator.clipboard.writeText(link.url).then(function () { say("Link copied."); });
        say("Select the link and copy it.");
        return null;
      }),
      button("Done", function () { inviteLink = null; return loadTeam(); }),
    ]);
  }

  function userRow(u) {
    var me = document.querySelector("header span");
    var self = me && (me.textContent || "").indexOf(u.email + " ·") === 0;
    var roleSelect = select(ROLES, u.role);
    roleSelect.setAttribute("aria-label", "Role of " + u.email);
    function changed(name) {
      return function (d) {
        var r = d[name];
        return loadTeam().then(function () { say(r.userErrors.length ? r.userErrors[0].message : name === "removeConsoleUser" ? u.email + " removed." : u.email + " is now " + roleSelect.value.toLowerCase() + "."); });
      };
    }
    var confirm = el("div", { class: "confirm", hidden: "" }, [
      el("p", { text: "Remove " + u.email + "? Their sessions end now." }),
      button("Yes, remove", function () {
        return gql("mutation X($u: ID!) { removeConsoleUser(input: {id: $u}) { removedUserId userErrors { code message } } }", { u: u.id }).then(changed("removeConsoleUser"));
      }),
      button("Cancel", function () { confirm.hidden = true; }),
    ]);
    return el("article", { class: "row", "data-user": u.id }, [
      el("h4", { text: u.email + (self ? " (you)" : "") }),
      el("p", { text: words(u.role) + " · since " + shown(u.createdAt) }),
      el("div", { class: "actions" }, [
        roleSelect,
        button("Change role", function () {
          return gql("mutation C($u: ID!, $r: ConsoleRole!) { setConsoleUserRole(input: {id: $u, role: $r}) { user { role } userErrors { code message } } }", { u: u.id, r: roleSelect.value })
            .then(changed("setConsoleUserRole"));
        }),
        button("Remove", function () { confirm.hidden = false; confirm.querySelector("button").focus(); }),
      ]),
      confirm,
    ]);
  }

  function inviteRow(i) {
    return el("article", { class: "row", "data-invite": i.id }, [
      el("p", { text: i.email + " · invited as " + words(i.role) + " · link valid until " + shown(i.expiresAt) }),
      button("Revoke invitation for " + i.email, function () {
        return gql("mutation R($i: ID!) { revokeConsoleInvite(input: {id: $i}) { userErrors { message } } }", { i: i.id }).then(function (d) {
          var errors = d.revokeConsoleInvite.userErrors;
          return loadTeam().then(function () { say(errors.length ? errors[0].message : "Invitation revoked."); });
        });
      }),
    ]);
  }

  function loadTeam() {
    if (!C.section("team")) return null;
    if (!owner) { fill("team", [], "Owners manage the team."); return null; }
    return gql("{ consoleUsers { id email role createdAt } consoleInvites { id email role expiresAt } }").then(function (data) {
      var parts = [inviteBox(), kept("invite:new", function () {
        return el("details", { class: "create" }, [el("summary", { text: "Invite someone" }), inviteForm()]);
      })];
      parts = parts.concat(data.consoleUsers.map(userRow));
      if (data.consoleInvites.length) parts.push(el("h3", { text: "Pending invitations" }));
      parts = parts.concat(data.consoleInvites.map(inviteRow));
      fill("team", parts.filter(Boolean), "");
    });
  }

  [loadCampaigns, loadWebhooks, loadTeam].forEach(C.register);
})();
