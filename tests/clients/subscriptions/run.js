// Subscribes to postEvents with one real client library, triggers an addPost and a
// deletePost over plain HTTP once the subscription is up, and prints what the
// client received as one JSON line (tests/integration/test_subscription_clients.py).
"use strict";
const [, , client, url, token] = process.argv;

const QUERY = `subscription {
  postEvents {
    __typename
    ... on PostAdded { post { id text } postEdge { cursor node { id } } }
    ... on PostDeleted { deletedPostId }
  }
}`;

async function gql(query, variables) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

async function writes() {
  const added = await gql('mutation { addPost(text: "from node") { postId } }');
  const postId = added.data.addPost.postId;
  await new Promise((resolve) => setTimeout(resolve, 300));
  await gql("mutation($p: ID!) { deletePost(postId: $p) { postId } }", { p: postId });
  return postId;
}

function collect(subscribe) {
  return new Promise((resolve, reject) => {
    const events = [];
    let postId;
    const timer = setTimeout(() => reject(new Error(`timed out with ${JSON.stringify(events)}`)), 20000);
    const stop = subscribe({
      next: (value) => {
        events.push(value);
        if (events.length === 2) {
          clearTimeout(timer);
          stop();
          resolve({ postId, events });
        }
      },
      error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
    });
    // The subscription is acknowledged before the first write: give the client a moment.
    setTimeout(() => writes().then((id) => { postId = id; }, reject), 1000);
  });
}

async function main() {
  let result;
  if (client === "graphql-sse") {
    const { createClient } = require("graphql-sse");
    const sse = createClient({ url, headers: { Authorization: `Bearer ${token}` }, singleConnection: false });
    result = await collect((sink) => sse.subscribe({ query: QUERY }, { ...sink, complete: () => {} }));
  } else if (client === "graphql-ws") {
    const WebSocket = require("ws");
    const { createClient } = require("graphql-ws");
    const ws = createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${token}` }, retryAttempts: 0 });
    result = await collect((sink) => ws.subscribe({ query: QUERY }, { ...sink, complete: () => {} }));
    await ws.dispose();
  } else if (client === "apollo") {
    const { ApolloClient, HttpLink, InMemoryCache, gql: parse } = require("@apollo/client/core");
    const apollo = new ApolloClient({
      link: new HttpLink({ uri: url, headers: { Authorization: `Bearer ${token}` } }),
      cache: new InMemoryCache(),
    });
    result = await collect((sink) => {
      const subscription = apollo.subscribe({ query: parse(QUERY), fetchPolicy: "no-cache" }).subscribe({
        next: (value) => sink.next(value),
        error: sink.error,
      });
      return () => subscription.unsubscribe();
    });
  } else {
    throw new Error(`unknown client ${client}`);
  }
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : String(error)}\n`);
  process.exit(1);
});
