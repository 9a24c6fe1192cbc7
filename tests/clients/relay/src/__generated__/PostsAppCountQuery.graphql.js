/**
 * @generated SignedSource<<cb36412debc55e0a6f230e20fb327592>>
 * @relayHash b911afe606f4aba66bfbe1157279bc26
 * @lightSyntaxTransform
 */

/* eslint-disable */

'use strict';

// @relayRequestID 0728c76dcaf37b88001c3feaddd751fb592b852e14c52f2b547a52863ae43fe2

var node = (function(){
var v0 = [
  {
    "alias": null,
    "args": null,
    "concreteType": "User",
    "kind": "LinkedField",
    "name": "viewer",
    "plural": false,
    "selections": [
      {
        "alias": null,
        "args": null,
        "kind": "ScalarField",
        "name": "id",
        "storageKey": null
      },
      {
        "alias": null,
        "args": null,
        "concreteType": "PostConnection",
        "kind": "LinkedField",
        "name": "posts",
        "plural": false,
        "selections": [
          {
            "alias": null,
            "args": null,
            "kind": "ScalarField",
            "name": "totalCount",
            "storageKey": null
          }
        ],
        "storageKey": null
      }
    ],
    "storageKey": null
  }
];
return {
  "fragment": {
    "argumentDefinitions": [],
    "kind": "Fragment",
    "metadata": null,
    "name": "PostsAppCountQuery",
    "selections": (v0/*:: as any*/),
    "type": "Query",
    "abstractKey": null
  },
  "kind": "Request",
  "operation": {
    "argumentDefinitions": [],
    "kind": "Operation",
    "name": "PostsAppCountQuery",
    "selections": (v0/*:: as any*/)
  },
  "params": {
    "id": "0728c76dcaf37b88001c3feaddd751fb592b852e14c52f2b547a52863ae43fe2",
    "metadata": {},
    "name": "PostsAppCountQuery",
    "operationKind": "query",
    "text": null
  }
};
})();

node.hash = "515c6e6a336aa8cfaec37d6bf03374bd";

module.exports = node;
