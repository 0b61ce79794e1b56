/*
 * Cosource idea widget: drop it into a storefront page.
 *
 *   <div id="ideas"></div>
 *   <script src="https://cosource.example.com/widget.js"
 *           data-key="pk_..." data-campaign="brew-next" data-target="#ideas"></script>
 *
 * or mount it yourself, with a function that returns a member token from your backend:
 *
 *   Cosource.mount(document.querySelector("#ideas"), {
 *     key: "pk_...", campaign: "brew-next", getToken: async () => (await fetch("/token")).text(),
 *   });
 *
 * Everything user-written is inserted with textContent, never as HTML.
 */
(function () {
  "use strict";

  var CURRENT = document.currentScript;
  var DEFAULT_API = CURRENT ? new URL("/graphql", CURRENT.src).toString() : "/graphql";

  var IDEA_FIELDS =
    "id title body status counts { upvotes downvotes netVotes pledgers pledgedQuantity " +
    "averageScore scoreCount comments } author { displayName } viewerVote viewerPledge viewerScore";
  var CAMPAIGN_QUERY =
    "query Widget($slug: String!, $order: IdeaOrder!, $first: Int!) {" +
    " campaign(slug: $slug) { id title description mode isOpen terms { version text }" +
    " ideas(orderBy: $order, first: $first) { totalCount edges { node { " + IDEA_FIELDS + " } } } } }";
  var VOTE = "mutation Vote($i: ID!, $v: VoteValue!) { vote(input: {ideaId: $i, value: $v}) {" +
    " idea { " + IDEA_FIELDS + " } userErrors { field code message } } }";
  var PLEDGE = "mutation Pledge($i: ID!, $q: Int!) { pledge(input: {ideaId: $i, quantity: $q}) {" +
    " idea { " + IDEA_FIELDS + " } userErrors { field code message } } }";
  var SCORE = "mutation Score($i: ID!, $s: Int!) { scoreIdea(input: {ideaId: $i, score: $s}) {" +
    " idea { " + IDEA_FIELDS + " } userErrors { field code message } } }";
  var SUBMIT = "mutation Submit($input: SubmitIdeaInput!) { submitIdea(input: $input) {" +
    " idea { " + IDEA_FIELDS + " } userErrors { field code message } } }";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), attrs[name]);
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function sha256(text) {
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(function (buffer) {
      return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
        return ("0" + b.toString(16)).slice(-2);
      }).join("");
    });
  }

  function Widget(root, options) {
    this.root = root;
    this.key = options.key;
    this.slug = options.campaign;
    this.api = options.api || DEFAULT_API;
    this.getToken = options.getToken || function () { return Promise.resolve(null); };
    this.order = options.order || "TOP";
    this.first = options.first || 20;
    this.state = { campaign: null, ideas: [], error: null, notice: null };
    this.hashes = {};
  }

  Widget.prototype.gql = function (query, variables, withToken) {
    var self = this;
    var token = withToken ? this.getToken() : Promise.resolve(null);
    return token.then(function (jwt) {
      var headers = { "content-type": "application/json", "x-cosource-key": self.key };
      if (jwt) headers.authorization = "Bearer " + jwt;
      return fetch(self.api, {
        method: "POST", headers: headers,
        body: JSON.stringify({ query: query, variables: variables || {} }),
      });
    }).then(function (response) { return response.json(); }).then(function (body) {
      if (body.errors && body.errors.length) {
        var error = new Error(body.errors[0].message);
        error.code = (body.errors[0].extensions || {}).code;
        throw error;
      }
      return body.data;
    });
  };

  // Reads go out as persisted-query GETs: anonymous ones are then served from Cosource's result
  // cache (and any CDN in front of it) with ETags; the full query is sent once, when asked for.
  Widget.prototype.persisted = function (query, variables, operationName) {
    var self = this;
    var hashed = this.hashes[query] ? Promise.resolve(this.hashes[query]) : sha256(query).then(function (h) {
      self.hashes[query] = h;
      return h;
    });
    return Promise.all([hashed, this.getToken()]).then(function (parts) {
      var extensions = { persistedQuery: { version: 1, sha256Hash: parts[0] } };
      var headers = { "x-cosource-key": self.key };
      if (parts[1]) headers.authorization = "Bearer " + parts[1];
      var url = self.api + "?operationName=" + encodeURIComponent(operationName) +
        "&variables=" + encodeURIComponent(JSON.stringify(variables)) +
        "&extensions=" + encodeURIComponent(JSON.stringify(extensions));
      return fetch(url, { headers: headers }).then(function (r) { return r.json(); }).then(function (body) {
        var missing = body.errors && body.errors[0] && (body.errors[0].extensions || {}).code === "PERSISTED_QUERY_NOT_FOUND";
        if (!missing) return body;
        headers["content-type"] = "application/json";
        return fetch(self.api, {
          method: "POST", headers: headers,
          body: JSON.stringify({ query: query, variables: variables, extensions: extensions, operationName: operationName }),
        }).then(function (r) { return r.json(); });
      });
    }).then(function (body) {
      if (body.errors && body.errors.length) {
        var error = new Error(body.errors[0].message);
        error.code = (body.errors[0].extensions || {}).code;
        throw error;
      }
      return body.data;
    });
  };

  Widget.prototype.load = function () {
    var self = this;
    return this.persisted(CAMPAIGN_QUERY, { slug: this.slug, order: this.order, first: this.first }, "Widget")
      .then(function (data) {
        self.state.campaign = data.campaign;
        self.state.ideas = data.campaign ? data.campaign.ideas.edges.map(function (e) { return e.node; }) : [];
        self.state.error = data.campaign ? null : "This campaign is not available.";
      })
      .catch(function (error) { self.state.error = error.message; })
      .then(function () { self.render(); });
  };

  Widget.prototype.act = function (query, variables, field) {
    var self = this;
    return this.gql(query, variables, true).then(function (data) {
      var payload = data[field];
      if (payload.userErrors.length) {
        self.state.notice = payload.userErrors[0].message;
      } else {
        self.state.notice = null;
        self.replace(payload.idea);
      }
      self.render();
      return payload;
    }).catch(function (error) {
      self.state.notice = error.code === "UNAUTHENTICATED" ? "Sign in to take part." : error.message;
      self.render();
    });
  };

  Widget.prototype.replace = function (idea) {
    var found = false;
    this.state.ideas = this.state.ideas.map(function (existing) {
      if (existing.id === idea.id) { found = true; return idea; }
      return existing;
    });
    if (!found) this.state.ideas.unshift(idea);
  };

  Widget.prototype.ideaView = function (idea) {
    var self = this;
    var c = idea.counts;
    var contest = this.state.campaign.mode === "CONTEST";
    var actions = [];
    if (contest) {
      for (var s = 1; s <= 5; s++) {
        (function (score) {
          actions.push(el("button", {
            class: "cs-score" + (idea.viewerScore === score ? " cs-on" : ""),
            "data-score": String(score), text: String(score),
            onclick: function () { self.act(SCORE, { i: idea.id, s: score }, "scoreIdea"); },
          }));
        })(s);
      }
    } else {
      actions.push(el("button", {
        class: "cs-up" + (idea.viewerVote === "UP" ? " cs-on" : ""), "aria-label": "Vote up", text: "\u25B2",
        onclick: function () { self.act(VOTE, { i: idea.id, v: idea.viewerVote === "UP" ? "NONE" : "UP" }, "vote"); },
      }));
      actions.push(el("span", { class: "cs-net", text: String(c.netVotes) }));
      actions.push(el("button", {
        class: "cs-down" + (idea.viewerVote === "DOWN" ? " cs-on" : ""), "aria-label": "Vote down", text: "\u25BC",
        onclick: function () { self.act(VOTE, { i: idea.id, v: idea.viewerVote === "DOWN" ? "NONE" : "DOWN" }, "vote"); },
      }));
    }
    actions.push(el("button", {
      class: "cs-pledge" + (idea.viewerPledge ? " cs-on" : ""),
      text: idea.viewerPledge ? "I'd buy " + idea.viewerPledge + " \u2713" : "I'd buy it",
      onclick: function () { self.act(PLEDGE, { i: idea.id, q: idea.viewerPledge ? 0 : 1 }, "pledge"); },
    }));
    var meta = contest
      ? (c.averageScore === null ? "no scores yet" : "\u2605 " + c.averageScore.toFixed(1) + " (" + c.scoreCount + ")")
      : c.upvotes + " up \u00B7 " + c.downvotes + " down";
    return el("li", { class: "cs-idea", "data-id": idea.id }, [
      el("div", { class: "cs-actions" }, actions),
      el("div", { class: "cs-text" }, [
        el("strong", { class: "cs-title", text: idea.title }),
        el("span", { class: "cs-status", text: idea.status.replace("_", " ").toLowerCase() }),
        el("p", { text: idea.body }),
        el("small", { text: "by " + idea.author.displayName + " \u00B7 " + meta + " \u00B7 " + c.pledgedQuantity + " pledged" }),
      ]),
    ]);
  };

  Widget.prototype.formView = function () {
    var self = this;
    var campaign = this.state.campaign;
    var title = el("input", { name: "title", maxlength: "140", placeholder: "Your idea in a few words" });
    var body = el("textarea", { name: "body", maxlength: "10000", placeholder: "Tell us more" });
    var accept = campaign.terms ? el("input", { type: "checkbox", name: "terms" }) : null;
    var termsRow = campaign.terms ? el("label", { class: "cs-terms" }, [accept, el("span", { text: " I accept: " + campaign.terms.text })]) : null;
    return el("form", {
      class: "cs-form",
      onsubmit: function (event) {
        event.preventDefault();
        var input = { campaignId: campaign.id, title: title.value, body: body.value };
        if (campaign.terms && accept.checked) input.acceptedTermsVersion = campaign.terms.version;
        self.act(SUBMIT, { input: input }, "submitIdea").then(function (payload) {
          if (payload && !payload.userErrors.length) { title.value = ""; body.value = ""; }
        });
      },
    }, [title, body, termsRow, el("button", { type: "submit", text: "Submit idea" })]);
  };

  Widget.prototype.render = function () {
    var state = this.state;
    var children = [];
    if (state.error) {
      children.push(el("p", { class: "cs-error", text: state.error }));
    } else if (state.campaign) {
      children.push(el("h3", { class: "cs-campaign", text: state.campaign.title }));
      children.push(el("p", { class: "cs-description", text: state.campaign.description }));
      if (state.notice) children.push(el("p", { class: "cs-notice", role: "status", text: state.notice }));
      children.push(el("ol", { class: "cs-ideas" }, state.ideas.map(this.ideaView, this)));
      if (state.campaign.isOpen) children.push(this.formView());
    }
    this.root.replaceChildren(el("div", { class: "cosource-widget" }, children));
  };

  var STYLE =
    ".cosource-widget{font:15px/1.4 system-ui,sans-serif;max-width:44rem}" +
    ".cs-ideas{list-style:none;padding:0}.cs-idea{display:flex;gap:.8rem;padding:.6rem 0;border-bottom:1px solid #ddd}" +
    ".cs-actions{display:flex;flex-direction:column;align-items:center;gap:.2rem;min-width:5rem}" +
    ".cs-actions button{cursor:pointer;border:1px solid #bbb;background:#fff;border-radius:4px}" +
    ".cs-on{background:#2a6!important;color:#fff}.cs-status{margin-left:.5rem;font-size:.8em;color:#666}" +
    ".cs-text p{margin:.2rem 0}.cs-notice{background:#fff4d6;padding:.4rem}" +
    ".cs-form{display:flex;flex-direction:column;gap:.4rem}.cs-error{color:#a00}";

  function mount(root, options) {
    if (!document.getElementById("cosource-style")) {
      document.head.appendChild(el("style", { id: "cosource-style", text: STYLE }));
    }
    var widget = new Widget(root, options);
    widget.load();
    return widget;
  }

  window.Cosource = { mount: mount };

  if (CURRENT && CURRENT.dataset.key && CURRENT.dataset.target) {
    var start = function () {
      var target = document.querySelector(CURRENT.dataset.target);
      if (target) mount(target, { key: CURRENT.dataset.key, campaign: CURRENT.dataset.campaign });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }
})();
