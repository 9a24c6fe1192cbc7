// Starts GraphiQL on the explorer page (gql/graphiql.py). A file of its own rather
// than an inline script, so that the page's Content-Security-Policy can allow
// scripts from 'self' only. React, ReactDOM and GraphiQL are the vendored UMD
// builds loaded just before this file.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  // Queries and mutations: plain JSON over POST to our own /graphql (the API has no
  // @defer/@stream, so no multipart responses).
  var http = GraphiQL.createFetcher({ url: config.url, enableIncrementalDelivery: false });

  // Whether the operation GraphiQL runs is a subscription: the named one, or the
  // document's only one (comments and strings aside, as GraphiQL's own check would).
  function isSubscription(params) {
    var source = params.query.replace(/"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*/g, " ");
    var pattern = /(?:^|[\s}])(query|mutation|subscription)\b\s*([_A-Za-z][_0-9A-Za-z]*)?/g;
    var match;
    var kinds = [];
    while ((match = pattern.exec(source)) !== null) {
      if (!params.operationName || match[2] === params.operationName) kinds.push(match[1]);
    }
    return kinds.length === 1 && kinds[0] === "subscription";
  }

  // Subscriptions: GraphQL over Server-Sent Events (graphql-sse's "distinct
  // connections" mode, a POST to /graphql), read as the events come; ends with the
  // stream's "complete", or when GraphiQL stops it.
  async function* subscribe(params, options) {
    var controller = new AbortController();
    var headers = Object.assign({}, (options && options.headers) || {}, {
      "Content-Type": "application/json",
      Accept: "text/event-stream",
    });
    try {
      var response = await fetch(config.url, {
        method: "POST",
        headers: headers,
        body: JSON.stringify(params),
        signal: controller.signal,
      });
      var type = response.headers.get("content-type") || "";
      if (type.indexOf("text/event-stream") !== 0) {
        yield await response.json(); // refused before the stream began
        return;
      }
      var reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      var buffer = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) return;
        buffer += chunk.value.replace(/\r\n/g, "\n");
        var end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          var event = "message";
          var data = "";
          buffer.slice(0, end).split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) event = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
          });
          buffer = buffer.slice(end + 2);
          if (event === "complete") return;
          if (event === "next" && data) yield JSON.parse(data);
        }
      }
    } finally {
      controller.abort();
    }
  }

  function fetcher(params, options) {
    return isSubscription(params) ? subscribe(params, options) : http(params, options);
  }

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
