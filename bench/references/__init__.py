"""The two references every run measures next to the app, doing getPosts' cache-hit work
without GraphQL: a bare Django view (the framework floor) and a minimal FastAPI app
(the peer a user would pick instead)."""
