"""A small example resource that shows the wiring end to end: model, table, CRUD handlers."""
