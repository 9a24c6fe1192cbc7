/**
 * The Relay network layer's fetch function for posts-api.
 *
 * The artifacts are compiled with persistConfig (relay.config.json), so an
 * operation carries `params.id` (the SHA-256 of its text, a key of
 * persisted-queries.json) and no text. Two ways to send it:
 *
 *  - "id": `{documentId: "sha256:" + id, variables, operationName}`, the
 *    GraphQL-over-HTTP persisted-documents form: what a deployed Relay app sends
 *    to a server started with GRAPHQL_TRUSTED_DOCUMENTS=persisted-queries.json.
 *  - "text": the document's text, looked up in persisted-queries.json, as
 *    `{query, variables, operationName}`: for a server without that file.
 */
"use strict";

const persisted = require("../persisted-queries.json");

function createFetchFn({ url, token, documents = "id", fetchImpl = globalThis.fetch }) {
  if (documents !== "id" && documents !== "text") {
    throw new Error(`documents must be "id" or "text", not ${JSON.stringify(documents)}`);
  }
  return async function fetchGraphQL(params, variables) {
    const body = { variables, operationName: params.name };
    if (params.id == null) {
      body.query = params.text; // an artifact compiled without persistConfig
    } else if (documents === "id") {
      body.documentId = `sha256:${params.id}`;
    } else {
      const text = persisted[params.id];
      if (text === undefined) {
        throw new Error(`${params.name}: ${params.id} is not in persisted-queries.json`);
      }
      body.query = text;
    }
    const response = await fetchImpl(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });
    const json = await response.json();
    if (Array.isArray(json.errors) && json.errors.length > 0) {
      // Relay would store what data there is; this app treats any error as a failure.
      const error = new Error(`${params.name}: ${JSON.stringify(json.errors)}`);
      error.source = json;
      throw error;
    }
    return json;
  };
}

module.exports = { createFetchFn };
