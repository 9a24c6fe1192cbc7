/**
 * The documents of a small Relay app over posts-api, as a Relay app writes them.
 *
 * relay-compiler reads the graphql tags below (there is no Babel here, so they are
 * never run: the app requires the artifacts the compiler writes to __generated__).
 */
"use strict";

function graphql() {
  throw new Error("graphql tags are compiled by relay-compiler, not run");
}

// The caller's posts as a paginated list.
graphql`
  query PostsAppListQuery($count: Int!, $cursor: String) {
    viewer {
      id
      posts(first: $count, after: $cursor) @connection(key: "PostsApp_posts") {
        __id
        edges {
          cursor
          node {
            id
            text
          }
        }
      }
    }
  }
`;

// The count, as a header shows it. It is its own query: an operation may list posts
// once, and Relay's connection keeps its own copy of a totalCount selected beside
// its edges, which the payloads' viewer { posts { totalCount } } does not reach.
graphql`
  query PostsAppCountQuery {
    viewer {
      id
      posts {
        totalCount
      }
    }
  }
`;

// No updater: the payload inserts its edge and carries the new count.
graphql`
  mutation PostsAppAddPostMutation($text: String!, $connections: [ID!]!) {
    addPost(text: $text) {
      postEdge @prependEdge(connections: $connections) {
        cursor
        node {
          id
          text
        }
      }
      viewer {
        id
        posts {
          totalCount
        }
      }
    }
  }
`;

graphql`
  mutation PostsAppDeletePostMutation($postId: ID!, $connections: [ID!]!) {
    deletePost(postId: $postId) {
      postId @deleteEdge(connections: $connections)
      viewer {
        id
        posts {
          totalCount
        }
      }
    }
  }
`;
