"""Django-style settings and database bootstrap for Litestar on SQLAlchemy 2."""
