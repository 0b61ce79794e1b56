// Starts the vendored GraphiQL (api/graphiql.py writes its settings into #cosource-graphiql).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("cosource-graphiql").textContent);
  var url = new URL(config.endpoint, location.href);
  var fetcher = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: url.href.replace(/^http/, "ws"),
  });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.query,
      defaultHeaders: config.headers,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
    })
  );
})();
