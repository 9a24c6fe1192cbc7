"""SQLAlchemy models, engine and sessions, repositories, and the unit of work."""
