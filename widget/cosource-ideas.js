/*
 * <cosource-ideas>: the Cosource idea widget as a custom element (see README "Storefront widget").
 *
 *   <script src="https://cosource.example.com/widget.js" defer></script>
 *   <cosource-ideas campaign="brew-next" key="pk_..."></cosource-ideas>
 *
 * Member identity: set `element.getToken = async () => jwtFromYourBackend` (or a `token`
 * attribute). Tokens are reused until 30 s before their `exp`, then asked for again.
 *
 * Design (docs/architecture.md, "Storefront widget"): everything renders inside a Shadow DOM with
 * its own styles; rows are keyed by idea id and updated in place, so forms keep their text and
 * focus; user-written text only ever goes through textContent. This source is minified by
 * `make assets` into api/static/widget.min.js, which is what /widget.js serves.
 */
(() => {
  "use strict";
  if (!window.customElements || customElements.get("cosource-ideas")) return;
  const SCRIPT = document.currentScript;
  const DEFAULT_API = SCRIPT && SCRIPT.src ? new URL("/graphql", SCRIPT.src).href : "/graphql";

  // ---- words -------------------------------------------------------------------------------
  const WORDS = {
    en: {
      order: "Sort ideas", TOP: "Top", HOT: "Hot", NEW: "New", DISCOVER: "Discover", PLEDGES: "Most wanted",
      search: "Search ideas", searchGo: "Search", ideas: ["{n} idea", "{n} ideas"], more: "Load more ideas",
      none: "No ideas yet.", loading: "Loading…", signIn: "Sign in to take part.",
      closed: "This campaign is closed.", notFound: "This campaign is not available.",
      up: "Upvote", down: "Downvote", upOn: "Upvoted", downOn: "Downvoted", net: "Net votes",
      scoreGroup: "Your score for {t}", scoreN: "Score {n} of 5", avg: "★ {a} ({n} scores)", noScores: "No scores yet",
      scoresHidden: ["{n} score · the average shows when the campaign closes", "{n} scores · the average shows when the campaign closes"],
      by: "by {a}", upDown: "{u} up · {d} down", pledged: "{n} pledged", comments: ["{n} comment", "{n} comments"],
      pledge: "I'd buy it", qty: "Quantity", youPledged: "You'd buy {n}", change: "Update pledge",
      withdraw: "Withdraw pledge", confirmWithdraw: "Withdraw your pledge?", yes: "Yes, withdraw", no: "Keep it",
      details: "Details and comments", hide: "Hide details", responses: "Official responses", noComments: "No comments yet.",
      comment: "Your comment", reply: "Reply", replyAria: "Reply to {a}", replyTo: "Replying to {a}", cancel: "Cancel", post: "Post comment",
      moreComments: "More comments", newIdea: "Share an idea", title: "Title", body: "Describe it",
      terms: "I accept the contribution terms: {t}", submit: "Submit idea", similar: "Is it one of these? Vote instead:",
      voteFor: "Vote for “{t}”", show: "Show “{t}”", thanks: "Thanks! Your idea was submitted.", posted: "Comment posted.",
      points: ["{n} point", "{n} points"], level: "Level {n}: {l}", toNext: "{p} to the next level", topLevel: "Top level",
      badge: "Newest badge: {b}", rules: "Rules", rewards: "Rewards", closes: "Closes {d}",
      voted: "Vote saved.", retracted: "Vote removed.", scored: "Score saved.", pledgedOk: "Pledge saved.", withdrawn: "Pledge withdrawn.",
      status: { NEW: "New", UNDER_REVIEW: "Under review", ACCEPTED: "Accepted", IN_PROGRESS: "In progress", SHIPPED: "Shipped", DECLINED: "Declined" },
      err: {
        UNAUTHENTICATED: "Sign in to take part.", RATE_LIMITED: "Too many requests; try again in {s} s.",
        CAMPAIGN_NOT_OPEN: "This campaign is closed.", SELF_VOTE: "You cannot vote on your own idea.",
        TERMS_NOT_ACCEPTED: "Please accept the contribution terms.", NOT_ELIGIBLE: "This campaign is not open to your account.",
        VOTE_BUDGET_EXHAUSTED: "You have used all your votes in this campaign.", IDEA_CLOSED: "This idea is closed.",
        PLEDGE_LOCKED: "This pledge can no longer change.", IDEA_FROZEN: "This idea is under review.",
        LEVEL_TOO_LOW: "Your level is too low for this.", NETWORK: "Cosource could not be reached. Try again.",
      },
    },
    ko: {
      order: "아이디어 정렬", TOP: "인기", HOT: "급상승", NEW: "최신", DISCOVER: "발견", PLEDGES: "구매 희망순",
      search: "아이디어 검색", searchGo: "검색", ideas: ["아이디어 {n}개"], more: "아이디어 더 보기",
      none: "아직 아이디어가 없습니다.", loading: "불러오는 중…", signIn: "참여하려면 로그인하세요.",
      closed: "종료된 캠페인입니다.", notFound: "이 캠페인을 볼 수 없습니다.",
      up: "추천", down: "비추천", upOn: "추천함", downOn: "비추천함", net: "순추천",
      scoreGroup: "{t}에 대한 내 점수", scoreN: "5점 중 {n}점", avg: "★ {a} ({n}명 평가)", noScores: "아직 평가가 없습니다",
      scoresHidden: ["{n}명 평가 · 평균 점수는 캠페인이 끝나면 공개됩니다"],
      by: "작성자 {a}", upDown: "추천 {u} · 비추천 {d}", pledged: "구매 희망 {n}개", comments: ["댓글 {n}개"],
      pledge: "살래요", qty: "수량", youPledged: "{n}개 구매 희망", change: "수량 변경",
      withdraw: "구매 희망 취소", confirmWithdraw: "구매 희망을 취소할까요?", yes: "네, 취소합니다", no: "유지",
      details: "자세히 보기와 댓글", hide: "접기", responses: "공식 답변", noComments: "아직 댓글이 없습니다.",
      comment: "댓글", reply: "답글", replyAria: "{a}님에게 답글", replyTo: "{a}님에게 답글", cancel: "취소", post: "댓글 등록",
      moreComments: "댓글 더 보기", newIdea: "아이디어 제안", title: "제목", body: "설명",
      terms: "기여 약관에 동의합니다: {t}", submit: "아이디어 제출", similar: "혹시 이 아이디어인가요? 대신 추천해 주세요:",
      voteFor: "“{t}” 추천", show: "“{t}” 보기", thanks: "감사합니다! 아이디어가 제출되었습니다.", posted: "댓글이 등록되었습니다.",
      points: ["{n}점"], level: "레벨 {n}: {l}", toNext: "다음 레벨까지 {p}", topLevel: "최고 레벨",
      badge: "최근 배지: {b}", rules: "규칙", rewards: "보상", closes: "{d} 종료",
      voted: "투표했습니다.", retracted: "투표를 취소했습니다.", scored: "점수를 저장했습니다.", pledgedOk: "구매 희망을 저장했습니다.", withdrawn: "구매 희망을 취소했습니다.",
      status: { NEW: "새 아이디어", UNDER_REVIEW: "검토 중", ACCEPTED: "채택", IN_PROGRESS: "진행 중", SHIPPED: "출시", DECLINED: "반려" },
      err: {
        UNAUTHENTICATED: "참여하려면 로그인하세요.", RATE_LIMITED: "요청이 너무 많습니다. {s}초 후에 다시 시도하세요.",
        CAMPAIGN_NOT_OPEN: "종료된 캠페인입니다.", SELF_VOTE: "자신의 아이디어에는 투표할 수 없습니다.",
        TERMS_NOT_ACCEPTED: "기여 약관에 동의해 주세요.", NOT_ELIGIBLE: "이 계정은 이 캠페인에 참여할 수 없습니다.",
        VOTE_BUDGET_EXHAUSTED: "이 캠페인의 투표권을 모두 사용했습니다.", IDEA_CLOSED: "마감된 아이디어입니다.",
        PLEDGE_LOCKED: "이 구매 희망은 더 이상 바꿀 수 없습니다.", IDEA_FROZEN: "검토 중인 아이디어입니다.",
        LEVEL_TOO_LOW: "레벨이 부족합니다.", NETWORK: "Cosource에 연결할 수 없습니다. 다시 시도하세요.",
      },
    },
  };

  // ---- SHA-256 (persisted-query hashes; crypto.subtle is missing on plain-http pages) ---------
  const K = [];
  for (let n = 2, found = 0; found < 64; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) if (n % d === 0) { prime = false; break; }
    if (prime) { K[found++] = (Math.cbrt(n) % 1) * 4294967296 | 0; }
  }
  function sha256(text) {
    const bytes = Array.from(new TextEncoder().encode(text));
    const bits = bytes.length * 8;
    bytes.push(128);
    while (bytes.length % 64 !== 56) bytes.push(0);
    for (let i = 7; i >= 0; i--) bytes.push(i > 3 ? 0 : (bits >>> (i * 8)) & 255);
    const h = [1779033703, -1150833019, 1013904242, -1521486534, 1359893119, -1694144372, 528734635, 1541459225];
    const w = new Array(64);
    const rot = (x, n) => (x >>> n) | (x << (32 - n));
    for (let off = 0; off < bytes.length; off += 64) {
      for (let i = 0; i < 16; i++) {
        const j = off + i * 4;
        w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
      }
      for (let i = 16; i < 64; i++) {
        const a = w[i - 15], b = w[i - 2];
        w[i] = (w[i - 16] + (rot(a, 7) ^ rot(a, 18) ^ (a >>> 3)) + w[i - 7] + (rot(b, 17) ^ rot(b, 19) ^ (b >>> 10))) | 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = (hh + (rot(e, 6) ^ rot(e, 11) ^ rot(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        const t2 = ((rot(a, 2) ^ rot(a, 13) ^ rot(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      [a, b, c, d, e, f, g, hh].forEach((v, i) => { h[i] = (h[i] + v) | 0; });
    }
    return h.map((v) => (v >>> 0).toString(16).padStart(8, "0")).join("");
  }

  // ---- GraphQL documents ---------------------------------------------------------------------
  const IDEA = "id title body status createdAt frozen counts{upvotes downvotes netVotes pledgers pledgedQuantity averageScore scoreCount comments} author{id displayName} viewerVote viewerScore viewerPledge";
  const PAGE = `totalCount pageInfo{hasNextPage endCursor} edges{node{${IDEA}}}`;
  const Q_CAMPAIGN = `query CsCampaign($slug:String!){campaign(slug:$slug){id title description mode status isOpen closesAt rewards terms{version text} eligibility{verifiedOnly minLevel}}}`;
  const Q_IDEAS = `query CsIdeas($id:ID!,$order:IdeaOrder!,$search:String,$first:Int!,$after:String){ideas(campaignId:$id,orderBy:$order,search:$search,first:$first,after:$after){${PAGE}}}`;
  const Q_VIEWER = "query CsViewer{viewer{id displayName reputation level{number name progress nextThreshold} badges{code name}}}";
  const Q_DETAIL = "query CsIdea($id:ID!,$after:String){idea(id:$id){id responses{toStatus note createdAt} comments(first:50,after:$after){pageInfo{hasNextPage endCursor} edges{node{id body depth createdAt parentId author{displayName}}}}}}";
  const Q_SIMILAR = "query CsSimilar($id:ID!,$text:String!){similarIdeas(campaignId:$id,text:$text){score idea{id title}}}";
  const ACTION = `idea{${IDEA}} userErrors{field code message}`;
  const M_VOTE = `mutation CsVote($i:ID!,$v:VoteValue!){r:vote(input:{ideaId:$i,value:$v}){${ACTION}}}`;
  const M_SCORE = `mutation CsScore($i:ID!,$s:Int!){r:scoreIdea(input:{ideaId:$i,score:$s}){${ACTION}}}`;
  const M_PLEDGE = `mutation CsPledge($i:ID!,$q:Int!){r:pledge(input:{ideaId:$i,quantity:$q}){${ACTION}}}`;
  const M_SUBMIT = `mutation CsSubmit($input:SubmitIdeaInput!){r:submitIdea(input:$input){${ACTION}}}`;
  const M_COMMENT = `mutation CsComment($input:CommentInput!){r:comment(input:$input){comment{id body depth createdAt parentId author{displayName}} ${ACTION}}}`;
  const M_SEEN = "mutation CsSeen($ids:[ID!]!){recordImpressions(input:{ideaIds:$ids}){counted}}";
  const S_LIVE = `subscription CsLive($id:ID!){ideaUpdated(campaignId:$id){${IDEA}}}`;

  const STYLE = `
:host{display:block;contain:content}
:host([hidden]){display:none}
.w{all:initial;display:block;box-sizing:border-box;font-family:var(--cs-font,system-ui,-apple-system,"Segoe UI",sans-serif);font-size:var(--cs-font-size,15px);line-height:1.45;color:var(--cs-text,#1f2328);background:var(--cs-bg,#fff);padding:var(--cs-padding,16px);border:1px solid var(--cs-border,#d0d7de);border-radius:var(--cs-radius,8px);max-width:var(--cs-max-width,46em);text-align:start}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
h2{font-size:1.35em;margin:0 0 .3em;font-weight:700}h3{font-size:1em;margin:0;font-weight:700}h4{font-size:.95em;margin:.6em 0 .2em}
p{margin:.25em 0}ol,ul{margin:0;padding:0;list-style:none}
button,input,textarea{font:inherit;color:inherit;letter-spacing:normal;text-transform:none;margin:0}
button{cursor:pointer;background:var(--cs-surface,#f6f8fa);border:1px solid var(--cs-border,#8c959f);border-radius:var(--cs-radius,6px);padding:.3em .7em;min-height:2.2em;color:var(--cs-text,#1f2328)}
button:disabled{cursor:not-allowed;opacity:.6}
button[aria-pressed=true]{background:var(--cs-accent,#1a7f37);border-color:var(--cs-accent,#1a7f37);color:var(--cs-accent-text,#fff);font-weight:700}
input,textarea{background:var(--cs-input-bg,#fff);border:1px solid var(--cs-border,#8c959f);border-radius:var(--cs-radius,6px);padding:.35em .5em;width:100%}
textarea{min-height:5em;resize:vertical}
input[type=checkbox]{width:1.2em;height:1.2em;vertical-align:middle}
input[type=number]{width:5em}
:focus-visible{outline:3px solid var(--cs-focus,#0969da);outline-offset:2px}
[aria-invalid=true]{border-color:var(--cs-danger,#cf222e);border-width:2px}
.muted,.meta{color:var(--cs-muted,#57606a);font-size:.9em}
.row{display:flex;flex-wrap:wrap;gap:.4em;align-items:center}
.me{display:flex;flex-wrap:wrap;gap:.3em 1em;align-items:center;background:var(--cs-surface,#f6f8fa);border-radius:var(--cs-radius,6px);padding:.5em .7em;margin:.5em 0}
progress{width:8em;height:.7em;accent-color:var(--cs-accent,#1a7f37)}
.tabs{display:flex;flex-wrap:wrap;gap:.3em;margin:.6em 0}
.notice{min-height:1.4em;margin:.4em 0;font-weight:600}
.notice:not(:empty){background:var(--cs-notice-bg,#fff8c5);border-left:4px solid var(--cs-notice-border,#9a6700);padding:.3em .6em}
.idea{display:flex;gap:.8em;padding:.7em 0;border-bottom:1px solid var(--cs-border,#d0d7de)}
.acts{display:flex;flex-direction:column;align-items:center;gap:.2em;width:9.5em;flex:none}
.net{font-size:1.2em;font-weight:700}
.up::before{content:"▲ "/""}.down::before{content:"▼ "/""}.up[aria-pressed=true]::before{content:"▲ ✓ "/""}.down[aria-pressed=true]::before{content:"▼ ✓ "/""}
.stars{display:flex;gap:.1em;justify-content:center}
.stars button{padding:.1em .3em;min-width:0}
.search input{flex:1;width:auto}
.txt{flex:1;min-width:0;overflow-wrap:anywhere}
.open{background:none;border:0;padding:0;text-align:start;font-weight:700;text-decoration:underline;min-height:0}
.status{display:inline-block;font-size:.8em;border:1px solid currentColor;border-radius:1em;padding:0 .5em;margin-inline-start:.4em;color:var(--cs-muted,#57606a)}
.pledge{margin-top:.4em}
.detail{margin-top:.5em;padding:.5em .7em;background:var(--cs-surface,#f6f8fa);border-radius:var(--cs-radius,6px)}
.resp{border-left:4px solid var(--cs-accent,#1a7f37);padding-left:.5em;margin:.3em 0}
.comment{margin:.4em 0;padding-left:.6em;border-left:2px solid var(--cs-border,#d0d7de)}
form{display:flex;flex-direction:column;gap:.45em;margin-top:.8em}
label{display:flex;flex-direction:column;gap:.2em;font-weight:600}
label.check{flex-direction:row;align-items:flex-start;font-weight:400}
.similar{background:var(--cs-notice-bg,#fff8c5);padding:.4em .6em;border-radius:var(--cs-radius,6px)}
.similar button{margin:.15em 0}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (pointer:coarse),(max-width:600px){button,.stars button,input:not([type=checkbox]),textarea{min-height:44px;min-width:44px}input[type=checkbox]{width:28px;height:28px;margin:8px}.open{min-height:44px}.idea{flex-direction:column}.acts{flex-direction:row;flex-wrap:wrap;width:auto}}
`;

  // ---- helpers -------------------------------------------------------------------------------
  function h(tag, props, kids) {
    const node = document.createElement(tag);
    for (const name in props || {}) {
      const value = props[name];
      if (value == null || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const kid of kids || []) if (kid) node.append(kid);
    return node;
  }
  const fill = (s, p) => s.replace(/\{(\w+)\}/g, (_, k) => (p && p[k] != null ? p[k] : ""));
  function tokenExpiry(jwt) {
    try {
      const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part)).exp || 0;
    } catch (e) {
      return 0;
    }
  }
  class GqlError extends Error {
    constructor(message, code, extra) {
      super(message);
      this.code = code;
      this.extra = extra || {};
    }
  }

  class CosourceIdeas extends HTMLElement {
    static get observedAttributes() {
      return ["campaign", "key", "token", "lang", "order", "api"];
    }

    constructor() {
      super();
      this._root = this.attachShadow({ mode: "open" });
      this._hashes = {};
      this._rows = new Map(); // idea id -> row (keyed, updated in place)
      this._ideas = new Map();
      this._order = "TOP";
      this._search = "";
      this._cursor = null;
      this._token = null;
      this._tokenExp = 0;
      this._getToken = null;
      this._viewer = null;
      this._campaign = null;
      this._liveGen = 0;
      this._seen = new Set(); // ideas reported as shown in this page view
      this._unsent = new Set();
    }

    // Hosts set this to a function returning (a promise of) a member JWT, or null for guests.
    get getToken() {
      return this._getToken;
    }
    set getToken(fn) {
      this._getToken = fn;
      this.refresh();
    }

    connectedCallback() {
      if (!this._built) this._build();
      this._order = this.getAttribute("order") || this._order;
      this.refresh();
    }
    disconnectedCallback() {
      this._stopLive();
    }
    attributeChangedCallback(name, old, value) {
      if (!this._built || old === value) return;
      if (name === "lang") this._relabel();
      else this.refresh();
    }

    /** Forget the cached token and read everything again (the host's user changed). */
    refresh() {
      if (!this._built || !this.isConnected) return;
      clearTimeout(this._refreshTimer);
      // Hosts usually set getToken in a script after the element: wait for the page's scripts.
      const start = () => (this._refreshTimer = setTimeout(() => this._load(), 0));
      if (document.readyState === "loading") {
        if (!this._waiting) document.addEventListener("DOMContentLoaded", () => { this._waiting = false; start(); }, { once: true });
        this._waiting = true;
      } else start();
      this._token = null;
      this._tokenExp = 0;
      this.dataset.state = "loading";
    }

    get _api() {
      return this.getAttribute("api") || DEFAULT_API;
    }
    get _lang() {
      const own = this.getAttribute("lang") || (this.closest("[lang]") || document.documentElement).getAttribute("lang") || navigator.language || "en";
      return own.toLowerCase().startsWith("ko") ? "ko" : "en";
    }
    _t(key, params) {
      const words = WORDS[this._lang];
      let s = key.split(".").reduce((o, k) => (o ? o[k] : undefined), words);
      if (s === undefined) s = key.split(".").reduce((o, k) => (o ? o[k] : undefined), WORDS.en);
      if (Array.isArray(s)) {
        const rule = new Intl.PluralRules(this._lang).select((params && params.n0) || 0);
        s = s.length > 1 && rule !== "one" ? s[1] : s[0];
      }
      return fill(s || key, params);
    }
    _num(n) {
      return new Intl.NumberFormat(this._lang).format(n);
    }
    _date(iso) {
      return new Intl.DateTimeFormat(this._lang, { dateStyle: "medium" }).format(new Date(iso));
    }
    _count(key, n) {
      return this._t(key, { n: this._num(n), n0: n });
    }

    // ---- transport -------------------------------------------------------------------------
    async _tokenNow(force) {
      const now = Date.now() / 1000;
      if (!force && this._token && (!this._tokenExp || this._tokenExp - 30 > now)) return this._token;
      let jwt = this.getAttribute("token");
      if (this._getToken) jwt = await this._getToken();
      this._token = jwt || null;
      this._tokenExp = jwt ? tokenExpiry(jwt) : 0;
      return this._token;
    }

    async _headers(force) {
      const headers = { "x-cosource-key": this.getAttribute("key") || "" };
      const jwt = await this._tokenNow(force);
      if (jwt) headers.authorization = "Bearer " + jwt;
      return headers;
    }

    async _send(doit, retried) {
      let response;
      try {
        response = await doit(await this._headers(retried));
      } catch (e) {
        throw new GqlError(this._t("err.NETWORK"), "NETWORK");
      }
      if (response.status === 304) return null;
      let body;
      try {
        body = await response.json();
      } catch (e) {
        throw new GqlError(this._t("err.NETWORK"), "NETWORK");
      }
      const error = body.errors && body.errors[0];
      if (error) {
        const code = (error.extensions || {}).code;
        // An expired or revoked member token: ask the host for a fresh one, once.
        if (code === "UNAUTHENTICATED" && this._token && !retried) return this._send(doit, true);
        if (code === "PERSISTED_QUERY_NOT_FOUND") return { missing: true };
        throw new GqlError(error.message, code, error.extensions);
      }
      return { data: body.data, etag: response.headers.get("etag") };
    }

    _post(query, variables) {
      return this._send((headers) =>
        fetch(this._api, {
          method: "POST",
          headers: Object.assign({ "content-type": "application/json" }, headers),
          body: JSON.stringify({ query, variables }),
        })
      ).then((r) => r.data);
    }

    // Reads are persisted-query GETs: anonymous ones come from Cosource's result cache (and any CDN)
    // with ETags; `etag` asks for a 304 (returns null) when nothing changed.
    async _read(query, variables, etag) {
      const hash = this._hashes[query] || (this._hashes[query] = sha256(query));
      const name = /^\w+ (\w+)/.exec(query)[1];
      const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
      const url = this._api + "?operationName=" + name + "&variables=" + encodeURIComponent(JSON.stringify(variables)) + "&extensions=" + encodeURIComponent(JSON.stringify(extensions));
      let result = await this._send((headers) => {
        if (etag) headers["if-none-match"] = etag;
        return fetch(url, { headers, cache: "no-store" });
      });
      if (result && result.missing) {
        result = await this._send((headers) =>
          fetch(this._api, {
            method: "POST",
            headers: Object.assign({ "content-type": "application/json" }, headers),
            body: JSON.stringify({ query, variables, extensions, operationName: name }),
          })
        );
      }
      return result;
    }

    // ---- building (once) ---------------------------------------------------------------------
    _build() {
      this._built = true;
      const $ = (this.$ = {});
      $.title = h("h2", { part: "title" });
      $.desc = h("p", { class: "desc" });
      $.contest = h("div", { class: "contest", part: "contest", hidden: true });
      $.me = h("div", { class: "me", part: "member", hidden: true });
      $.signIn = h("p", { class: "signin muted", hidden: true });
      $.closed = h("p", { class: "closed", hidden: true });
      $.tabs = h("div", { class: "tabs", role: "group", part: "tabs" });
      $.tabButtons = {};
      for (const order of ["TOP", "HOT", "NEW", "DISCOVER", "PLEDGES"]) {
        $.tabButtons[order] = h("button", { type: "button", part: "tab", "data-order": order, onclick: () => this._setOrder(order) });
        $.tabs.append($.tabButtons[order]);
      }
      $.searchInput = h("input", { type: "search", name: "q", part: "input" });
      $.searchLabel = h("span");
      $.searchButton = h("button", { type: "submit", part: "button" });
      $.searchForm = h("form", { role: "search", class: "search", onsubmit: (e) => { e.preventDefault(); this._setSearch($.searchInput.value.trim()); } }, [
        h("label", {}, [$.searchLabel, h("div", { class: "row" }, [$.searchInput, $.searchButton])]),
      ]);
        $.total = h("p", { class: "total muted" });
      $.list = h("ol", { class: "list", part: "list" });
      $.more = h("button", { type: "button", class: "more", part: "button more", hidden: true, onclick: () => this._loadMore() });
      $.notice = h("p", { class: "notice", role: "status", "aria-live": "polite", part: "notice" });
      $.form = this._buildForm();
      $.error = h("p", { class: "error", role: "alert", hidden: true });
      $.main = h("div", { class: "body" }, [$.contest, $.me, $.signIn, $.closed, $.tabs, $.searchForm, $.total, $.list, $.more, $.form]);
      const wrap = h("div", { class: "w", part: "container" }, [$.title, $.desc, $.notice, $.error, $.main]);
      // A constructed stylesheet passes storefronts' strict CSPs (no inline <style> needed).
      try {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(STYLE);
        this._root.adoptedStyleSheets = [sheet];
      } catch (e) {
        this._root.append(h("style", { text: STYLE }));
      }
      this._root.append(wrap);
      this._relabel();
    }

    _buildForm() {
      const $ = this.$;
      $.fTitle = h("input", { name: "title", maxlength: "140", required: true, part: "input", "aria-describedby": "cs-similar" });
      $.fBody = h("textarea", { name: "body", maxlength: "10000", required: true, part: "input" });
      $.fTerms = h("input", { type: "checkbox", name: "terms" });
      $.fTermsText = h("span");
      $.fTermsRow = h("label", { class: "check" }, [$.fTerms, $.fTermsText]);
      $.fTitleLabel = h("span");
      $.fBodyLabel = h("span");
      $.fSubmit = h("button", { type: "submit", part: "button submit" });
      $.fHeading = h("h3");
      $.similar = h("div", { class: "similar", id: "cs-similar", hidden: true, "aria-live": "polite" });
      const typed = () => {
        clearTimeout(this._similarTimer);
        this._similarTimer = setTimeout(() => this._similarIdeas(), 350);
      };
      $.fTitle.addEventListener("input", typed);
      $.fBody.addEventListener("input", typed);
      return h("form", { class: "submit", part: "form", hidden: true, onsubmit: (e) => { e.preventDefault(); this._submit(); } }, [
        $.fHeading,
        h("label", {}, [$.fTitleLabel, $.fTitle]),
        $.similar,
        h("label", {}, [$.fBodyLabel, $.fBody]),
        $.fTermsRow,
        h("div", {}, [$.fSubmit]),
      ]);
    }

    // Words that do not depend on data; called again when `lang` changes.
    _relabel() {
      const $ = this.$;
      $.tabs.setAttribute("aria-label", this._t("order"));
      for (const order in $.tabButtons) $.tabButtons[order].textContent = this._t(order);
      $.searchLabel.textContent = this._t("search");
      $.searchButton.textContent = this._t("searchGo");
      $.more.textContent = this._t("more");
      $.signIn.textContent = this._t("signIn");
      $.closed.textContent = this._t("closed");
      $.fHeading.textContent = this._t("newIdea");
      $.fTitleLabel.textContent = this._t("title");
      $.fBodyLabel.textContent = this._t("body");
      $.fSubmit.textContent = this._t("submit");
      this._root.querySelector(".w").setAttribute("lang", this._lang);
      if (this._campaign) this._paintCampaign();
      for (const [id, row] of this._rows) this._paintRow(row, this._ideas.get(id));
      this._paintViewer();
    }

    // ---- loading -----------------------------------------------------------------------------
    async _load() {
      const slug = this.getAttribute("campaign");
      this.dataset.state = "loading";
      this._stopLive();
      try {
        const jwt = await this._tokenNow(false);
        const [campaign, viewer] = await Promise.all([
          this._read(Q_CAMPAIGN, { slug }),
          jwt ? this._read(Q_VIEWER, {}) : Promise.resolve(null),
        ]);
        this._campaign = campaign.data.campaign;
        this._viewer = viewer ? viewer.data.viewer : null;
        if (!this._campaign) throw new GqlError(this._t("notFound"), "NOT_FOUND");
        this.$.error.hidden = true;
        this.$.main.hidden = false;
        this._paintCampaign();
        this._paintViewer();
        await this._loadIdeas(false);
        this._startLive();
      } catch (e) {
        this.$.main.hidden = !!(e.code === "NOT_FOUND" || !this._campaign);
        this._say(e);
        if (!this._campaign) {
          this.$.error.hidden = false;
          this.$.error.textContent = e.code === "NOT_FOUND" ? this._t("notFound") : this._message(e);
          this.$.notice.textContent = "";
        }
      }
      this.dataset.state = "ready";
    }

    async _loadIdeas(append) {
      const variables = { id: this._campaign.id, order: this._order, search: this._search || null, first: Number(this.getAttribute("page-size")) || 10, after: append ? this._cursor : null };
      const result = await this._read(Q_IDEAS, variables);
      const page = result.data.ideas;
      if (!append) {
        this._rows.forEach((row) => {
          row.li.remove();
          if (this._observer) this._observer.unobserve(row.li);
        });
        this._rows.clear();
        this._ideas.clear();
      }
      for (const edge of page.edges) this._upsert(edge.node, false);
      this._cursor = page.pageInfo.endCursor;
      this._total = page.totalCount;
      this.$.more.hidden = !page.pageInfo.hasNextPage;
      this._paintTotal();
    }

    async _loadMore() {
      this.dataset.state = "loading";
      try {
        await this._loadIdeas(true);
      } catch (e) {
        this._say(e);
      }
      this.dataset.state = "ready";
    }

    _setOrder(order) {
      if (order === this._order) return;
      this._order = order;
      this._reloadList();
    }
    _setSearch(text) {
      this._search = text;
      this._reloadList();
    }
    async _reloadList() {
      this.dataset.state = "loading";
      this._paintTabs();
      try {
        await this._loadIdeas(false);
      } catch (e) {
        this._say(e);
      }
      this.dataset.state = "ready";
    }

    // ---- painting ------------------------------------------------------------------------------
    _paintCampaign() {
      const c = this._campaign;
      const $ = this.$;
      const contest = c.mode === "CONTEST";
      $.title.textContent = c.title;
      $.desc.textContent = c.description;
      $.tabButtons.PLEDGES.hidden = !contest;
      $.contest.hidden = !contest;
      if (contest) {
        const parts = [];
        if (c.terms) parts.push(h("p", {}, [h("strong", { text: this._t("rules") + ": " }), c.terms.text]));
        if (c.rewards) parts.push(h("p", {}, [h("strong", { text: this._t("rewards") + ": " }), c.rewards]));
        if (c.closesAt) parts.push(h("p", { class: "muted", text: this._t("closes", { d: this._date(c.closesAt) }) }));
        $.contest.replaceChildren(...parts);
      }
      $.closed.hidden = c.isOpen;
      $.form.hidden = !c.isOpen;
      $.fTermsRow.hidden = !c.terms;
      if (c.terms) $.fTermsText.textContent = " " + this._t("terms", { t: c.terms.text });
      this._paintTabs();
    }

    _paintTabs() {
      for (const order in this.$.tabButtons) this.$.tabButtons[order].setAttribute("aria-pressed", String(order === this._order));
    }

    _paintTotal() {
      this.$.total.textContent = this._total ? this._count("ideas", this._total) : this._t("none");
    }

    _paintViewer() {
      const $ = this.$;
      if (!$) return;
      const v = this._viewer;
      $.signIn.hidden = !!v || !this._campaign || !this._campaign.isOpen;
      $.me.hidden = !v;
      if (!v) return;
      const level = v.level;
      const kids = [
        h("strong", { class: "name", text: v.displayName }),
        h("span", { class: "points", text: this._count("points", v.reputation) }),
        h("span", { class: "level", text: this._t("level", { n: this._num(level.number), l: level.name }) }),
      ];
      if (level.nextThreshold != null) {
        const pct = new Intl.NumberFormat(this._lang, { style: "percent" }).format(level.progress);
        const label = this._t("toNext", { p: pct });
        kids.push(h("span", { class: "row" }, [h("progress", { max: "1", value: String(level.progress), "aria-label": label }), h("span", { class: "muted", text: label })]));
      } else {
        kids.push(h("span", { class: "muted", text: this._t("topLevel") }));
      }
      const badge = v.badges[v.badges.length - 1];
      if (badge) kids.push(h("span", { class: "badge", part: "badge", text: this._t("badge", { b: badge.name }) }));
      $.me.replaceChildren(...kids);
    }

    _upsert(idea, atTop) {
      this._ideas.set(idea.id, idea);
      let row = this._rows.get(idea.id);
      if (!row) {
        row = this._buildRow(idea);
        this._rows.set(idea.id, row);
        if (atTop) this.$.list.prepend(row.li);
        else this.$.list.append(row.li);
        this._observe(row);
      }
      this._paintRow(row, idea);
      return row;
    }

    _buildRow(idea) {
      const id = idea.id;
      const row = { id };
      const contest = this._campaign.mode === "CONTEST";
      row.title = h("button", { type: "button", class: "open", "aria-expanded": "false", onclick: () => this._toggleDetail(row) });
      row.status = h("span", { class: "status" });
      row.body = h("p", { class: "body" });
      row.meta = h("p", { class: "meta" });
      const acts = [];
      if (contest) {
        row.stars = [];
        row.starGroup = h("div", { class: "stars", role: "group", part: "score" });
        for (let s = 1; s <= 5; s++) {
          const star = h("button", { type: "button", "data-score": String(s), onclick: () => this._act(M_SCORE, { i: id, s }, "scored", star) });
          row.stars.push(star);
          row.starGroup.append(star);
        }
        row.avg = h("span", { class: "avg muted" });
        acts.push(row.starGroup, row.avg);
      } else {
        row.up = h("button", { type: "button", class: "up", part: "vote", onclick: () => this._vote(row, "UP") });
        row.net = h("span", { class: "net" });
        row.down = h("button", { type: "button", class: "down", part: "vote", onclick: () => this._vote(row, "DOWN") });
        acts.push(row.up, row.net, row.down);
      }
      row.qtyLabel = h("span", { class: "vh" });
      row.qty = h("input", { type: "number", min: "1", max: "1000", value: "1", name: "quantity", part: "input" });
      row.pledgeBtn = h("button", { type: "button", class: "pledge-btn", part: "pledge", onclick: () => this._pledge(row) });
      row.withdraw = h("button", { type: "button", class: "withdraw", part: "button", onclick: () => this._confirmWithdraw(row, true) });
      row.confirmText = h("span", { role: "alert" });
      row.confirmYes = h("button", { type: "button", class: "confirm-yes", part: "button", onclick: () => this._withdraw(row) });
      row.confirmNo = h("button", { type: "button", class: "confirm-no", part: "button", onclick: () => this._confirmWithdraw(row, false) });
      row.confirm = h("span", { class: "row confirm", hidden: true }, [row.confirmText, row.confirmYes, row.confirmNo]);
      row.pledge = h("div", { class: "pledge row" }, [h("label", { class: "row" }, [row.qtyLabel, row.qty]), row.pledgeBtn, row.withdraw, row.confirm]);
      row.detail = h("div", { class: "detail", part: "detail", hidden: true });
      row.heading = h("h3", {}, [row.title]);
      row.li = h("li", { class: "idea", part: "idea", "data-id": id }, [
        h("div", { class: "acts" }, acts),
        h("div", { class: "txt" }, [h("div", { class: "row" }, [row.heading, row.status]), row.body, row.meta, row.pledge, row.detail]),
      ]);
      return row;
    }

    _paintRow(row, idea) {
      if (!idea) return;
      const c = idea.counts;
      const open = this._campaign.isOpen && !idea.frozen;
      row.title.textContent = idea.title;
      row.status.textContent = this._t("status." + idea.status);
      row.body.textContent = idea.body;
      const meta = [this._t("by", { a: idea.author.displayName }), this._date(idea.createdAt)];
      if (this._campaign.mode === "CONTEST") {
        row.starGroup.setAttribute("aria-label", this._t("scoreGroup", { t: idea.title }));
        row.stars.forEach((star, i) => {
          const on = idea.viewerScore != null && i < idea.viewerScore;
          star.textContent = on ? "★" : "☆";
          star.setAttribute("aria-label", this._t("scoreN", { n: i + 1 }));
          star.setAttribute("aria-pressed", String(idea.viewerScore === i + 1));
          star.disabled = !open;
        });
        // While a contest is open the API hides the average from guests and from members who have
        // not scored the idea (averageScore null, scoreCount public): say so, not "no scores".
        row.avg.textContent = c.averageScore == null ? (c.scoreCount ? this._count("scoresHidden", c.scoreCount) : this._t("noScores")) : this._t("avg", { a: new Intl.NumberFormat(this._lang, { maximumFractionDigits: 1, minimumFractionDigits: 1 }).format(c.averageScore), n: this._num(c.scoreCount) });
      } else {
        const up = idea.viewerVote === "UP";
        const down = idea.viewerVote === "DOWN";
        row.up.textContent = this._t(up ? "upOn" : "up"); // the arrow and check are CSS (silent)
        row.up.setAttribute("aria-pressed", String(up));
        row.up.setAttribute("aria-label", this._t(up ? "upOn" : "up") + ": " + idea.title);
        row.down.textContent = this._t(down ? "downOn" : "down");
        row.down.setAttribute("aria-pressed", String(down));
        row.down.setAttribute("aria-label", this._t(down ? "downOn" : "down") + ": " + idea.title);
        row.up.disabled = row.down.disabled = !open;
        row.net.textContent = this._num(c.netVotes);
        row.net.setAttribute("title", this._t("net"));
        meta.push(this._t("upDown", { u: this._num(c.upvotes), d: this._num(c.downvotes) }));
      }
      meta.push(this._t("pledged", { n: this._num(c.pledgedQuantity) }), this._count("comments", c.comments));
      row.meta.textContent = meta.join(" · ");
      const pledged = idea.viewerPledge;
      row.qtyLabel.textContent = this._t("qty") + ": " + idea.title;
      if (pledged && this._root.activeElement !== row.qty) row.qty.value = String(pledged);
      row.pledgeBtn.textContent = pledged ? this._t("change") : this._t("pledge");
      row.pledgeBtn.setAttribute("aria-pressed", String(!!pledged));
      row.pledgeBtn.setAttribute("aria-label", (pledged ? this._t("youPledged", { n: this._num(pledged) }) + ". " + this._t("change") : this._t("pledge")) + ": " + idea.title);
      row.withdraw.hidden = !pledged || !row.confirm.hidden;
      row.withdraw.textContent = this._t("withdraw");
      row.confirmText.textContent = this._t("confirmWithdraw");
      row.confirmYes.textContent = this._t("yes");
      row.confirmNo.textContent = this._t("no");
      row.qty.disabled = row.pledgeBtn.disabled = row.withdraw.disabled = !open;
      row.pledge.dataset.pledged = String(pledged);
      row.title.setAttribute("aria-label", idea.title + " — " + this._t(row.detail.hidden ? "details" : "hide"));
    }

    // Impressions: an idea counts as shown once half of its row was on screen (feeds DISCOVER's
    // exploration and the brand's exposure insights); reported in batches.
    _observe(row) {
      if (!window.IntersectionObserver) return;
      if (!this._observer) {
        this._observer = new IntersectionObserver((entries) => {
          for (const entry of entries) {
            const id = entry.target.dataset.id;
            if (!entry.isIntersecting || this._seen.has(id)) continue;
            this._seen.add(id);
            this._unsent.add(id);
            this._observer.unobserve(entry.target);
          }
          if (this._unsent.size && !this._seenTimer) this._seenTimer = setTimeout(() => this._sendSeen(), 2000);
        }, { threshold: 0.5 });
      }
      if (!this._seen.has(row.id)) this._observer.observe(row.li);
    }
    _sendSeen() {
      this._seenTimer = null;
      const ids = [...this._unsent].slice(0, 100);
      ids.forEach((id) => this._unsent.delete(id));
      if (ids.length) this._post(M_SEEN, { ids }).catch(() => {});
      if (this._unsent.size) this._seenTimer = setTimeout(() => this._sendSeen(), 2000);
    }

    // ---- actions -------------------------------------------------------------------------------
    _message(e) {
      if (e.code === "RATE_LIMITED") return this._t("err.RATE_LIMITED", { s: e.extra.retryAfter || 60 });
      const known = WORDS.en.err[e.code];
      return known ? this._t("err." + e.code) : e.message;
    }
    _say(e) {
      this.$.notice.textContent = typeof e === "string" ? e : this._message(e);
    }

    // Runs a mutation; on success the idea row is repainted in place. Returns the payload or null.
    async _act(query, variables, okKey, busy) {
      if (busy) busy.setAttribute("aria-busy", "true");
      this.dataset.state = "loading";
      let payload = null;
      try {
        const data = await this._post(query, variables);
        payload = data.r;
        const error = payload.userErrors[0];
        if (error) {
          this._say(new GqlError(error.message, error.code));
          payload.failed = error;
        } else {
          if (payload.idea) this._upsert(payload.idea, !this._rows.has(payload.idea.id));
          if (okKey) this._say(this._t(okKey));
          this._refreshViewerSoon();
        }
      } catch (e) {
        this._say(e);
        payload = { failed: e };
      }
      if (busy) busy.removeAttribute("aria-busy");
      this.dataset.state = "ready";
      return payload;
    }

    _vote(row, value) {
      const current = this._ideas.get(row.id).viewerVote;
      const next = current === value ? "NONE" : value;
      this._act(M_VOTE, { i: row.id, v: next }, next === "NONE" ? "retracted" : "voted", value === "UP" ? row.up : row.down);
    }

    _pledge(row) {
      const q = Math.max(1, Math.min(1000, parseInt(row.qty.value, 10) || 1));
      this._act(M_PLEDGE, { i: row.id, q }, "pledgedOk", row.pledgeBtn);
    }
    _confirmWithdraw(row, show) {
      row.confirm.hidden = !show;
      row.withdraw.hidden = show;
      (show ? row.confirmNo : row.withdraw).focus();
    }
    async _withdraw(row) {
      await this._act(M_PLEDGE, { i: row.id, q: 0 }, "withdrawn", row.confirmYes);
      row.confirm.hidden = true;
      row.withdraw.hidden = true;
      row.pledgeBtn.focus();
      this._paintRow(row, this._ideas.get(row.id));
    }

    async _submit() {
      const $ = this.$;
      const c = this._campaign;
      const input = { campaignId: c.id, title: $.fTitle.value, body: $.fBody.value };
      if (c.terms && $.fTerms.checked) input.acceptedTermsVersion = c.terms.version;
      [$.fTitle, $.fBody, $.fTerms].forEach((f) => f.removeAttribute("aria-invalid"));
      const payload = await this._act(M_SUBMIT, { input }, "thanks", $.fSubmit);
      const failed = payload && payload.failed;
      if (failed) {
        const field = failed.field === "title" ? $.fTitle : failed.field === "body" ? $.fBody : /TERMS/.test(failed.code || "") ? $.fTerms : null;
        if (field) field.setAttribute("aria-invalid", "true");
        return;
      }
      $.fTitle.value = $.fBody.value = "";
      $.fTerms.checked = false;
      $.similar.hidden = true;
    }

    async _similarIdeas() {
      const $ = this.$;
      const text = ($.fTitle.value + " " + $.fBody.value).trim();
      if (text.length < 4 || !this._campaign) {
        $.similar.hidden = true;
        return;
      }
      let found = [];
      try {
        const result = await this._read(Q_SIMILAR, { id: this._campaign.id, text });
        found = result.data.similarIdeas;
      } catch (e) {
        return;
      }
      if (!found.length) {
        $.similar.hidden = true;
        return;
      }
      const contest = this._campaign.mode === "CONTEST";
      const items = found.map((s) => {
        const label = this._t(contest ? "show" : "voteFor", { t: s.idea.title });
        return h("li", {}, [h("button", { type: "button", part: "button", "data-id": s.idea.id, text: label, onclick: () => this._suggested(s.idea.id, contest) })]);
      });
      $.similar.replaceChildren(h("p", { text: this._t("similar") }), h("ul", {}, items));
      $.similar.hidden = false;
    }

    async _suggested(id, contest) {
      if (!contest) {
        const payload = await this._act(M_VOTE, { i: id, v: "UP" }, "voted");
        if (payload && payload.failed) return;
      }
      const row = this._rows.get(id);
      if (row) {
        row.li.scrollIntoView({ block: "center" });
        if (contest) row.title.focus();
      }
    }

    // ---- detail: official responses and threaded comments -----------------------------------
    async _toggleDetail(row) {
      const opening = row.detail.hidden;
      row.detail.hidden = !opening;
      row.title.setAttribute("aria-expanded", String(opening));
      this._paintRow(row, this._ideas.get(row.id));
      if (opening) await this._loadDetail(row, false);
    }

    async _loadDetail(row, more) {
      this.dataset.state = "loading";
      try {
        const result = await this._read(Q_DETAIL, { id: row.id, after: more ? row.commentCursor : null });
        const idea = result.data.idea;
        if (!more) this._buildDetail(row, idea.responses);
        for (const edge of idea.comments.edges) this._addComment(row, edge.node);
        row.commentCursor = idea.comments.pageInfo.endCursor;
        row.moreComments.hidden = !idea.comments.pageInfo.hasNextPage;
        row.noComments.hidden = row.comments.children.length > 0;
      } catch (e) {
        this._say(e);
      }
      this.dataset.state = "ready";
    }

    _buildDetail(row, responses) {
      const kids = [];
      if (responses.length) {
        kids.push(h("h4", { text: this._t("responses") }));
        for (const r of responses) {
          kids.push(h("div", { class: "resp", part: "response" }, [h("strong", { text: this._t("status." + r.toStatus) }), h("span", { class: "muted", text: " · " + this._date(r.createdAt) }), r.note ? h("p", { text: r.note }) : null]));
        }
      }
      row.comments = h("ol", { class: "comments" });
      row.commentById = new Map();
      row.noComments = h("p", { class: "muted", text: this._t("noComments") });
      row.moreComments = h("button", { type: "button", part: "button", hidden: true, text: this._t("moreComments"), onclick: () => this._loadDetail(row, true) });
      kids.push(h("h4", { text: this._count("comments", this._ideas.get(row.id).counts.comments) }), row.noComments, row.comments, row.moreComments);
      if (this._campaign.isOpen) {
        row.replyTo = null;
        row.cText = h("textarea", { name: "comment", maxlength: "5000", required: true, part: "input" });
        row.cLabel = h("span", { text: this._t("comment") });
        row.cCancel = h("button", { type: "button", part: "button", hidden: true, text: this._t("cancel"), onclick: () => this._reply(row, null) });
        row.cSubmit = h("button", { type: "submit", part: "button", text: this._t("post") });
        kids.push(h("form", { class: "comment-form", onsubmit: (e) => { e.preventDefault(); this._comment(row); } }, [h("label", {}, [row.cLabel, row.cText]), h("div", { class: "row" }, [row.cSubmit, row.cCancel])]));
      }
      row.detail.replaceChildren(...kids);
    }

    _addComment(row, c) {
      if (row.commentById.has(c.id)) return;
      const replyBtn = this._campaign.isOpen ? h("button", { type: "button", class: "reply", part: "button", text: this._t("reply"), "aria-label": this._t("replyAria", { a: c.author.displayName }), onclick: () => this._reply(row, c) }) : null;
      const li = h("li", { class: "comment", part: "comment", "data-id": c.id }, [
        h("p", { class: "meta", text: c.author.displayName + " · " + this._date(c.createdAt) }),
        h("p", { class: "cbody", text: c.body }),
        replyBtn,
      ]);
      li.style.marginInlineStart = Math.min(c.depth, 6) * 1.2 + "em";
      li._replies = [];
      const parent = c.parentId && row.commentById.get(c.parentId);
      if (parent) {
        // Threads: a reply goes after its parent's last descendant.
        let after = parent;
        while (after._replies.length) after = after._replies[after._replies.length - 1];
        after.after(li);
        parent._replies.push(li);
      } else {
        row.comments.append(li);
      }
      row.commentById.set(c.id, li);
    }

    _reply(row, c) {
      row.replyTo = c ? c.id : null;
      row.cLabel.textContent = c ? this._t("replyTo", { a: c.author.displayName }) : this._t("comment");
      row.cCancel.hidden = !c;
      row.cText.focus();
    }

    async _comment(row) {
      const input = { ideaId: row.id, body: row.cText.value, parentId: row.replyTo };
      row.cText.removeAttribute("aria-invalid");
      const payload = await this._act(M_COMMENT, { input }, "posted", row.cSubmit);
      if (!payload || payload.failed) {
        row.cText.setAttribute("aria-invalid", "true");
        return;
      }
      this._addComment(row, payload.comment);
      row.noComments.hidden = true;
      row.cText.value = "";
      this._reply(row, null);
    }

    // ---- live counts: graphql-transport-ws, else polling with ETags ---------------------------
    _startLive() {
      const gen = ++this._liveGen;
      if (!window.WebSocket || this.hasAttribute("no-websocket")) {
        this._poll(gen);
        return;
      }
      let acked = false;
      let ws;
      try {
        ws = new WebSocket(this._api.replace(/^http/, "ws"), "graphql-transport-ws");
      } catch (e) {
        this._poll(gen);
        return;
      }
      this._ws = ws;
      ws.binaryType = "arraybuffer"; // Cosource may send JSON in binary frames
      ws.onopen = async () => {
        const payload = await this._headers(false);
        ws.send(JSON.stringify({ type: "connection_init", payload }));
      };
      ws.onmessage = (event) => {
        const msg = JSON.parse(typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data));
        if (msg.type === "connection_ack") {
          acked = true;
          this.dataset.live = "websocket";
          ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: S_LIVE, variables: { id: this._campaign.id } } }));
        } else if (msg.type === "ping") {
          ws.send(JSON.stringify({ type: "pong" }));
        } else if (msg.type === "next" && msg.payload.data) {
          this._live(msg.payload.data.ideaUpdated);
        } else if (msg.type === "error" || msg.type === "complete") {
          ws.close(); // the subscription was refused or ended: poll instead
        }
      };
      ws.onclose = () => {
        if (gen !== this._liveGen) return;
        this._ws = null;
        this._poll(gen);
        // Try the socket again later; polling carries on meanwhile.
        this._retryTimer = setTimeout(() => gen === this._liveGen && this._startLive(), acked ? 5000 : 60000);
      };
    }

    _stopLive() {
      this._liveGen++;
      clearTimeout(this._pollTimer);
      clearTimeout(this._retryTimer);
      if (this._ws) {
        this._ws.onclose = null;
        this._ws.close();
        this._ws = null;
      }
    }

    _poll(gen) {
      this.dataset.live = "polling";
      const seconds = Number(this.getAttribute("poll-seconds")) || 15;
      clearTimeout(this._pollTimer);
      this._pollTimer = setTimeout(async () => {
        if (gen !== this._liveGen) return;
        try {
          const first = Math.min(100, Math.max(this._rows.size, 1));
          const result = await this._read(Q_IDEAS, { id: this._campaign.id, order: this._order, search: this._search || null, first, after: null }, this._pollEtag);
          if (result && gen === this._liveGen) {
            this._pollEtag = result.etag;
            for (const edge of result.data.ideas.edges) if (this._rows.has(edge.node.id)) this._live(edge.node);
            if (this._viewer) this._refreshViewerSoon();
          }
        } catch (e) {
          /* keep polling */
        }
        if (gen === this._liveGen && !this._ws) this._poll(gen);
      }, seconds * 1000);
    }

    _live(idea) {
      if (!idea || !this._campaign) return;
      const known = this._rows.has(idea.id);
      if (known || (this._order === "NEW" && !this._search)) this._upsert(idea, !known);
      if (this._viewer && idea.author.id === this._viewer.id) this._refreshViewerSoon();
    }

    // Points arrive a moment after the action (the reputation engine runs after commit).
    _refreshViewerSoon() {
      if (!this._token) return;
      clearTimeout(this._viewerTimer);
      const again = async (delays) => {
        try {
          const result = await this._read(Q_VIEWER, {});
          this._viewer = result.data.viewer;
          this._paintViewer();
        } catch (e) {
          /* keep what we had */
        }
        if (delays.length) this._viewerTimer = setTimeout(() => again(delays.slice(1)), delays[0]);
      };
      this._viewerTimer = setTimeout(() => again([2500]), 700);
    }
  }

  customElements.define("cosource-ideas", CosourceIdeas);
})();
