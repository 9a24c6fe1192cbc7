// Starts GraphiQL on the explorer page (gql/graphiql.py). A file of its own rather
// than an inline script, so that the page's Content-Security-Policy can allow
// scripts from 'self' only. React, ReactDOM and GraphiQL are the vendored UMD
// builds loaded just before this file.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  // Plain JSON over POST to our own /graphql: the API has no @defer/@stream and no
  // subscriptions, so no multipart responses and no websocket.
  var fetcher = GraphiQL.createFetcher({ url: config.url, enableIncrementalDelivery: false });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: config.tabs,
      defaultHeaders: config.headers,
      // A token typed into the Headers tab stays in this tab's memory, never in localStorage.
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
