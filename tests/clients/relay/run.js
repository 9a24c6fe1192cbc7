#!/usr/bin/env node
/**
 * A Relay app's session against a live posts-api, with relay-runtime's own store:
 * list the caller's posts (a @connection) and their count, add a post and delete
 * one with mutations that have NO updater (@prependEdge, @deleteEdge, and the
 * payloads' viewer { posts { totalCount } }), and check after each write that
 * the store shows what the server now serves.
 *
 *   node run.js --url http://127.0.0.1:8000/graphql --token <jwt> [--documents id|text]
 *
 * Prints one JSON object (what it saw) and exits 0, or prints the failure and exits 1.
 */
"use strict";

const assert = require("node:assert/strict");
const { parseArgs } = require("node:util");
const {
  Environment,
  Network,
  RecordSource,
  Store,
  commitMutation,
  createOperationDescriptor,
  fetchQuery,
  getRequest,
} = require("relay-runtime");

const { createFetchFn } = require("./src/fetchGraphQL");
const ListQuery = require("./src/__generated__/PostsAppListQuery.graphql");
const CountQuery = require("./src/__generated__/PostsAppCountQuery.graphql");
const AddPost = require("./src/__generated__/PostsAppAddPostMutation.graphql");
const DeletePost = require("./src/__generated__/PostsAppDeletePostMutation.graphql");

const PAGE = { count: 10 };

function environment(options) {
  return new Environment({
    network: Network.create(createFetchFn(options)),
    store: new Store(new RecordSource()),
  });
}

/** Fetch ``request`` and keep it in the store; the operation, to read it from there. */
async function load(env, request, variables) {
  await fetchQuery(env, request, variables, { fetchPolicy: "network-only" }).toPromise();
  const operation = createOperationDescriptor(getRequest(request), variables);
  env.retain(operation);
  return operation;
}

/** What the store holds for ``operation`` now, without the network. */
function read(env, operation) {
  const snapshot = env.lookup(operation.fragment);
  assert.equal(snapshot.isMissingData, false, "the store lacks data the operation reads");
  return snapshot.data;
}

function mutate(env, mutation, variables) {
  return new Promise((resolve, reject) => {
    commitMutation(env, {
      mutation,
      variables,
      onCompleted: (response, errors) =>
        errors && errors.length ? reject(new Error(JSON.stringify(errors))) : resolve(response),
      onError: reject,
    });
  });
}

function edges(list) {
  return list.viewer.posts.edges.map(({ cursor, node }) => ({
    cursor,
    id: node.id,
    text: node.text,
  }));
}

/** The first page as a fresh client gets it from the server. */
async function served(options) {
  const fresh = environment(options);
  return edges(read(fresh, await load(fresh, ListQuery, PAGE)));
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      token: { type: "string" },
      documents: { type: "string", default: "id" },
    },
  });
  assert.ok(values.url && values.token, "--url and --token are required");
  const options = { url: values.url, token: values.token, documents: values.documents };
  const env = environment(options);

  const list = await load(env, ListQuery, PAGE);
  const count = await load(env, CountQuery, {});
  const before = edges(read(env, list));
  const connection = read(env, list).viewer.posts.__id;
  const seen = { before, counts: [read(env, count).viewer.posts.totalCount] };

  // addPost: @prependEdge puts the payload's edge first in the list, no updater.
  const added = (await mutate(env, AddPost, { text: "from relay", connections: [connection] }))
    .addPost;
  const afterAdd = edges(read(env, list));
  assert.deepEqual(afterAdd[0], {
    cursor: added.postEdge.cursor,
    id: added.postEdge.node.id,
    text: "from relay",
  });
  assert.deepEqual(afterAdd.slice(1), before);
  assert.deepEqual(afterAdd, await served(options), "the store's list is not the server's");
  seen.added = added;
  seen.afterAdd = afterAdd;
  seen.counts.push(read(env, count).viewer.posts.totalCount);

  // deletePost: @deleteEdge takes the post out of the list by the payload's postId.
  const victim = afterAdd[afterAdd.length - 1];
  const deleted = (await mutate(env, DeletePost, { postId: victim.id, connections: [connection] }))
    .deletePost;
  assert.equal(deleted.postId, victim.id);
  const afterDelete = edges(read(env, list));
  assert.deepEqual(afterDelete, afterAdd.slice(0, -1));
  assert.deepEqual(afterDelete, await served(options), "the store's list is not the server's");
  seen.deleted = deleted;
  seen.afterDelete = afterDelete;
  seen.counts.push(read(env, count).viewer.posts.totalCount);

  process.stdout.write(`${JSON.stringify(seen)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
